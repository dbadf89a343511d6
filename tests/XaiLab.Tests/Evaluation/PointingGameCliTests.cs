using XaiLab.Cli;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Tests.Methods;

namespace XaiLab.Tests.Evaluation;

[Trait("Category", "Unit")]
public class PointingGameCliTests
{
    static PointingGameCliTests() => CliFixtures.Register();

    internal sealed class NoBoxes : ISceneDataset
    {
        public string Name => "no-boxes-test";
        public IReadOnlyList<string> ClassNames => new[] { "c0", "c1", "c2" };
        public bool MultiLabel => true;
        public int Count => 1;
        public Scene Get(int index) => new("x", TorchSharp.torch.zeros(3, 24, 24), Array.Empty<SceneObject>());
    }

    static (int Code, string Out, string Err) Run(params string[] args) => CliFixtures.Run(args);

    [Fact]
    public void RunsAndResumesFromTheCommandLine()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xailab-pgcli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var args = new[] { "pointing-game", "--dataset", "tiny-scenes-test", "--model", "tiny-model-test", "--methods", "centre,gradient", "--limit", "3", "--out", dir };
            var (code, output, err) = Run(args);
            Assert.True(code == 0, err);
            Assert.Contains("centre", output);
            Assert.Contains("TorchRay %", output);
            Assert.True(File.Exists(Path.Combine(dir, "summary.csv")));
            Assert.Equal(6, File.ReadAllLines(Path.Combine(dir, "results.jsonl")).Length);
            (code, output, _) = Run(args);
            Assert.Equal(0, code);
            Assert.Contains("(already done)", output);
            Assert.Equal(6, File.ReadAllLines(Path.Combine(dir, "results.jsonl")).Length);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("tiny-scenes-test", "lime", "1", "Unknown saliency method 'lime'. Known methods: gradient")]
    [InlineData("nope-dataset", "centre", "1", "Unknown dataset 'nope-dataset'. Known datasets:")]
    [InlineData("tiny-scenes-test", "centre", "0", "--limit '0': expected a positive number of images; see `xailab pointing-game --help`.")]
    [InlineData("tiny-scenes-test", "centre", "abc", "--limit 'abc': expected a positive number of images")]
    [InlineData("tiny-scenes-test", "centre,lime", "1", "Known methods: gradient")]
    [InlineData("no-boxes-test", "centre", "1", "has no object annotations (boxes)")]
    public void BadInputIsOneLine(string dataset, string methods, string limit, string message)
    {
        var (code, _, err) = Run("pointing-game", "--dataset", dataset, "--model", "tiny-model-test", "--methods", methods, "--limit", limit, "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.DoesNotContain("(Parameter", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("--shard", "3/3", "--shard '3/3': expected K/N with N ≥ 1 and 0 ≤ K < N")]
    [InlineData("--method-option", "layer", "--method-option 'layer': expected [METHOD:]NAME=VALUE")]
    [InlineData("--method-option", "layer=layer4", "--method-option 'layer=layer4': no chosen method has an option 'layer' (centre: none; gradient: ")]
    [InlineData("--method-option", "rise:masks=10", "--method-option 'rise:masks=10': method 'rise' is not among the chosen ones (centre, gradient)")]
    [InlineData("--method-option", "reduction=l2", "gradient option Reduction: expected one of ")]
    [InlineData("--subset", "hard", "--subset 'hard': expected all or difficult.")]
    public void MalformedOptionValuesAreOneLine(string option, string value, string message)
    {
        var (code, _, err) = Run("pointing-game", "--dataset", "tiny-scenes-test", "--model", "tiny-model-test", "--methods", "centre,gradient", "--limit", "1",
            option, value, "--out", Path.Combine(Path.GetTempPath(), "xailab-never-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void EveryFactoryMethodIsAcceptedAndTheHeadlineMethodRuns()
    {
        // Every name and alias the registry knows parses on the pointing-game command line (method creation only: the costly
        // ones would take minutes at their published settings).
        var all = XaiLab.Saliency.Methods.SaliencyMethods.All;
        var ms = CliOptions.Methods(all.Select(e => e.Name).ToArray(), Array.Empty<CliOptions.MethodSetting>());
        Assert.Equal(all.Select(e => e.Name), ms.Select(m => m.Name));
        Assert.Equal(all.Count, CliOptions.Methods(all.Select(e => e.Aliases.FirstOrDefault() ?? e.Name).ToArray(), Array.Empty<CliOptions.MethodSetting>()).Count);
        var dir = Path.Combine(Path.GetTempPath(), "xailab-pgcli-" + Guid.NewGuid().ToString("N"));
        try
        {
            // `pointing-game --methods ablation-path-clt` (failed before); options reach it through --method-option.
            var (code, output, err) = Run("pointing-game", "--dataset", "tiny-scenes-test", "--model", "tiny-model-test", "--methods", "ablation-path-clt,ablation-path-avg-window,grad-cam",
                "--method-option", "ablation-path-clt:mask-size=6", "--method-option", "steps=3", "--method-option", "min-iterations=2", "--method-option", "max-iterations=2",
                "--method-option", "mask-size=4", "--method-option", "layer=conv1", "--limit", "1", "--out", dir);
            Assert.True(code == 0, err);
            Assert.Contains("ablation-path-avg-window", output);
            var run = File.ReadAllText(Path.Combine(dir, "run.json"));
            Assert.Contains("Steps=3 MaskSize=6 ", run);   // the qualified setting wins for its method …
            Assert.Contains("Steps=3 MaskSize=4 ", run);   // … the unqualified one reaches the other
            Assert.Contains("Layer=conv1", run);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void ShardedCommandLineRunsMergeToTheUnshardedSummary()
    {
        var root = Path.Combine(Path.GetTempPath(), "xailab-pgshard-" + Guid.NewGuid().ToString("N"));
        try
        {
            string[] Args(string outDir, params string[] more) =>
                new[] { "pointing-game", "--dataset", "tiny-scenes-test", "--model", "tiny-model-test", "--methods", "centre,gradient", "--out", outDir }.Concat(more).ToArray();
            Assert.Equal(0, Run(Args(Path.Combine(root, "whole"))).Code);
            for (int k = 0; k < 3; k++)
            {
                var (code, output, err) = Run(Args(Path.Combine(root, $"s{k}"), "--shard", $"{k}/3"));
                Assert.True(code == 0, err);
                Assert.Contains($"shard {k}/3:", output);
            }
            var (mc, mo, me) = Run("pointing-game", "merge", "--out", Path.Combine(root, "merged"), Path.Combine(root, "s2"), Path.Combine(root, "s0"), Path.Combine(root, "s1"));
            Assert.True(mc == 0, me);
            Assert.Contains("TorchRay %", mo);
            foreach (var f in new[] { "summary.json", "summary.csv" })
                Assert.Equal(File.ReadAllBytes(Path.Combine(root, "whole", f)), File.ReadAllBytes(Path.Combine(root, "merged", f)));
            var (bc, _, be) = Run("pointing-game", "merge", "--out", Path.Combine(root, "m2"), Path.Combine(root, "s0"), Path.Combine(root, "s1"));
            Assert.Equal(2, bc);
            Assert.Contains("shard 2/3 missing", be);
            Assert.Single(be.Trim().Split('\n'));
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, true); }
    }
}

/// <summary>Registry entries and console capture shared by the command-line tests.</summary>
public static class CliFixtures
{
    static readonly Lazy<bool> Registered = new(RegisterOnce, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers <c>tiny-scenes-test</c> (7 scenes), <c>no-boxes-test</c> and <c>tiny-model-test</c> (3 classes, 24×24), once per process.</summary>
    public static void Register() => _ = Registered.Value;

    static bool RegisterOnce()
    {
        DatasetRegistry.Register(new DatasetEntry("tiny-scenes-test", "7 random 24×24 scenes (tests)", () => true, "none", _ => new TinySceneDataset(name: "tiny-scenes-test")));
        DatasetRegistry.Register(new DatasetEntry("no-boxes-test", "scenes without annotations (tests)", () => true, "none", _ => new PointingGameCliTests.NoBoxes()));
        ModelRegistry.Register(new ModelEntry("tiny-model-test", "multi-label", "tiny-scenes-test", (24, 24), new[] { "c0", "c1", "c2" }, null,
            () => true, "none", () => TestModels.SmallConv(classes: 3, size: 24, seed: 9)));
        return true;
    }

    /// <summary>Runs the CLI in this process with <paramref name="args"/>, capturing the stdout and stderr of this call only (<see cref="ConsoleCapture"/>).</summary>
    public static (int Code, string Out, string Err) Run(params string[] args) => ConsoleCapture.Run(() => CliApp.Run(args));
}
