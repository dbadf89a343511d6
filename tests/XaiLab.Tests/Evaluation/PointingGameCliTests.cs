using XaiLab.Cli;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Tests.Methods;

namespace XaiLab.Tests.Evaluation;

[Collection("console")]
public class PointingGameCliTests
{
    static PointingGameCliTests()
    {
        DatasetRegistry.Register(new DatasetEntry("tiny-scenes-test", "7 random 24×24 scenes (tests)", () => true, "none", _ => new TinySceneDataset()));
        DatasetRegistry.Register(new DatasetEntry("no-boxes-test", "scenes without annotations (tests)", () => true, "none", _ => new NoBoxes()));
        ModelRegistry.Register(new ModelEntry("tiny-model-test", "multi-label", "tiny-scenes-test", (24, 24), new[] { "c0", "c1", "c2" }, null,
            () => true, "none", () => TestModels.SmallConv(classes: 3, size: 24, seed: 9)));
    }

    sealed class NoBoxes : ISceneDataset
    {
        public string Name => "no-boxes-test";
        public IReadOnlyList<string> ClassNames => new[] { "c0", "c1", "c2" };
        public bool MultiLabel => true;
        public int Count => 1;
        public Scene Get(int index) => new("x", TorchSharp.torch.zeros(3, 24, 24), Array.Empty<SceneObject>());
    }

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (Console.Out, Console.Error);
        var so = new StringWriter(); var se = new StringWriter();
        Console.SetOut(so); Console.SetError(se);
        try { return (CliApp.Run(args), so.ToString(), se.ToString()); }
        finally { Console.SetOut(o); Console.SetError(e); }
    }

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
    [InlineData("tiny-scenes-test", "centre", "0", "--limit must be a positive number")]
    [InlineData("no-boxes-test", "centre", "1", "has no object annotations (boxes)")]
    public void BadInputIsOneLine(string dataset, string methods, string limit, string message)
    {
        var (code, _, err) = Run("pointing-game", "--dataset", dataset, "--model", "tiny-model-test", "--methods", methods, "--limit", limit, "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
