using System.Text;
using System.Text.Json;
using TorchSharp;
using XaiLab.Cli;
using XaiLab.Imaging;
using XaiLab.Saliency.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Tests.AblationPaths;

[Trait("Category", "Unit")]
public class ReductionAndIoTests
{
    public ReductionAndIoTests() => Devices.EnsureNativeLoaded();

    [Fact]
    public void ClassTransitionChoosesTheLastFirstRankAfterAQuarterElseFallsBack()
    {
        // T = 6: times 1/7 … 6/7; ends at indices 0 and 7.
        var f = new[] { 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1 };
        var first = new[] { true, true, true, true, false, true, false, false }; // a late spurious first rank at index 5 counts
        var c = Reductions.ChooseTransition(f, first);
        Assert.Equal(new ClassTransitionChoice(4, 5 / 7.0, ClassTransitionCase.Transition), c);
        var early = new[] { true, true, false, false, false, false, false, false }; // only t = 1/7 < 25 %
        var fb = Reductions.ChooseTransition(new[] { 0.5, 0.3, 0.2, 0.45, 0.1, 0.1, 0.1, 0.1 }, early);
        Assert.Equal(ClassTransitionCase.FallbackArgmax, fb.Case);
        Assert.Equal(2, fb.Index); // interior argmax: F = 0.45 at t = 3/7
        var never = Enumerable.Repeat(false, 8).ToArray();
        var none = Reductions.ChooseTransition(f, never);
        Assert.Equal(ClassTransitionCase.FallbackArgmax, none.Case);
        Assert.Equal(1, none.Index); // F falls along the path: the argmax over t ≥ 25 % is t = 2/7, not the excluded t = 1/7
        // T = 3 (times ¼, ½, ¾): ¼ itself qualifies.
        Assert.Equal(0, Reductions.ChooseTransition(new[] { 1.0, 0.9, 0.5, 0.2, 0.0 }, new bool[5]).Index);
        Assert.Throws<ArgumentException>(() => Reductions.ChooseTransition(f, new bool[3]));
    }

    [Fact]
    public void InfluenceWeightingFollowsEquation235WithTheEnds()
    {
        // T = 2, one pixel a ablated at t1, another b at t2; F drops 1 → 0.9 → 0.2 → 0.
        var path = tensor(new double[] { 1, 0, 1, 1 }, new long[] { 2, 1, 2 });
        var f = new[] { 1.0, 0.9, 0.2, 0.0 };
        var s = Reductions.InfluenceWeighted(path, f).data<double>().ToArray();
        // a: Δφ = 1 at step 0 (ΔF = 0.1) → 2·0.1; b: Δφ = 1 at step 1 (ΔF = 0.7) → 2·0.7.
        Assert.Equal(0.2, s[0], 12);
        Assert.Equal(1.4, s[1], 12);
        Assert.Throws<ArgumentException>(() => Reductions.InfluenceWeighted(path, new[] { 1.0, 0.0 }));
    }

    [Fact]
    public void AverageContrastiveAndWindowReductions()
    {
        var up = tensor(new double[] { 0, 1, 0, 1 }, new long[] { 2, 1, 2 });
        var down = tensor(new double[] { 1, 0, 1, 1 }, new long[] { 2, 1, 2 });
        Assert.Equal(new double[] { 1, 0 }, Reductions.Average(up).data<double>().ToArray());
        Assert.Equal(new double[] { 1, -0.5 }, Reductions.ContrastiveAverage(up, down).data<double>().ToArray());
        var win = Reductions.Window(ones(3, 5, dtype: ScalarType.Float64)).data<double>().ToArray();
        Assert.Equal(Math.Sqrt(Math.Sin(Math.PI * 0.5) * Math.Sin(Math.PI * 0.5)), win[1 * 5 + 2], 12);
        Assert.Equal(Math.Sqrt(Math.Sin(Math.PI / 6) * Math.Sin(Math.PI / 10)), win[0], 12);
        Assert.Throws<ArgumentException>(() => Reductions.Window(ones(2, 2, 2)));
    }

    [Fact]
    public void NpyHeaderIsValidVersion1AndRoundTrips()
    {
        var dir = Directory.CreateTempSubdirectory("xailab-npy").FullName;
        var path = Path.Combine(dir, "a.npy");
        var data = Enumerable.Range(0, 2 * 3 * 4).Select(i => i * 0.5f - 3).ToArray();
        Npy.Write(path, data, new long[] { 2, 3, 4 });
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }, bytes[..8]);
        int headerLen = bytes[8] | bytes[9] << 8;
        Assert.Equal(0, (10 + headerLen) % 64);                 // data aligned to 64 bytes
        var header = Encoding.ASCII.GetString(bytes, 10, headerLen);
        Assert.EndsWith("\n", header);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", header);
        Assert.Equal(10 + headerLen + data.Length * 4, bytes.Length);
        Assert.Equal(-3f, BitConverter.ToSingle(bytes, 10 + headerLen));
        var (back, shape) = Npy.Read(path);
        Assert.Equal(data, back);
        Assert.Equal(new long[] { 2, 3, 4 }, shape);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }", Encoding.ASCII.GetString(Npy.Header(new long[] { 7 }), 10, 60));
        File.WriteAllBytes(path, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 });
        Assert.Throws<InvalidDataException>(() => Npy.Read(path));
        Assert.Throws<ArgumentException>(() => Npy.Write(path, data, new long[] { 5, 5 }));
    }

    [Fact]
    public void BenchReportsTheSplitForTheLabelledStandIn()
    {
        var w = new StringWriter();
        BenchCommand.Run(null, CPU, new AblationPathOptions { MaskSize = 16, Steps = 4, MinIterations = 2, MaxIterations = 2 }, 2, w);
        var text = w.ToString();
        Assert.Contains("RANDOM-INIT STAND-IN", text);
        Assert.Contains("iterations: 2 (stop: Unsaturated)", text);
        Assert.Matches(@"per iteration: [0-9.]+ ms = forward\+backward [0-9.]+ ms \([0-9.]+%\) \+ repair [0-9.]+ ms \([0-9.]+%\) \+ rest", text);
        Assert.Contains("repair alone (DescentFlattening, [4,16,16])", text);
        Assert.Throws<UserError>(() => StandInCnn.Create("vgg"));
    }

    [Fact]
    public void ExplainWritesHeatmapsResultJsonAndPathNpy()
    {
        const int C = 3, H = 24, W = 24;
        using var model = RegionNet.Classifier(C, H, W, 4, 10, 14, 20);
        using var image = RegionNet.Image(C, H, W, 4, 10, 14, 20);
        var dir = Directory.CreateTempSubdirectory("xailab-explain").FullName;
        var o = new AblationPathOptions { Steps = 8, MaskSize = 12, RegularisationSigma = 2, MaxIterations = 10, Score = ExplainCommand.ParseScore("straddle") };
        using var output = ExplainCommand.Run(model, image, new ExplainSettings(o), dir);
        var (data, shape) = Npy.Read(output.PathNpy);
        Assert.Equal(new long[] { 8, 2, 12, 12 }, shape);
        Assert.Equal(output.Result.Path.data<float>().ToArray(), data);
        Assert.Equal(8, output.Heatmaps.Count); // avg, clt, influence, cav × (saliency, overlay)
        var explorer = File.ReadAllText(output.Explorer);                     // the interactive explorer page
        Assert.Contains("type=\"range\"", explorer);
        Assert.Contains("φ↓ (dissipating)", explorer);
        foreach (var png in output.Heatmaps)
        {
            using var t = ImageIO.Load(png);
            Assert.Equal(new long[] { 3, H, W }, t.shape);
        }
        using var json = JsonDocument.Parse(File.ReadAllText(output.ResultJson));
        var root = json.RootElement;
        Assert.Equal("Straddling", root.GetProperty("scoreKind").GetString());
        Assert.Equal(output.Result.Iterations, root.GetProperty("iterations").GetInt32());
        Assert.Equal(output.Result.Score, root.GetProperty("score").GetDouble(), 12);
        Assert.Equal(10, root.GetProperty("curve").GetArrayLength());
        Assert.True(root.TryGetProperty("baselineSigma", out var sigma) && sigma.GetDouble() >= 4);
        Assert.Equal(JsonValueKind.Array, root.GetProperty("warnings").ValueKind);
        Assert.Throws<UserError>(() => ExplainCommand.ParseScore("maximise"));

        using var single = ExplainCommand.Run(model, image, new ExplainSettings(o with { Score = AblationScore.Retaining }, ClassIndex: 0), Path.Combine(dir, "single"));
        Assert.Equal(new long[] { 8, 12, 12 }, Npy.Read(single.PathNpy).Shape);
        Assert.Equal(6, single.Heatmaps.Count);
    }
}
