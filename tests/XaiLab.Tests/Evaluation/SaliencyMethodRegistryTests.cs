using XaiLab.Imaging;
using XaiLab.Saliency;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;
using XaiLab.Tests.Methods;
using static TorchSharp.torch;

namespace XaiLab.Tests.Evaluation;

[Trait("Category", "Unit")]
public class SaliencyMethodRegistryTests
{
    [Fact]
    public void TheFactoryKnowsEveryAblationPathReductionWithAndWithoutTheWindow()
    {
        foreach (var r in Enum.GetValues<AblationReduction>())
            foreach (var window in new[] { false, true })
            {
                var name = AblationPathMethod.MethodName(r, window);
                Assert.Contains(name, SaliencyMethods.Names);
                var m = Assert.IsType<AblationPathMethod>(SaliencyMethods.Create(name));
                Assert.Equal(r, m.Reduction);
                Assert.Equal(window, m.Window);
                Assert.Equal(name, m.Name);
                Assert.Equal(r == AblationReduction.ContrastiveAverage ? AblationScore.Straddling : AblationScore.Retaining, m.Options.Score);
            }
        Assert.Equal("ablation-path-clt", SaliencyMethods.Create("ablation-path").Name);
        Assert.Equal(8, SaliencyMethods.Names.Count(n => n.StartsWith("ablation-path-")));
    }

    [Fact]
    public void EveryLineMakesAMethodOfItsNameWhoseOptionsReadBack()
    {
        foreach (var e in SaliencyMethods.All)
        {
            var m = SaliencyMethods.Create(e.Name);
            Assert.Equal(e.Name, m.Name);
            Assert.IsType(e.MethodType, m);
            var o = SaliencyMethods.OptionsOf(m);
            Assert.NotNull(o);
            Assert.IsType(e.OptionsType, o);
            foreach (var a in e.Aliases) Assert.Equal(e.Name, SaliencyMethods.Create(a.ToUpperInvariant()).Name);
            // Every option reaches the description that identifies a run: changing any numeric option changes it.
            foreach (var p in SaliencyMethods.OptionProperties(e.OptionsType).Where(p => p.PropertyType == typeof(int) || p.PropertyType == typeof(double)))
            {
                // a value that stays valid: half of a positive one, else a small positive one
                var current = Convert.ToDouble(p.GetValue(o));
                double next = p.PropertyType == typeof(int) ? (current > 1 ? Math.Floor(current / 2) : current + 1) : (current > 0 ? current / 2 : current + 0.25);
                var changed = SaliencyMethods.WithOption(o!, p.Name, next.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Assert.NotEqual(SaliencyMethods.Describe(m), SaliencyMethods.Describe(e.Make(changed)));
                Assert.Equal(SaliencyMethods.Describe(m), SaliencyMethods.Describe(e.Make(o!))); // and the original is untouched
            }
        }
    }

    [Fact]
    public void OptionsAreSetFromTextByType()
    {
        var rise = (RiseOptions)SaliencyMethods.WithOption(new RiseOptions(), "keep-probability", "0.25");
        Assert.Equal(0.25, rise.KeepProbability);
        Assert.Equal(123L, ((RiseOptions)SaliencyMethods.WithOption(rise, "SEED", "123")).Seed);
        Assert.Equal(ExplainedOutput.Score, ((GradCamOptions)SaliencyMethods.WithOption(new GradCamOptions(), "output", "score")).Output);
        Assert.Equal("layer4", ((GradCamOptions)SaliencyMethods.WithOption(new GradCamOptions(), "layer", "layer4")).Layer);
        Assert.Null(((GradCamOptions)SaliencyMethods.WithOption(new GradCamOptions { Layer = "x" }, "layer", "null")).Layer);
        var p = (AblationPathOptions)SaliencyMethods.WithOption(new AblationPathOptions(), "baseline_sigma", "12.5");
        Assert.Equal(12.5, p.BaselineSigma);
        Assert.True(((AblationPathOptions)SaliencyMethods.WithOption(p, "PyramidLogSigma", "true")).PyramidLogSigma);
        Assert.Equal(new[] { 0.1, 0.3 }, ((ExtremalPerturbationOptions)SaliencyMethods.WithOption(new ExtremalPerturbationOptions(), "areas", "0.1;0.3")).Areas);
        var m = SaliencyMethods.Create("gradcam", new Dictionary<string, string> { ["layer"] = "conv2" });
        Assert.Equal("conv2", ((GradCam)m).Options.Layer);

        Assert.Contains("has no option 'nope'. Its options: Masks, Cells", Assert.Throws<ArgumentException>(() => SaliencyMethods.WithOption(new RiseOptions(), "nope", "1", "rise")).Message);
        Assert.Contains("expected a whole number; got '1.5'", Assert.Throws<ArgumentException>(() => SaliencyMethods.WithOption(new RiseOptions(), "masks", "1.5")).Message);
        Assert.Contains("expected a number; got 'NaN'", Assert.Throws<ArgumentException>(() => SaliencyMethods.WithOption(new RiseOptions(), "KeepProbability", "NaN")).Message);
        Assert.Contains("cannot be set from text", Assert.Throws<ArgumentException>(() => SaliencyMethods.WithOption(new AblationPathOptions(), "RandomBaseline", "x")).Message);
        var unknown = Assert.Throws<ArgumentException>(() => SaliencyMethods.Create("lime"));
        Assert.DoesNotContain("(Parameter", unknown.Message);
        Assert.Contains("ablation-path = ablation-path-clt", unknown.Message);
    }

    [Fact]
    public void TensorOptionsAreIdentifiedByTheirValues()
    {
        using var gen = new TorchSharp.torch.Generator(1, CPU);
        using var a = rand(new long[] { 3, 4, 4 }, generator: gen);
        using var b = a.clone();
        using var c = a + 1e-3;
        string D(Tensor t) => SaliencyMethods.Describe(new Rise(new RiseOptions { Baseline = t }));
        Assert.Equal(D(a), D(b));
        Assert.NotEqual(D(a), D(c));
        Assert.Contains("Baseline=tensor[3,4,4]:", D(a));
        Assert.Contains("SaturationSchedule=function", SaliencyMethods.Describe(new AblationPathMethod(options: new AblationPathOptions { SaturationSchedule = i => i })));
    }

    /// <summary>A method added by one class and one registry line (the README's recipe).</summary>
    public sealed record CornerOptions { public int Corner { get; init; } }

    public sealed class CornerMethod(CornerOptions? options = null) : ISaliencyMethod
    {
        public CornerOptions Options { get; } = options ?? new CornerOptions();
        public string Name => "corner-test";
        public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
        {
            var map = zeros(image.shape[1], image.shape[2]);
            map[Options.Corner == 0 ? 0 : -1, Options.Corner == 0 ? 0 : -1] = 1;
            return new SaliencyMap(map, Name, classIndex);
        }
    }

    [Fact]
    public void AMethodIsAddedWithOneRegistryLine()
    {
        if (!SaliencyMethods.Names.Contains("corner-test"))
            SaliencyMethods.Register(SaliencyMethods.Entry<CornerMethod, CornerOptions>("corner-test", "test method", o => new CornerMethod(o), m => m.Options));
        Assert.Throws<ArgumentException>(() =>
            SaliencyMethods.Register(SaliencyMethods.Entry<CornerMethod, CornerOptions>("corner-test", "again", o => new CornerMethod(o), m => m.Options)));
        var m = SaliencyMethods.Create("corner-test", new Dictionary<string, string> { ["corner"] = "1" });
        Assert.Equal("Corner=1", SaliencyMethods.Describe(m));
        // It runs in the pointing game at once: its point is the bottom-right pixel.
        var dir = Path.Combine(Path.GetTempPath(), "xailab-corner-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var model = TestModels.SmallConv(classes: 3, size: 24, seed: 9);
            var runner = new PointingGameRunner(new TinySceneDataset(2), model, new[] { m }, dir);
            runner.Run();
            Assert.All(PointingGameRunner.ReadResults(runner.ResultsPath).SelectMany(r => r.Trials).Where(t => t.Outcome != 0), t => Assert.Equal((23, 23), (t.X, t.Y)));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
