using Microsoft.DotNet.Interactive.Formatting;
using TorchSharp;
using XaiLab.Imaging.Data;
using XaiLab.Interactive;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Evaluation.Sweeps;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Tests.Evaluation;

[Collection("formatters")]
[Trait("Category", "Unit")]
public class SweepTests
{
    static string Temp() => Path.Combine(Path.GetTempPath(), $"xailab-sweep-{Guid.NewGuid():N}");

    /// <summary>Paths of a few iterations on small masks: fast enough for unit tests, same code path as real sweeps.</summary>
    static readonly AblationPathOptions Quick = new() { Steps = 3, MaskSize = 16, MinIterations = 1, MaxIterations = 2, BaselineSigma = 8 };

    [Fact]
    public void GridIsTheCartesianProductOfWithExpressionsInAxisOrder()
    {
        var grid = new SweepGrid<AblationPathOptions>(new AblationPathOptions())
            .Vary("σ", new[] { 4.0, 6 }, (o, s) => o with { RegularisationSigma = s })
            .Vary("score", new[] { AblationScore.Retaining, AblationScore.Straddling }, (o, s) => o with { Score = s });
        var pts = grid.Points;
        Assert.Equal(new[] { "σ", "score" }, grid.Axes);
        Assert.Equal(4, pts.Count);
        Assert.Equal(new[] { "σ=4, score=Retaining", "σ=4, score=Straddling", "σ=6, score=Retaining", "σ=6, score=Straddling" }, pts.Select(p => p.Label));
        Assert.Equal(6, pts[3].Config.RegularisationSigma);
        Assert.Equal(AblationScore.Straddling, pts[3].Config.Score);
        Assert.Equal(new AblationPathOptions().StepSize, pts[3].Config.StepSize); // everything else is the baseline
        Assert.Equal(6.0, pts[2].Values[0]);
        Assert.Single(new SweepGrid<int>(1).Points);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => grid.Vary("σ", new[] { 1.0 }, (o, _) => o)).Message);
        Assert.Contains("no values", Assert.Throws<ArgumentException>(() => grid.Vary("x", Array.Empty<int>(), (o, _) => o)).Message);
        Assert.Contains("label", Assert.Throws<ArgumentException>(() => grid.Vary("x", new[] { 0.1, 0.2 }, (o, _) => o, _ => "same")).Message);
    }

    [Fact]
    public void KeysDependOnValuesNotOnHowTheyWereMade()
    {
        var a = new AblationSweepConfig { Options = new AblationPathOptions { RegularisationSigma = 4 } };
        var b = new AblationSweepConfig() with { Options = new AblationPathOptions() with { RegularisationSigma = 4.0 } };
        var c = a with { Options = a.Options with { RegularisationSigma = 4.000001 } };
        Assert.Equal(SweepKey.Describe(a), SweepKey.Describe(b));
        Assert.Equal(SweepKey.Hash(a), SweepKey.Hash(b));
        Assert.NotEqual(SweepKey.Hash(a), SweepKey.Hash(c));
        Assert.NotEqual(SweepKey.Hash(a), SweepKey.Hash(a with { Reductions = new[] { "clt", "avg" } }));
        Assert.Contains("RegularisationSigma=4;", SweepKey.Describe(a));
        using var t1 = ones(2, 3); using var t2 = ones(2, 3); using var t3 = zeros(2, 3);
        Assert.Equal(SweepKey.Describe(new AblationPathOptions { Baseline = t1 }), SweepKey.Describe(new AblationPathOptions { Baseline = t2 }));
        Assert.NotEqual(SweepKey.Describe(new AblationPathOptions { Baseline = t1 }), SweepKey.Describe(new AblationPathOptions { Baseline = t3 }));
        Assert.Matches("^s-0.5_x-y-[0-9a-f]{12}$", SweepKey.FolderName("s=0.5, x=y", a));
    }

    [Fact]
    public void AblationSweepCachesPerConfigurationAndComputesOnlyNewWork()
    {
        var root = Temp();
        try
        {
            AblationSweepConfig Base(int scenes) => new() { Dataset = "fashion-scenes", Model = "fashion-cnn", Scenes = scenes, Options = Quick, Reductions = new[] { "clt", "avg" } };
            SweepGrid<AblationSweepConfig> Grid(int scenes, params double[] sigmas) =>
                new SweepGrid<AblationSweepConfig>(Base(scenes)).Vary("σ", sigmas, (c, s) => c with { Options = c.Options with { RegularisationSigma = s } });

            var first = Sweep.AblationPaths(Grid(2, 2, 6), root);
            Assert.Equal(4, first.Computed);                        // 2 points × 2 scenes
            Assert.True(File.Exists(Path.Combine(root, "sweep.csv")));
            var again = Sweep.AblationPaths(Grid(2, 2, 6), root);
            Assert.Equal(0, again.Computed);                        // everything from the cache …
            Assert.Equal(first.Rows.Select(r => r.Metrics["median score"]), again.Rows.Select(r => r.Metrics["median score"])); // … with the same figures
            var added = Sweep.AblationPaths(Grid(2, 2, 6, 10), root);
            Assert.Equal(new[] { 0, 0, 2 }, added.Rows.Select(r => r.Computed)); // only the new value is computed
            var relabelled = Sweep.AblationPaths(new SweepGrid<AblationSweepConfig>(Base(2)).Vary("sigma", new[] { 6.0 }, (c, v) => c with { Options = c.Options with { RegularisationSigma = v } }), root);
            Assert.Equal(0, relabelled.Computed);                   // another axis label, the same configuration: cached
            var more = Sweep.AblationPaths(Grid(3, 2, 6), root);
            Assert.Equal(new[] { 1, 1 }, more.Rows.Select(r => r.Computed));      // one more scene per point

            // The stored figures are those of a direct optimisation of the model's top class.
            var trials = File.ReadAllLines(Path.Combine(first.Rows[1].Folder, "trials.jsonl"));
            Assert.Equal(3, trials.Length);
            using var model = ModelRegistry.Load("fashion-cnn");
            using var scene = DatasetRegistry.Open("fashion-scenes").Get(0);
            int top = model.Predict(scene.Image).Class;
            using var direct = AblationPath.Optimise(model, scene.Image, top, Quick with { RegularisationSigma = 6 });
            var line = System.Text.Json.JsonSerializer.Deserialize<AblationSweepImage>(trials[0])!;
            Assert.Equal(top, line.Trials[0].Class);
            Assert.Equal(direct.Score, line.Trials[0].Score, 10);
            Assert.Equal(direct.Iterations, line.Trials[0].Iterations);
            Assert.Equal(direct.StopReason.ToString(), line.Trials[0].Stop);

            // A line cut off by a kill is dropped and that scene recomputed.
            var file = Path.Combine(first.Rows[0].Folder, "trials.jsonl");
            File.AppendAllText(file, "{\"image\":3,\"id\":\"x\",\"tri");
            var resumed = Sweep.AblationPaths(Grid(4, 2), root);
            Assert.Equal(1, resumed.Rows[0].Computed);
            Assert.Equal(4, File.ReadAllLines(file).Length);
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, true); }
    }

    [Fact]
    public void AggregatesCountSaturatedAdversarialAndPointingOutcomes()
    {
        AblationSweepTrial T(string stop, bool adv, bool last, int clt, double score) =>
            new(0, score, score, 0.8, 10, stop, adv, last ? 0.933 : 0.5, last, false, new Dictionary<string, int> { ["clt"] = clt }, 1.0);
        var trials = new[]
        {
            T("Saturated", false, false, 1, 0.2), T("Saturated", true, false, -1, 0.4), T("Unsaturated", false, true, 1, 0.6), T("Saturated", false, true, 0, 0.8),
        };
        var m = Sweep.Aggregate(trials, new[] { "clt" });
        Assert.Equal(50, m["saturated & not adversarial %"]);
        Assert.Equal(75, m["saturated %"]);
        Assert.Equal(25, m["adversarial %"]);
        Assert.Equal(50, m["transition at last mask %"]);
        Assert.Equal(0.5, m["median score"], 12);
        Assert.Equal(100.0 * 2 / 3, m["pointing clt %"], 12); // the skipped trial (0) does not count
        Assert.Equal(4, m["trials"]);
    }

    [Fact]
    public void PointingSweepRunsTheResumableRunnerPerPointAndAgreesWithIt()
    {
        var root = Temp();
        try
        {
            var grid = new SweepGrid<PointingSweepConfig>(new PointingSweepConfig { Dataset = "fashion-scenes-multi", Model = "fashion-cnn-multi", Limit = 4 })
                .Vary("method", new[] { "centre", "gradient" }, (c, m) => c with { Method = m, Options = null });
            var table = Sweep.PointingGame(grid, root);
            Assert.Equal(8, table.Computed);
            Assert.Equal(0, Sweep.PointingGame(grid, root).Computed);
            using var model = ModelRegistry.Load("fashion-cnn-multi");
            var direct = new PointingGameRunner(DatasetRegistry.Open("fashion-scenes-multi"), model, new[] { SaliencyMethods.Create("gradient") }, Path.Combine(root, "direct"),
                new PointingGameRunOptions { Limit = 4 }).Run();
            var row = table.Rows.Single(r => r.Setting("method") == "gradient");
            Assert.Equal(100 * direct.Rows.First(r => r.Subset == "all").TorchRayAccuracy, row.Metrics["pointing all %"], 9);
            Assert.Equal(100 * direct.Rows.First(r => r.Subset == "difficult").TorchRayAccuracy, row.Metrics["pointing difficult %"], 9);
            Assert.IsType<AblationPathMethod>(Sweep.CreateMethod("ablation-path-avg-window", new AblationPathOptions()));
            Assert.Contains("AblationPathOptions", Assert.Throws<ArgumentException>(() => Sweep.CreateMethod("ablation-path-clt", new RiseOptions())).Message);
            Assert.Contains("Unknown reduction", Assert.Throws<ArgumentException>(() => Sweep.ParseReduction("mean")).Message);
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, true); }
    }

    [Fact]
    public void ViewShowsASortableTableAndTheChartOfTheGrid()
    {
        Lab.Start();
        var rows = new[] { 2.0, 6, 10 }.Select(s => new SweepRow(new[] { new KeyValuePair<string, string>("σ", s.ToString()) }, new object?[] { s },
            new Dictionary<string, double> { ["pointing clt %"] = 50 + s, ["trials"] = 9 }, new Dictionary<string, IReadOnlyList<double>> { ["score"] = new[] { 0.1, 0.2 * s } }, "f", 0)).ToArray();
        var table = new SweepTable("σ study", new[] { "σ" }, new[] { "pointing clt %", "trials" }, rows, "/tmp/x");
        var html = table.ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("<table id=\"xailab-sweep-", html);
        Assert.Contains("data-col=\"1\"", html);              // headers sort on click
        Assert.Contains(">pointing clt % ⇅</th>", html);
        Assert.Contains("data-v=\"56\"", html);
        Assert.Contains("all from the cache", html);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(html, "getElementById\\('xailab-plot-").Count); // score vs σ, and violins
        Assert.Contains("\"type\":\"scatter\"", html);
        Assert.Contains("\"type\":\"violin\"", html);
        var bars = PlotlyEmbedding.ChartHtml(SweepView.Bars(table, "trials"));
        Assert.Contains("\"type\":\"bar\"", bars);
        Assert.Contains("no metric", Assert.Throws<ArgumentException>(() => SweepView.Bars(table, "accuracy")).Message);
        Assert.Contains("σ  pointing clt %  trials", table.ToText());
        Assert.StartsWith("σ,pointing clt %,trials,folder\n2,52,9,f\n", table.ToCsv());
    }
}
