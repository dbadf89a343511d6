using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;
using XaiLab.Tests.Methods;
using static TorchSharp.torch;

namespace XaiLab.Tests.Evaluation;

/// <summary>A small in-memory dataset of 24×24 scenes with 1–3 boxes of 3 classes (seeded); name and id prefix can be changed to make "another dataset".</summary>
public sealed class TinySceneDataset(int count = 7, int size = 24, string name = "tiny-scenes", string idPrefix = "img") : ISceneDataset
{
    public string Name => name;
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
        return new Scene($"{idPrefix}{index:D3}", image, objects);
    }
}

[Trait("Category", "Unit")]
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
                Assert.ThrowsAny<OperationCanceledException>(() => runner.Run(new SynchronousProgress<PointingGameProgress>(p => { if (!p.Resumed && p.Done >= stopAfter) cts.Cancel(); }), cancellationToken: cts.Token));
                Assert.Equal(stopAfter, PointingGameRunner.ReadResults(runner.ResultsPath).Count);
            }
            int computed = 0;
            var summary = new PointingGameRunner(data, model, Methods(), resumed).Run(new SynchronousProgress<PointingGameProgress>(p => { if (!p.Resumed) computed++; }));
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

    static AblationPathMethod SmallPath() => new(AblationReduction.Average,
        new AblationPathOptions { MaskSize = 6, Steps = 4, MinIterations = 3, MaxIterations = 6, RegularisationSigma = 2 });

    [Fact]
    public void BatchedAblationPathsAndMultiClassRiseGiveTheMapsOfOneAtATimeRuns()
    {
        var data = new TinySceneDataset();
        using var model = Model();
        var path = SmallPath();
        var rise = new Rise(new RiseOptions { Masks = 24, Cells = 3, BatchSize = 10, Seed = 2 });
        var pairs = new List<(Tensor Image, int Class)>();
        var scenes = Enumerable.Range(0, 4).Select(data.Get).ToArray();
        try
        {
            foreach (var s in scenes) foreach (var c in s.Classes) pairs.Add((s.Image, c));
            Assert.True(pairs.Count >= 6);
            var batched = path.ExplainBatch(model, pairs);
            for (int k = 0; k < pairs.Count; k++)
            {
                using var one = path.Explain(model, pairs[k].Image, pairs[k].Class);
                Assert.Equal(one.ClassIndex, batched[k].ClassIndex);
                Assert.True(allclose(one.Map, batched[k].Map, rtol: 1e-4, atol: 1e-5), $"pair {k}: batched map differs by {(one.Map - batched[k].Map).abs().max().item<float>()}");
                Assert.Equal(one.Diagnostics!["iterations"], batched[k].Diagnostics!["iterations"]);
                batched[k].Dispose();
            }
            // RISE: all classes of an image from one set of masks equal the per-class maps.
            var multi = scenes[2].Classes.ToArray();
            var many = rise.ExplainMany(model, scenes[2].Image, multi);
            for (int k = 0; k < multi.Length; k++)
            {
                using var one = rise.Explain(model, scenes[2].Image, multi[k]);
                Assert.True(allclose(one.Map, many[k].Map, rtol: 1e-5, atol: 1e-6));
                many[k].Dispose();
            }
        }
        finally { foreach (var s in scenes) s.Dispose(); }
    }

    [Fact]
    public void RunnerBatchesImagesForAblationPathsAndGivesTheSameSummaryAsOneImageAtATime()
    {
        var one = TempDir(); var three = TempDir();
        try
        {
            var data = new TinySceneDataset();
            using var model = Model();
            ISaliencyMethod[] methods = { SmallPath(), new CentreMethod(), new Rise(new RiseOptions { Masks = 24, Cells = 3, BatchSize = 10, Seed = 2 }) };
            var a = new PointingGameRunner(data, model, methods, one, new PointingGameRunOptions { BatchImages = 1 }).Run();
            var progress = new List<PointingGameProgress>();
            var b = new PointingGameRunner(data, model, methods, three, new PointingGameRunOptions { BatchImages = 3 }).Run(new SynchronousProgress<PointingGameProgress>(progress.Add));
            Assert.Equal(File.ReadAllText(Path.Combine(one, "summary.csv")), File.ReadAllText(Path.Combine(three, "summary.csv")));
            var la = PointingGameRunner.ReadResults(Path.Combine(one, PointingGameRunner.ResultsFile)).ToDictionary(r => (r.Image, r.Method));
            var lb = PointingGameRunner.ReadResults(Path.Combine(three, PointingGameRunner.ResultsFile)).ToDictionary(r => (r.Image, r.Method));
            Assert.Equal(21, lb.Count);
            foreach (var (k, r) in la) Assert.Equal(r.Trials, lb[k].Trials);
            Assert.Equal(21, progress.Count(p => !p.Resumed));
            Assert.Equal(Enumerable.Range(1, 21), progress.Select(p => p.Done));
            // Resuming a batched run after a cut computes only the missing pairs.
            var path = Path.Combine(three, PointingGameRunner.ResultsFile);
            File.WriteAllLines(path, File.ReadAllLines(path).Take(10));
            int computed = 0;
            new PointingGameRunner(data, model, methods, three, new PointingGameRunOptions { BatchImages = 3 }).Run(new SynchronousProgress<PointingGameProgress>(p => { if (!p.Resumed) computed++; }));
            Assert.Equal(11, computed);
            Assert.Equal(File.ReadAllText(Path.Combine(one, "summary.csv")), File.ReadAllText(Path.Combine(three, "summary.csv")));
            Assert.Throws<ArgumentException>(() => new PointingGameRunner(data, model, methods, three, new PointingGameRunOptions { BatchImages = 0 }));
        }
        finally { Directory.Delete(one, true); Directory.Delete(three, true); }
    }

    [Fact]
    public void ReductionsOfOnePathShareItThroughTheCacheAndScoreAsWithoutIt()
    {
        var plain = TempDir(); var shared = TempDir();
        try
        {
            var data = new TinySceneDataset(count: 4);
            using var model = Model();
            var o = SmallPath().Options;
            ISaliencyMethod[] Methods(AblationPathCache? c) => new ISaliencyMethod[]
            {
                new AblationPathMethod(AblationReduction.Average, o) { Cache = c },
                new AblationPathMethod(AblationReduction.InfluenceWeighted, o) { Cache = c },
                new AblationPathMethod(AblationReduction.Average, o, window: true) { Cache = c },
                new AblationPathMethod(AblationReduction.ContrastiveAverage, o) { Cache = c },
            };
            new PointingGameRunner(data, model, Methods(null), plain).Run();
            using var cache = new AblationPathCache(capacity: 2);
            new PointingGameRunner(data, model, Methods(cache), shared, new PointingGameRunOptions { BatchImages = 2 }).Run();
            Assert.Equal(File.ReadAllText(Path.Combine(plain, "summary.csv")), File.ReadAllText(Path.Combine(shared, "summary.csv")));
            int pairs = Enumerable.Range(0, 4).Sum(i => { using var sc = data.Get(i); return sc.Classes.Count(c => !PointingGame.AllObjectsDifficult(sc, c)); });
            Assert.Equal(2 * pairs, cache.Optimised);      // one retaining path (3 methods) + one straddling pair (cav) per pair
            Assert.Equal(2 * pairs, cache.Reused);         // the two other retaining methods read it
            // Different image content is a different key, the same content under another tensor the same key.
            using var g = new Generator(3, CPU);
            using var a = rand(new long[] { 3, 8, 8 }, generator: g); using var b = a.clone(); using var c2 = a + 1e-3;
            Assert.Equal(AblationPathCache.ImageKey(a), AblationPathCache.ImageKey(b));
            Assert.NotEqual(AblationPathCache.ImageKey(a), AblationPathCache.ImageKey(c2));
        }
        finally { Directory.Delete(plain, true); Directory.Delete(shared, true); }
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
            var notes = new List<string>();
            new PointingGameRunner(data, model, Methods(), dir).Run(new SynchronousProgress<PointingGameProgress>(p => { if (!p.Resumed) computed++; }), notes.Add);
            Assert.Equal(1, computed);
            Assert.Contains("the last line was cut short", Assert.Single(notes)); // reported, not dropped silently
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
            Assert.Contains("holds results of 'rise' with other options (Masks=24 here, Masks=25 now", Assert.Throws<InvalidOperationException>(() => new PointingGameRunner(data, model, other, dir).Run()).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    static Dictionary<string, string> Snapshot(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Order()
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }

    /// <summary>Runs <paramref name="run"/> on a copy of <paramref name="source"/> prepared by <paramref name="prepare"/>; it must throw and leave the copy byte-identical.</summary>
    static string RefusedUnchanged<TException>(string source, Action<string> prepare, Action<string> run) where TException : Exception
    {
        var dir = TempDir();
        try
        {
            CopyDir(source, dir);
            prepare(dir);
            var before = Snapshot(dir);
            var e = Assert.Throws<TException>(() => run(dir));
            Assert.Equal(before, Snapshot(dir));
            Assert.Single(e.Message.Split('\n'));
            return e.Message;
        }
        finally { Directory.Delete(dir, true); }
    }

    static AblationPathOptions TinyPath => new() { Steps = 3, MaskSize = 6, RegularisationSigma = 1, MinIterations = 2, MaxIterations = 2, BaselineSigma = 3 };

    [Fact]
    public void FoldersOfOtherRunsAreRefusedAndLeftByteIdentical()
    {
        var source = TempDir();
        try
        {
            var multi = new TinySceneDataset(3, name: "tiny-scenes-multi", idPrefix: "multi");
            var single = new TinySceneDataset(3);
            using var model = Model();
            ISaliencyMethod[] path = { new AblationPathMethod(AblationReduction.ClassTransition, TinyPath), new CentreMethod() };
            new PointingGameRunner(multi, model, path, source, new PointingGameRunOptions { Split = "test" }).Run();
            Assert.Equal(6, PointingGameRunner.ReadResults(Path.Combine(source, PointingGameRunner.ResultsFile)).Count);

            // 1. Results of another dataset without run.json (the reported case: 90 lines of fashion-scenes-multi relabelled).
            var m1 = RefusedUnchanged<InvalidOperationException>(source, d => File.Delete(Path.Combine(d, PointingGameRunner.RunFile)),
                d => new PointingGameRunner(single, model, path, d, new PointingGameRunOptions { Split = "test" }).Run());
            Assert.Contains("holds results.jsonl but no run.json", m1);
            // ... and with run.json: the dataset is part of the identity.
            Assert.Contains("dataset 'tiny-scenes-multi' (this run: 'tiny-scenes')", RefusedUnchanged<InvalidOperationException>(source, _ => { },
                d => new PointingGameRunner(single, model, path, d, new PointingGameRunOptions { Split = "test" }).Run()));

            // 2. Other ablation-path options (mask 16, 10 iterations, σ 0 in the report) are another run.
            ISaliencyMethod[] other = { new AblationPathMethod(AblationReduction.ClassTransition, TinyPath with { MaskSize = 4, RegularisationSigma = 0 }), new CentreMethod() };
            var m2 = RefusedUnchanged<InvalidOperationException>(source, _ => { },
                d => new PointingGameRunner(multi, model, other, d, new PointingGameRunOptions { Split = "test" }).Run());
            Assert.Contains("'ablation-path-clt' with other options (MaskSize=6 here, MaskSize=4 now; RegularisationSigma=1 here, RegularisationSigma=0 now)", m2);

            // 3. The split is part of the identity.
            Assert.Contains("split 'test' (this run: 'val')", RefusedUnchanged<InvalidOperationException>(source, _ => { },
                d => new PointingGameRunner(multi, model, path, d, new PointingGameRunOptions { Split = "val" }).Run()));
            // The tolerance too.
            Assert.Contains("tolerance 15 (this run: 10)", RefusedUnchanged<InvalidOperationException>(source, _ => { },
                d => new PointingGameRunner(multi, model, path, d, new PointingGameRunOptions { Split = "test", Tolerance = 10 }).Run()));

            // 4. Same name and run.json, but other scenes (ids checked line by line).
            var renamed = new TinySceneDataset(3, name: "tiny-scenes-multi", idPrefix: "other");
            Assert.Contains("line 1 is about scene 'multi000', but image 0 of 'tiny-scenes-multi' is 'other000'", RefusedUnchanged<InvalidOperationException>(source, _ => { },
                d => new PointingGameRunner(renamed, model, path, d, new PointingGameRunOptions { Split = "test" }).Run()));

            // 5. A line of another run pasted in (valid JSON, other run key).
            Assert.Contains("line 7 (centre, scene 'multi000') belongs to another run", RefusedUnchanged<InvalidOperationException>(source,
                d =>
                {
                    var first = File.ReadLines(Path.Combine(d, PointingGameRunner.ResultsFile)).First(l => l.Contains("\"centre\""));
                    var r = System.Text.Json.JsonSerializer.Deserialize<PointingImageResult>(first)!;
                    File.AppendAllText(Path.Combine(d, PointingGameRunner.ResultsFile), System.Text.Json.JsonSerializer.Serialize(r with { Image = 2, Run = "0123456789abcdef" }) + "\n");
                },
                d => new PointingGameRunner(multi, model, path, d, new PointingGameRunOptions { Split = "test" }).Run()));

            // 6. A complete but garbage last line is reported, not dropped; so is one in the middle.
            Assert.Contains("line 7 is damaged (no method)", RefusedUnchanged<InvalidDataException>(source,
                d => File.AppendAllText(Path.Combine(d, PointingGameRunner.ResultsFile), "{\"image\":2,\"garbage\":true}\n"),
                d => new PointingGameRunner(multi, model, path, d, new PointingGameRunOptions { Split = "test" }).Run()));
            Assert.Contains("line 2 is damaged (not JSON", RefusedUnchanged<InvalidDataException>(source,
                d =>
                {
                    var lines = File.ReadAllLines(Path.Combine(d, PointingGameRunner.ResultsFile));
                    lines[1] = "#" + lines[1];
                    File.WriteAllLines(Path.Combine(d, PointingGameRunner.ResultsFile), lines);
                },
                d => new PointingGameRunner(multi, model, path, d, new PointingGameRunOptions { Split = "test" }).Run()));

            // 7. A folder of an older result format.
            Assert.Contains("result format 1 (an older XaiLab)", RefusedUnchanged<InvalidOperationException>(source,
                d => File.WriteAllText(Path.Combine(d, PointingGameRunner.RunFile), "{\"Dataset\":\"tiny-scenes-multi\",\"Model\":\"smallconv\",\"Methods\":{},\"Tolerance\":15}"),
                d => new PointingGameRunner(multi, model, path, d, new PointingGameRunOptions { Split = "test" }).Run()));

            // The same run resumes (nothing recomputed) and adding a method to the folder is allowed.
            int computed = 0;
            new PointingGameRunner(multi, model, new ISaliencyMethod[] { new CentreMethod(), new GradientMethod() }, source, new PointingGameRunOptions { Split = "test" })
                .Run(new SynchronousProgress<PointingGameProgress>(p => { if (!p.Resumed) computed++; }));
            Assert.Equal(3, computed);
        }
        finally { Directory.Delete(source, true); }
    }

    [Fact]
    public void ShardsSplitByIdAndMergeToTheUnshardedSummary()
    {
        var root = TempDir();
        try
        {
            var data = new TinySceneDataset(7);
            using var model = Model();
            var whole = Path.Combine(root, "whole");
            ISaliencyMethod[] Methods() => new ISaliencyMethod[] { new GradientMethod(), new CentreMethod() };
            new PointingGameRunner(data, model, Methods(), whole, new PointingGameRunOptions { Split = "test", Limit = 6 }).Run();

            const int N = 3;
            var dirs = Enumerable.Range(0, N).Select(k => Path.Combine(root, $"shard{k}")).ToArray();
            var covered = new List<int>();
            for (int k = 0; k < N; k++)
            {
                var summary = new PointingGameRunner(data, model, Methods(), dirs[k], new PointingGameRunOptions { Split = "test", Limit = 6, Shard = new PointingGameShard(k, N) }).Run();
                var lines = PointingGameRunner.ReadResults(Path.Combine(dirs[k], PointingGameRunner.ResultsFile));
                var images = lines.Select(l => l.Image).Distinct().ToArray();
                Assert.Equal(summary.ImagesPlanned, images.Length);
                Assert.All(lines, l => Assert.Equal(k, PointingGameShard.Of(l.Id, N)));
                Assert.False(File.Exists(Path.Combine(dirs[k], "summary.json"))); // a shard is summarised by the merge only
                covered.AddRange(images);
            }
            Assert.Equal(Enumerable.Range(0, 6), covered.Order()); // every image in exactly one shard
            Assert.True(Enumerable.Range(0, N).All(k => covered.Any(i => PointingGameShard.Of($"img{i:D3}", N) == k)), "every shard has work");

            var merged = Path.Combine(root, "merged");
            PointingGameRun.Merge(dirs.Reverse().ToArray(), merged);
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "summary.json")), File.ReadAllBytes(Path.Combine(merged, "summary.json")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "summary.csv")), File.ReadAllBytes(Path.Combine(merged, "summary.csv")));
            // The merged folder is a whole run: resuming it computes nothing.
            int computed = 0;
            new PointingGameRunner(data, model, Methods(), merged, new PointingGameRunOptions { Split = "test", Limit = 6 }).Run(new SynchronousProgress<PointingGameProgress>(p => { if (!p.Resumed) computed++; }));
            Assert.Equal(0, computed);
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "summary.csv")), File.ReadAllBytes(Path.Combine(merged, "summary.csv")));

            PointingGameRun.Merge(dirs, merged); // merging again into its own output is allowed (and changes nothing) …
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "summary.csv")), File.ReadAllBytes(Path.Combine(merged, "summary.csv")));
            var wholeBefore = Snapshot(whole);                 // … into any other non-empty folder it is not
            Assert.Contains("is not empty", Assert.Throws<InvalidOperationException>(() => PointingGameRun.Merge(dirs, whole)).Message);
            Assert.Equal(wholeBefore, Snapshot(whole));

            // Refusals: a missing shard, a shard given twice, an unfinished shard; nothing is written.
            var none = Path.Combine(root, "none");
            Assert.Contains("shard 1/3 missing", Assert.Throws<InvalidOperationException>(() => PointingGameRun.Merge(new[] { dirs[0], dirs[2] }, none)).Message);
            Assert.Contains("is given twice", Assert.Throws<InvalidOperationException>(() => PointingGameRun.Merge(new[] { dirs[0], dirs[0], dirs[2] }, none)).Message);
            var lines1 = File.ReadAllLines(Path.Combine(dirs[1], PointingGameRunner.ResultsFile));
            File.WriteAllLines(Path.Combine(dirs[1], PointingGameRunner.ResultsFile), lines1[..^1]);
            Assert.Contains("shard 1/3 is unfinished", Assert.Throws<InvalidOperationException>(() => PointingGameRun.Merge(dirs, none)).Message);
            Assert.False(Directory.Exists(none));
            // A shard folder is not reused for another shard or a whole run.
            Assert.Contains("shard '1/3' (this run: '2/3')", Assert.Throws<InvalidOperationException>(() =>
                new PointingGameRunner(data, model, Methods(), dirs[1], new PointingGameRunOptions { Split = "test", Limit = 6, Shard = new PointingGameShard(2, N) }).Run()).Message);
            Assert.Throws<ArgumentException>(() => PointingGameShard.Parse("3/3"));
            Assert.Throws<ArgumentException>(() => PointingGameShard.Parse("a/3"));
            Assert.Equal(new PointingGameShard(2, 5), PointingGameShard.Parse("2/5"));
        }
        finally { Directory.Delete(root, true); }
    }
}
