using TorchSharp;
using XaiLab.Cli;
using XaiLab.Imaging;
using XaiLab.Saliency.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Tests.AblationPaths;

/// <summary>
/// The fast paths of the optimiser: Algorithm 1 in native memory and as the max–min tensor formula (the device
/// form) against the previous sweep, the device form of the whole repair against the CPU pass, batched
/// <see cref="AblationPath.OptimiseMany(Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>
/// against one-at-a-time runs, the thread policy and the benchmark table.
/// </summary>
[Trait("Category", "Unit")]
public class BatchedPathTests
{
    const int C = 3, H = 24, W = 24, R0 = 4, R1 = 10, C0 = 14, C1 = 20;

    public BatchedPathTests() => Devices.EnsureNativeLoaded();

    /// <summary>The previous implementation of Algorithm 1 (the block-merging sweep as it stood before the speed work),
    /// kept verbatim here as the reference: one sequence, a stack of (start, max, min, mid-range) blocks.</summary>
    static void PreviousSweep<T>(T[] p) where T : System.Numerics.IFloatingPointIeee754<T>
    {
        int n = p.Length;
        var two = T.CreateChecked(2);
        var start = new int[n]; var hi = new T[n]; var lo = new T[n]; var val = new T[n];
        int top = -1;
        for (int i = 0; i < n; i++)
        {
            T x = p[i], bh = x, bl = x, bv = x; int bs = i;
            while (top >= 0 && val[top] > bv)
            {
                bs = start[top];
                if (hi[top] > bh) bh = hi[top];
                if (lo[top] < bl) bl = lo[top];
                bv = (bh + bl) / two;
                top--;
            }
            top++; start[top] = bs; hi[top] = bh; lo[top] = bl; val[top] = bv;
        }
        int end = n;
        for (int b = top; b >= 0; b--) { for (int i = start[b]; i < end; i++) p[i] = val[b]; end = start[b]; }
    }

    // Random sequences of length T as the columns of a [T, X] path: continuous values, few distinct values (ties),
    // and nearly monotone noisy ramps.
    static double[,] RandomColumns(int T, int X, int seed)
    {
        var rng = new Random(seed);
        var a = new double[T, X];
        for (int x = 0; x < X; x++)
        {
            int kind = x % 3;
            for (int t = 0; t < T; t++)
                a[t, x] = kind switch
                {
                    0 => rng.NextDouble() * 1.4 - 0.2,
                    1 => rng.Next(4) / 3.0,
                    _ => (t + 1.0) / (T + 1) + (rng.NextDouble() - 0.5) * 0.3,
                };
        }
        return a;
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void FastMonotonisationEqualsThePreviousSweepBitForBit(ScalarType dtype)
    {
        int total = 0;
        foreach (var T in new[] { 1, 2, 3, 5, 14, 16, 31 })
        {
            using var scope = NewDisposeScope();
            int X = 601; // not a multiple of the SIMD width: the sweep handles the last columns
            var cols = RandomColumns(T, X, seed: 100 + T);
            var path = tensor(cols).to_type(dtype);                      // [T, X]
            var values = path.to_type(ScalarType.Float64).data<double>().ToArray(); // the inputs as the dtype holds them
            var cpu = PathRepair.Monotonise(path).to_type(ScalarType.Float64).data<double>().ToArray();
            var maxmin = PathRepair.MonotoniseMaxMin(path.unsqueeze(0))[0].to_type(ScalarType.Float64).data<double>().ToArray();
            var sweep = (double[])values.Clone();
            PathRepair.MonotoniseColumnsSweep<double>(sweep, T, X);
            var simd = (double[])values.Clone();
            PathRepair.MonotoniseColumns<double>(simd, T, X);
            if (dtype == ScalarType.Float64) Assert.Equal(sweep, simd);
            for (int x = 0; x < X; x++)
            {
                var seq = Enumerable.Range(0, T).Select(t => values[t * X + x]).ToArray();
                var seq32 = seq.Select(v => (float)v).ToArray();
                PreviousSweep(seq);
                PreviousSweep(seq32); // in float32 the sweep computes (max+min)/2 in float32, like the tensor forms
                for (int t = 0; t < T; t++)
                {
                    double expected = dtype == ScalarType.Float32 ? seq32[t] : seq[t];
                    Assert.Equal(expected, cpu[t * X + x]);
                    Assert.Equal(expected, maxmin[t * X + x]);
                }
                total++;
            }
        }
        Assert.True(total >= 4000);
    }

    [Fact]
    public void MaxMinFormulaKeepsLemma6OnTheAdversarialSequences()
    {
        foreach (var p in PathRepairTests.Sequences())
        {
            using var scope = NewDisposeScope();
            var q = PathRepair.MonotoniseMaxMin(tensor(p).reshape(1, -1, 1)).reshape(-1).data<double>().ToArray();
            var reference = (double[])p.Clone();
            PreviousSweep(reference);
            Assert.Equal(reference, q);
        }
    }

    [Theory]
    [InlineData(ScalarType.Float64, false, MonotonisationMethod.DescentFlattening)]
    [InlineData(ScalarType.Float32, true, MonotonisationMethod.DescentFlattening)]
    [InlineData(ScalarType.Float32, false, MonotonisationMethod.RunningMidpoint)]
    public void DeviceFormOfTheRepairEqualsTheCpuPass(ScalarType dtype, bool weighted, MonotonisationMethod method)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(23, CPU);
        int N = 5, T = 14;
        var raw = (rand(new long[] { N, T, 9, 13 }, generator: g, dtype: ScalarType.Float64) * 1.6 - 0.3).to_type(dtype);
        raw[1] = raw[1] * 0.1 + PathRepair.Affine(T, new long[] { 9, 13 }, dtype); // one path nearly repaired already
        var w = weighted ? rand(new long[] { 9, 13 }, generator: g, dtype: ScalarType.Float64).to_type(dtype) + 0.2 : null;
        if (w is not null) w = w / w.mean();
        var many = PathRepair.RepairMany(raw, method, w);                                         // CPU: the array pass
        var device = PathRepair.RepairManyTensor(raw.reshape(N, T, -1), method, w).reshape(raw.shape); // the GPU code path
        Assert.Equal(dtype, many.dtype);
        Assert.Equal(dtype, device.dtype);
        double tol = dtype == ScalarType.Float64 ? 1e-12 : 2e-6;
        for (int n = 0; n < N; n++)
        {
            var single = PathRepair.Repair(raw[n], method, w);
            Assert.True(single.allclose(many[n], 0, tol), $"path {n}: RepairMany differs from Repair");
            double diff = (device[n] - many[n]).abs().max().to_type(ScalarType.Float64).item<double>();
            Assert.True(diff <= tol, $"path {n}: device form differs by {diff}");
            PathRepairTests.AssertAxioms(device[n], w, dtype == ScalarType.Float64 ? 1e-12 : 1e-5);
        }
    }

    [Theory]
    [InlineData(12, 12, 1.5, 0.0)]
    [InlineData(9, 14, 2.0, 0.25)]
    public void CachedRegulariserEqualsTheGaussianFilter(int h, int w, double sigma, double alpha)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(31, CPU);
        var masks = rand(new long[] { 6, h, w }, generator: g, dtype: ScalarType.Float64);
        using var reg = new PathRepair.MaskRegulariser(h, w, sigma, alpha, ScalarType.Float64, CPU);
        var cached = reg.Apply(masks);
        var direct = PathRepair.Regularise(masks, sigma, alpha);
        Assert.True(cached.allclose(direct, 0, 1e-12));
        Assert.True((cached - masks).abs().max().item<double>() > 1e-3, "the filter must do something on random masks");
        Assert.Throws<ArgumentException>(() => new PathRepair.MaskRegulariser(h, w, 0, 0, ScalarType.Float64, CPU));
    }

    static AblationPathOptions Region => new()
    {
        Steps = 8, MaskSize = 12, RegularisationSigma = 2, MaxIterations = 12, MinIterations = 3, Baseline = zeros(C, H, W),
    };

    static (Tensor Image, int Class)[] Items()
    {
        // Three images: two with the region bright (class 0), one darker (evidence weaker); explained classes 0, 0, 1.
        var a = RegionNet.Image(C, H, W, R0, R1, C0, C1, seed: 3);
        var b = RegionNet.Image(C, H, W, R0, R1, C0, C1, seed: 4);
        var c = RegionNet.Image(C, H, W, R0, R1, C0, C1, seed: 5) * 0.8;
        return new[] { (a, 0), (b, 0), (c, 1) };
    }

    static void AssertSame(AblationPathResult one, AblationPathResult batched, string what)
    {
        Assert.Equal(one.Iterations, batched.Iterations);
        Assert.Equal(one.StopReason, batched.StopReason);
        Assert.Equal(one.Path.shape, batched.Path.shape);
        double d = (one.Path - batched.Path).abs().max().to_type(ScalarType.Float64).item<double>();
        Assert.True(d < 1e-5, $"{what}: paths differ by {d}");
        Assert.Equal(one.ScoreHistory.Length, batched.ScoreHistory.Length);
        for (int i = 0; i < one.ScoreHistory.Length; i++) Assert.Equal(one.ScoreHistory[i], batched.ScoreHistory[i], 5);
        for (int i = 0; i < one.SaturationHistory.Length; i++) Assert.Equal(one.SaturationHistory[i], batched.SaturationHistory[i], 5);
        Assert.Equal(one.Score, batched.Score, 5);
        Assert.Equal(one.Warnings, batched.Warnings);
    }

    [Theory]
    [InlineData(AblationScore.Retaining, 0)]
    [InlineData(AblationScore.Straddling, 2)]
    [InlineData(AblationScore.Contrastive, 0)]
    public void BatchedPathsEqualOneAtATimeRuns(AblationScore score, int pathsPerBatch)
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        var items = Items();
        var o = Region with { Score = score, PathsPerBatch = pathsPerBatch, Saturation = 0.5 };
        var sequential = items.Select(it => AblationPath.Optimise(model, it.Image, it.Class, o)).ToArray();
        var reports = new List<AblationBatchProgress>();
        var batched = AblationPath.OptimiseMany(model, items, o, new SyncProgress(reports.Add));
        try
        {
            Assert.Equal(items.Length, batched.Count);
            for (int i = 0; i < items.Length; i++)
            {
                Assert.Equal(items[i].Class, batched[i].ClassIndex);
                AssertSame(sequential[i], batched[i], $"{score} item {i}");
            }
            // Each path reports its own iterations, and they differ between paths only through their stopping rules.
            for (int i = 0; i < items.Length; i++)
                Assert.Equal(Enumerable.Range(1, batched[i].Iterations), reports.Where(r => r.Item == i).Select(r => r.Iteration));
            Assert.True(batched.Select(r => r.Iterations).Distinct().Count() > 1 || batched.All(r => r.StopReason == StopReason.Unsaturated),
                "the test needs paths that stop at different iterations (or none that stops early)");
        }
        finally
        {
            foreach (var r in sequential) r.Dispose();
            foreach (var r in batched) r.Dispose();
            foreach (var it in items) it.Image.Dispose();
        }
    }

    [Fact]
    public void BatchedStochasticPathsFollowEachPathsOwnSeededStreams()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        var items = Items();
        var o = Region with { JitterStd = 0.3, Quantisation = MaskQuantisation.Random, Momentum = 0.5, RemoveGradientMean = true, Seed = 9, MaxIterations = 6 };
        var sequential = items.Select(it => AblationPath.Optimise(model, it.Image, it.Class, o)).ToArray();
        var batched = AblationPath.OptimiseMany(model, items, o);
        try
        {
            for (int i = 0; i < items.Length; i++) AssertSame(sequential[i], batched[i], $"stochastic item {i}");
            // Not a constant: the darker image explained for class 1 gets another path.
            Assert.True((batched[0].Path - batched[2].Path).abs().max().item<float>() > 1e-3); // another image and class: another path
        }
        finally
        {
            foreach (var r in sequential) r.Dispose();
            foreach (var r in batched) r.Dispose();
            foreach (var it in items) it.Image.Dispose();
        }
    }

    [Fact]
    public void OptimiseManyRejectsBadRequestsWithOneLine()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        Assert.Throws<ArgumentException>(() => AblationPath.OptimiseMany(model, Array.Empty<(Tensor, int)>(), Region));
        using var small = zeros(C, 12, 12);
        using var ok = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        var e = Assert.Throws<ArgumentException>(() => AblationPath.OptimiseMany(model, new[] { (ok, 0), (small, 0) }, Region));
        Assert.Contains("24×24", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => AblationPath.OptimiseMany(model, new[] { (ok, 0), (ok, 7) }, Region));
        Assert.Throws<ArgumentException>(() => AblationPath.OptimiseMany(model, new[] { (ok, 0) }, Region with { PathsPerBatch = -1 }));
    }

    [Theory]
    [InlineData(null, null, 2, 1.3, 1)]   // busy 2-core machine: one thread
    [InlineData(null, null, 2, 0.2, 2)]   // idle: both cores
    [InlineData("auto", null, 16, 3.6, 12)]
    [InlineData(null, null, 2, 39.0, 1)]  // never fewer than one
    [InlineData("all", null, 2, 39.0, 2)]
    [InlineData("3", null, 2, 0.0, 3)]
    [InlineData(null, "4", 2, 0.0, null)] // the user's OMP_NUM_THREADS is left alone
    [InlineData(null, null, 8, null, 8)]  // no load average: all cores
    public void ThreadPolicyLeavesBusyCoresAlone(string? setting, string? omp, int cores, double? load, int? expected)
    {
        var (threads, why) = Devices.ChooseThreads(setting, omp, cores, load);
        Assert.Equal(expected, threads);
        Assert.False(string.IsNullOrWhiteSpace(why));
    }

    [Fact]
    public void ThreadPolicyRejectsNonsense()
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.ChooseThreads("lots", null, 2, 0));
        Assert.Contains("XAILAB_THREADS", e.Message);
        Assert.Throws<ArgumentException>(() => Devices.ChooseThreads("0", null, 2, 0));
    }

    [Fact]
    public void BenchTableHasOneRowPerFigureAndOneColumnPerMachine()
    {
        var recs = new List<BenchRecord>
        {
            new("ablation-path/x/per-iteration", 12.345, "ms", "cpu", "2 cores A", "abc", 1.2, 1, ""),
            new("repair/full/14x64x64", 0.5, "ms", "cpu", "2 cores A", "abc", 1.3, 1, ""),
            new("ablation-path/x/per-iteration", 1.5, "ms", "cuda:0", "16 cores B", "abc", 0.1, 16, ""),
        };
        var path = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.json");
        try
        {
            BenchSuite.WriteJson(path, recs);
            var back = BenchSuite.ReadJson(path);
            Assert.Equal(recs, back);
            var md = BenchSuite.Markdown(back).Split('\n');
            Assert.StartsWith("| figure | cpu [1] | cuda:0 [2] |", md[0]);
            Assert.Contains(md, l => l.StartsWith("| ablation-path/x/per-iteration | 12.3 ms (load 1.2, 1 thr) | 1.50 ms (load 0.1, 16 thr) |"));
            Assert.Contains(md, l => l.StartsWith("| repair/full/14x64x64 | 0.5 ms (load 1.3, 1 thr) |  |"));
        }
        finally { File.Delete(path); }
    }

    sealed class SyncProgress(Action<AblationBatchProgress> onReport) : IProgress<AblationBatchProgress>
    {
        public void Report(AblationBatchProgress value) => onReport(value);
    }
}
