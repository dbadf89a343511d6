using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.AblationPaths;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Tests.AblationPaths;

[Trait("Category", "Unit")]
public class PathRepairTests
{
    public PathRepairTests() => Devices.EnsureNativeLoaded();

    static double LargestDrop(double[] p)
    {
        double runMax = double.NegativeInfinity, drop = 0;
        foreach (var v in p) { runMax = Math.Max(runMax, v); drop = Math.Max(drop, runMax - v); }
        return drop;
    }

    static void AssertMonotone(double[] q, double tol = 0)
    {
        for (int i = 1; i < q.Length; i++) Assert.True(q[i] >= q[i - 1] - tol, $"not monotone at {i}: {q[i - 1]} > {q[i]}");
    }

    /// <summary>Random sequences and adversarial ones: long plateaus, repeated values, alternating drops, sawtooth, reversed.</summary>
    public static IEnumerable<double[]> Sequences()
    {
        var rng = new Random(12345);
        for (int k = 0; k < 400; k++)
        {
            int n = 1 + rng.Next(40);
            yield return Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 0.5).ToArray();
        }
        for (int k = 0; k < 100; k++) // few distinct values: many ties
        {
            int n = 2 + rng.Next(30);
            yield return Enumerable.Range(0, n).Select(_ => (double)rng.Next(4)).ToArray();
        }
        yield return new double[] { 5, 5, 5, 5, 5, 1, 1, 1, 1, 1 };                 // long plateaus with a drop
        yield return new double[] { 1, 1, 1, 0, 0, 0, 2, 2, 2, 1, 1, 1 };
        yield return Enumerable.Range(0, 30).Select(i => i % 2 == 0 ? 1.0 : 0.0).ToArray();   // alternating drops
        yield return Enumerable.Range(0, 30).Select(i => i % 2 == 0 ? i * 0.1 + 1 : i * 0.1).ToArray(); // alternating, trending up
        yield return Enumerable.Range(0, 30).Select(i => 1 - i / 29.0).ToArray();  // strictly decreasing
        yield return Enumerable.Range(0, 30).Select(i => (i % 5) / 4.0).ToArray(); // sawtooth
        yield return new double[] { 10, 5, 9, 4 };                                  // runs that must merge
        yield return new double[] { 0, 10, 5, 15, 10 };
        yield return new double[] { 3, 3, 3 };
        yield return new double[] { 0.7 };
    }

    [Fact]
    public void Algorithm1MovesBySharplyHalfTheLargestDrop()
    {
        int count = 0;
        foreach (var p in Sequences())
        {
            var q = (double[])p.Clone();
            PathRepair.MonotoniseSequences<double>(q, q.Length);
            AssertMonotone(q);
            double dist = p.Zip(q, (a, b) => Math.Abs(a - b)).Max();
            Assert.Equal(LargestDrop(p) / 2, dist, 12); // Lemma 6: no monotone function is closer in L∞
            count++;
        }
        Assert.True(count > 500);
    }

    [Fact]
    public void Algorithm1LeavesValuesOutsideDecreasingRunsUntouchedAndFlattensRuns()
    {
        var p = new double[] { 0, 0.1, 0.5, 0.3, 0.6, 0.9 };
        PathRepair.MonotoniseSequences<double>(p, p.Length);
        Assert.Equal(new[] { 0, 0.1, 0.4, 0.4, 0.6, 0.9 }, p.Select(v => Math.Round(v, 12)));

        var merge = new double[] { 10, 5, 9, 4 }; // two runs (m 7.5, 6.5) overlap out of order → one run, centre (10+4)/2
        PathRepair.MonotoniseSequences<double>(merge, 4);
        Assert.Equal(new double[] { 7, 7, 7, 7 }, merge);

        var grow = new double[] { 1, 7, 10, 2, 3, 8 }; // run 10→2 (m 6) grows left over 7 and right over 3
        PathRepair.MonotoniseSequences<double>(grow, 6);
        Assert.Equal(new double[] { 1, 6, 6, 6, 6, 8 }, grow);
    }

    [Fact]
    public void Algorithm1LeavesMonotoneInputUnchanged()
    {
        var rng = new Random(7);
        for (int k = 0; k < 200; k++)
        {
            int n = 1 + rng.Next(30);
            var p = Enumerable.Range(0, n).Select(_ => Math.Round(rng.NextDouble(), 1)).OrderBy(v => v).ToArray();
            var q = (double[])p.Clone();
            PathRepair.MonotoniseSequences<double>(q, n);
            Assert.Equal(p, q);
        }
    }

    [Fact]
    public void RunningMidpointIsMonotoneAndOptimalToo()
    {
        foreach (var p in Sequences())
        {
            using var t = tensor(p);
            using var m = PathRepair.MonotoniseMidpoint(t);
            var q = m.data<double>().ToArray();
            AssertMonotone(q);
            double dist = p.Zip(q, (a, b) => Math.Abs(a - b)).Max();
            Assert.Equal(LargestDrop(p) / 2, dist, 12);
        }
    }

    [Fact]
    public void MidpointDiffersFromAlgorithm1AwayFromTheRuns()
    {
        var p = new double[] { 0, 0.1, 0.5, 0.3, 0.6, 0.9 };
        using var t = tensor(p);
        using var m = PathRepair.MonotoniseMidpoint(t);
        var q = m.data<double>().ToArray();
        // Running max [0,.1,.5,.5,.6,.9], running min from the right [0,.1,.3,.3,.6,.9] → the same here…
        Assert.Equal(0.4, q[2], 12);
        // …but a single drop at the start shifts untouched values for the midpoint, not for Algorithm 1.
        var p2 = new double[] { 1, 0, 0.5, 2 };
        using var t2 = tensor(p2);
        using var m2 = PathRepair.MonotoniseMidpoint(t2);
        var q2 = m2.data<double>().ToArray();
        var a1 = (double[])p2.Clone();
        PathRepair.MonotoniseSequences<double>(a1, 4);
        Assert.Equal(new double[] { 0.5, 0.5, 0.5, 2 }, a1);     // 0.5 lies on the run's mid-value: untouched
        Assert.Equal(new double[] { 0.5, 0.5, 0.75, 2 }, q2);    // (max(1,0,.5)=1 + min(.5,2)=.5)/2
    }

    [Fact]
    public void TensorMonotonisationMatchesThePerSequenceAlgorithmForEveryPixel()
    {
        var g = new Generator(5, CPU);
        using var path = rand(new long[] { 9, 5, 7 }, generator: g);
        using var mono = PathRepair.Monotonise(path);
        Assert.Equal(path.shape, mono.shape);
        var a = path.data<float>().ToArray();
        var b = mono.data<float>().ToArray();
        for (int pix = 0; pix < 35; pix++)
        {
            var seq = Enumerable.Range(0, 9).Select(t => a[t * 35 + pix]).ToArray();
            PathRepair.MonotoniseSequences<float>(seq, 9);
            for (int t = 0; t < 9; t++) Assert.Equal(seq[t], b[t * 35 + pix]);
        }
    }

    public static IEnumerable<object[]> RepairCases() => new[]
    {
        new object[] { MonotonisationMethod.DescentFlattening, false },
        new object[] { MonotonisationMethod.RunningMidpoint, false },
        new object[] { MonotonisationMethod.DescentFlattening, true },
    };

    [Theory]
    [MemberData(nameof(RepairCases))]
    public void RepairGivesAnAblationPathOnRandomInputs(MonotonisationMethod method, bool weighted)
    {
        var g = new Generator(11, CPU);
        for (int trial = 0; trial < 20; trial++)
        {
            using var scope = NewDisposeScope();
            int T = 1 + trial % 16;
            // Random values well outside [0,1], plus a trend so that some inputs are nearly paths already.
            var raw = rand(new long[] { T, 16, 12 }, generator: g) * 2 - 0.5;
            if (trial % 3 == 0) raw = raw * 0.2 + PathRepair.Affine(T, new long[] { 16, 12 });
            var w = weighted ? rand(new long[] { 16, 12 }, generator: g) + 0.1 : null;
            if (w is not null) w = w / w.mean();
            var p = PathRepair.Repair(raw, method, w);
            AssertAxioms(p, w);
        }
    }

    [Theory]
    [InlineData(ScalarType.Float32, false)]
    [InlineData(ScalarType.Float64, true)]
    public void OnePassRepairEqualsTheTensorComposition(ScalarType dtype, bool weighted)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(17, CPU);
        var raw = (rand(new long[] { 14, 9, 11 }, generator: g, dtype: ScalarType.Float64) * 1.6 - 0.3).to_type(dtype);
        var w = weighted ? rand(new long[] { 9, 11 }, generator: g, dtype: ScalarType.Float64).to_type(dtype) + 0.2 : null;
        if (w is not null) w = w / w.mean();
        var fast = PathRepair.Repair(raw, MonotonisationMethod.DescentFlattening, w);
        var composed = PathRepair.ConstantSpeed(PathRepair.Monotonise(raw).clamp(0, 1), w);
        Assert.Equal(dtype, fast.dtype);
        double diff = (fast - composed).abs().max().to_type(ScalarType.Float64).item<double>();
        // float32: torch sums the masses in float32, the pass in double, so η may differ in the last bits.
        Assert.True(diff < (dtype == ScalarType.Float64 ? 1e-12 : 1e-5), $"max difference {diff}");
        AssertAxioms(fast, w, dtype == ScalarType.Float64 ? 1e-12 : 1e-5);
    }

    internal static void AssertAxioms(Tensor path, Tensor? weights = null, double massTol = 1e-4)
    {
        int T = (int)path.shape[0];
        Assert.True(path.ge(0).all().item<bool>() && path.le(1).all().item<bool>(), "values outside [0,1]");
        if (T > 1)
        {
            var d = path.narrow(0, 1, T - 1) - path.narrow(0, 0, T - 1);
            Assert.True(d.min().to_type(ScalarType.Float64).item<double>() >= -1e-6, $"not monotone: min step {d.min().to_type(ScalarType.Float64).item<double>()}");
        }
        var masses = PathRepair.Masses(path, weights).to_type(ScalarType.Float64).data<double>().ToArray();
        for (int i = 0; i < T; i++) Assert.True(Math.Abs(masses[i] - (i + 1.0) / (T + 1)) <= massTol, $"mass {masses[i]} of mask {i} ≠ t = {(i + 1.0) / (T + 1)}");
    }

    [Fact]
    public void ConstantSpeedHitsTheTargetMassesExactlyAndKeepsExactPaths()
    {
        using var scope = NewDisposeScope();
        // A monotone, non-constant-speed path of step masks in float64: masses (1,3,6,8)/16 on a 4×4 grid.
        var counts = new[] { 1, 3, 6, 8 };
        var p = zeros(4, 4, 4, dtype: ScalarType.Float64);
        for (int i = 0; i < 4; i++) p[i].view(-1)[TensorIndex.Slice(0, counts[i])] = 1;
        var cs = PathRepair.ConstantSpeed(p);
        var masses = PathRepair.Masses(cs).data<double>().ToArray();
        for (int j = 0; j < 4; j++) Assert.Equal((j + 1) / 5.0, masses[j], 12);
        AssertAxioms(cs, null, 1e-12);
        // Lemma 7 (faithful): a path that already has constant speed is returned unchanged.
        var affine = PathRepair.Affine(6, new long[] { 3, 3 }, ScalarType.Float64);
        var again = PathRepair.ConstantSpeed(affine);
        Assert.True(again.allclose(affine, 0, 1e-12));
        // Mask j = 0 (target 0.2) lies between the end mask 0 (mass 0) and mask 0 (mass 1/16 < 0.2)? No: between mask 0 (1/16) and mask 1 (3/16)… up to mask 2.
        // Check it is the convex combination of its bracketing neighbours: 0.2 between 3/16 (i=1) and 6/16 (i=2).
        double eta = (0.2 - 3 / 16.0) / (6 / 16.0 - 3 / 16.0);
        var expected = p[1] * (1 - eta) + p[2] * eta;
        Assert.True(cs[0].allclose(expected, 0, 1e-12));
    }

    [Fact]
    public void SaturationIsIdentityAtZeroAndKeepsItsFixpoints()
    {
        using var scope = NewDisposeScope();
        var x = linspace(0, 1, 101, dtype: ScalarType.Float64);
        Assert.True(PathRepair.Saturate(x, 0).eq(x).all().item<bool>());
        Assert.True(PathRepair.Saturate(x, 1e-9).eq(x).all().item<bool>());
        Assert.True(PathRepair.Saturate(x, 1e-4).allclose(x, 0, 1e-8)); // continuous at the guard
        foreach (var z in new[] { 0.3, 0.8, 3.0 })
        {
            var y = PathRepair.Saturate(x, z).data<double>().ToArray();
            Assert.Equal(0, y[0], 12); Assert.Equal(0.5, y[50], 12); Assert.Equal(1, y[100], 12);
            for (int i = 1; i < 50; i++) Assert.True(y[i] < i / 100.0, "values below ½ must be pushed down");
            for (int i = 51; i < 100; i++) Assert.True(y[i] > i / 100.0, "values above ½ must be pushed up");
            AssertMonotone(y);
        }
        Assert.Throws<ArgumentException>(() => PathRepair.Saturate(x, -1));
        Assert.Throws<ArgumentException>(() => PathRepair.Saturate(x, double.NaN));
    }

    [Fact]
    public void PinchingAttractsSmallDifferencesAndKeepsFullOnes()
    {
        using var scope = NewDisposeScope();
        var d = tensor(new[] { -0.5, 0, 0.1, 0.5, 1 });
        var p = PathRepair.PinchFunction(d, 0.1).data<double>().ToArray();
        var expected = new[] { -0.5 * 0.9 + 0.025, 0, 0.09 + 0.001, 0.45 + 0.025, 1 };
        for (int i = 0; i < 5; i++) Assert.Equal(expected[i], p[i], 12);
        var up = tensor(new[] { 0.2, 0.4 });
        var down = tensor(new[] { 0.3, 0.4 });
        var nd = PathRepair.Pinch(up, down, 0.1).data<double>().ToArray();
        Assert.Equal(0.2 + 0.09 + 0.001, nd[0], 12);
        Assert.Equal(0.4, nd[1], 12);
        Assert.Throws<ArgumentException>(() => PathRepair.Pinch(up, down, 1.5));
    }

    [Fact]
    public void RegularisationKeepsConstantMasksAndBlurs()
    {
        using var scope = NewDisposeScope();
        var c = full(new long[] { 3, 8, 8 }, 0.3, dtype: ScalarType.Float64);
        Assert.True(PathRepair.Regularise(c, 2).allclose(c, 0, 1e-12));
        var spike = zeros(1, 9, 9, dtype: ScalarType.Float64); spike[0, 4, 4] = 1;
        var b = PathRepair.Regularise(spike, 1);
        Assert.Equal(1, b.sum().item<double>(), 9); // interior spike: mass preserved
        Assert.True(b[0, 4, 4].item<double>() < 0.2 && b[0, 4, 5].item<double>() > 0.05);
        // Matrix form equals the textbook 2-D Gaussian at the centre: (1/(2πσ²))-ish with normalised taps.
        var k = Gaussian.Kernel1D(1);
        Assert.Equal(k[3] * k[3], b[0, 4, 4].item<double>(), 12);
        var mixed = PathRepair.Regularise(spike, 1, 0.25);
        Assert.Equal(0.25 + 0.75 * k[3] * k[3], mixed[0, 4, 4].item<double>(), 12);
    }
}
