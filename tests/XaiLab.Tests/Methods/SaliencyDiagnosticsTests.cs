using XaiLab.Saliency;
using XaiLab.Saliency.AblationPaths;

namespace XaiLab.Tests.Methods;

/// <summary>The typed view of <see cref="SaliencyDiagnostics"/> agrees with its key→value view; keys are snake_case.</summary>
public class SaliencyDiagnosticsTests
{
    [Fact]
    public void TypedPropertiesReadTheSnakeCaseKeys()
    {
        SaliencyDiagnostics d = new Dictionary<string, object>
        {
            ["score"] = 0.25, ["iterations"] = 12, ["stop_reason"] = StopReason.Saturated.ToString(),
            ["warnings"] = new[] { "w1", "w2" }, ["seed"] = 7L, ["masks"] = 4000L, ["layer"] = "layer4", ["extra"] = "x",
        };
        Assert.Equal(0.25, d.Score);
        Assert.Equal(12, d.Iterations);
        Assert.Equal("Saturated", d.StopReason);
        Assert.Equal(new[] { "w1", "w2" }, d.Warnings);
        Assert.Equal(7L, d.Seed);
        Assert.Equal(4000, d.Masks);             // long → int: numbers convert between numeric types
        Assert.Equal(12.0, d.Get<double>(SaliencyDiagnostics.Key.Iterations));
        Assert.Equal("layer4", d.Layer);
        Assert.Null(d.CompletenessError);        // absent figure
        Assert.Empty(new SaliencyDiagnostics(new Dictionary<string, object>()).Warnings);
        Assert.Equal(8, d.Count);                // the key→value view keeps every figure, extras included
        Assert.Equal("x", d["extra"]);
        var e = Assert.Throws<InvalidCastException>(() => d.Get<double>("layer"));
        Assert.Contains("'layer'", e.Message);
        Assert.Contains("no diagnostic 'stopReason'", Assert.Throws<KeyNotFoundException>(() => d["stopReason"]).Message);
        foreach (var key in typeof(SaliencyDiagnostics.Key).GetFields().Select(f => (string)f.GetValue(null)!))
            Assert.Matches("^[a-z]+(_[a-z]+)*$", key);
    }
}
