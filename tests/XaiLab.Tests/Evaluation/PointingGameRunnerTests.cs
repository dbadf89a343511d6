using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;
using XaiLab.Tests.Methods;
using static TorchSharp.torch;

namespace XaiLab.Tests.Evaluation;

/// <summary>A small in-memory dataset of 24×24 scenes with 1–3 boxes of 3 classes (seeded).</summary>
public sealed class TinySceneDataset(int count = 7, int size = 24) : ISceneDataset
{
    public string Name => "tiny-scenes";
    public IReadOnlyList<string> ClassNames { get; } = new[] { "c0", "c1", "c2" };
    public bool MultiLabel => true;
    public int Count => count;

    public Scene Get(int index)
    {
        if (index < 0 || index >= count) throw new ArgumentOutOfRangeException(nameof(index));
        var rng = new Random(index * 7919 + 1);
        using var gen = new Generator((ulong)index + 100, CPU);
        var image = rand(new long[] { 3, size, size }, generator: gen);
        var objects = new List<SceneObject>();
        int n = 1 + index % 3;
        for (int k = 0; k < n; k++)
        {
            int x0 = rng.Next(0, size - 6), y0 = rng.Next(0, size - 6);
            objects.Add(new SceneObject((index + k) % 3, new BoundingBox(x0, y0, x0 + rng.Next(2, 6), y0 + rng.Next(2, 6)), Difficult: index == 4 && k == 0));
        }
        return new Scene($"img{index:D3}", image, objects);
    }
}

public class PointingGameRunnerTests
{
    static Classifier Model() => TestModels.SmallConv(classes: 3, size: 24, seed: 9);

    static ISaliencyMethod[] Methods() => new ISaliencyMethod[]
    {
        new GradientMethod(), new CentreMethod(), new Rise(new RiseOptions { Masks = 24, Cells = 3, BatchSize = 10, Seed = 2 }),
    };

    static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "xailab-pg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    [Fact]
    public void InterruptedAndResumedRunGivesTheSameSummary()
    {
        var full = TempDir(); var resumed = TempDir();
        try
        {
            var data = new TinySceneDataset();
            using var model = Model();
            var reference = new PointingGameRunner(data, model, Methods(), full).Run();
            Assert.Equal(7 * 3, File.ReadAllLines(Path.Combine(full, PointingGameRunner.ResultsFile)).Length);

            // Cancel after 3 images (9 finished pairs), then once more mid-image, then finish.
            foreach (int stopAfter in new[] { 9, 13 })
            {
                using var cts = new CancellationTokenSource();
                var runner = new PointingGameRunner(data, model, Methods(), resumed);
                Assert.ThrowsAny<OperationCanceledException>(() => runner.Run(cts.Token, p => { if (!p.Resumed && p.Done >= stopAfter) cts.Cancel(); }));
                Assert.Equal(stopAfter, PointingGameRunner.ReadResults(runner.ResultsPath).Count);
            }
            int computed = 0;
            var summary = new PointingGameRunner(data, model, Methods(), resumed).Run(default, p => { if (!p.Resumed) computed++; });
            Assert.Equal(21 - 13, computed);
            var lines = PointingGameRunner.ReadResults(Path.Combine(resumed, PointingGameRunner.ResultsFile));
            Assert.Equal(21, lines.Count);
            Assert.Equal(21, lines.Select(l => (l.Image, l.Method)).Distinct().Count());
            Assert.Equal(File.ReadAllText(Path.Combine(full, "summary.csv")), File.ReadAllText(Path.Combine(resumed, "summary.csv")));
            Assert.Equal(File.ReadAllText(Path.Combine(full, "summary.json")), File.ReadAllText(Path.Combine(resumed, "summary.json")));

            // The summary agrees with a direct recomputation for the centre method.
            var score = new PointingGameScore(3); var diff = new PointingGameScore(3);
            for (int i = 0; i < data.Count; i++)
            {
                using var scene = data.Get(i);
                foreach (var c in scene.Classes)
                {
                    var o = PointingGame.AllObjectsDifficult(scene, c) ? PointingOutcome.Skip : PointingGame.Evaluate(scene, c, (11, 11));
                    score.Add(c, o);
                    if (PointingGame.InDifficultSubset(scene, c)) diff.Add(c, o);
                }
            }
            var row = summary.Rows.Single(r => r.Method == "centre" && r.Subset == "all");
            Assert.Equal(score.TorchRayAccuracy, row.TorchRayAccuracy, 12);
            Assert.Equal(score.PresentClassAccuracy, row.PresentClassAccuracy, 12);
            Assert.Equal(score.Trials, row.Trials);
            var drow = summary.Rows.Single(r => r.Method == "centre" && r.Subset == "difficult");
            Assert.Equal(diff.TorchRayAccuracy, drow.TorchRayAccuracy, 12);
            Assert.Equal(diff.Trials, drow.Trials);
            Assert.Contains("Masks=24", summary.Rows.Single(r => r.Method == "rise" && r.Subset == "all").Parameters);
        }
        finally { Directory.Delete(full, true); Directory.Delete(resumed, true); }
    }

    [Fact]
    public void ATruncatedLastLineIsRedoneAndACorruptMiddleLineIsAnError()
    {
        var reference = TempDir(); var dir = TempDir();
        try
        {
            var data = new TinySceneDataset(4);
            using var model = Model();
            new PointingGameRunner(data, model, Methods(), reference).Run();
            new PointingGameRunner(data, model, Methods(), dir).Run();
            var path = Path.Combine(dir, PointingGameRunner.ResultsFile);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^17]); // killed while writing the last line
            Assert.Equal(11, PointingGameRunner.ReadResults(path).Count);
            int computed = 0;
            new PointingGameRunner(data, model, Methods(), dir).Run(default, p => { if (!p.Resumed) computed++; });
            Assert.Equal(1, computed);
            Assert.Equal(12, File.ReadAllLines(path).Length);
            Assert.Equal(File.ReadAllText(Path.Combine(reference, "summary.csv")), File.ReadAllText(Path.Combine(dir, "summary.csv")));

            var lines = File.ReadAllLines(path);
            lines[3] = lines[3][..10];
            File.WriteAllLines(path, lines);
            var e = Assert.Throws<InvalidDataException>(() => PointingGameRunner.ReadResults(path));
            Assert.Contains("line 4", e.Message);
        }
        finally { Directory.Delete(reference, true); Directory.Delete(dir, true); }
    }

    [Fact]
    public void BadRunsAreClearErrors()
    {
        var dir = TempDir();
        try
        {
            var data = new TinySceneDataset(2);
            using var model = Model();
            Assert.Contains("limit must be positive", Assert.Throws<ArgumentException>(() =>
                new PointingGameRunner(data, model, Methods(), dir, new PointingGameRunOptions { Limit = 0 })).Message);
            using var wrong = TestModels.SmallConv(classes: 5, size: 24);
            Assert.Contains("has 5 classes but dataset 'tiny-scenes' has 3", Assert.Throws<ArgumentException>(() => new PointingGameRunner(data, wrong, Methods(), dir)).Message);
            new PointingGameRunner(data, model, Methods(), dir, new PointingGameRunOptions { Limit = 1 }).Run();
            var other = new ISaliencyMethod[] { new Rise(new RiseOptions { Masks = 25, Cells = 3 }) };
            Assert.Contains("other parameters", Assert.Throws<InvalidOperationException>(() => new PointingGameRunner(data, model, other, dir).Run()).Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
