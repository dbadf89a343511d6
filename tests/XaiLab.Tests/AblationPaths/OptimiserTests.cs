using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.AblationPaths;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Tests.AblationPaths;

/// <summary>Synchronous progress sink (System.Progress posts to the thread pool).</summary>
sealed class ListProgress(Action<AblationProgress>? onReport = null) : IProgress<AblationProgress>
{
    public List<AblationProgress> Reports { get; } = new();
    public void Report(AblationProgress value) { Reports.Add(value); onReport?.Invoke(value); }
}

[Trait("Category", "Unit")]
public class OptimiserTests
{
    // Image 3×24×24, the class-0 evidence lives in rows 4..9, cols 14..19.
    const int C = 3, H = 24, W = 24, R0 = 4, R1 = 10, C0 = 14, C1 = 20;

    public OptimiserTests() => Devices.EnsureNativeLoaded();

    static AblationPathOptions RegionOptions => new()
    {
        Steps = 10, MaskSize = 12, RegularisationSigma = 2, MaxIterations = 30, Baseline = zeros(C, H, W),
    };

    static bool InRegion(long flatIndex, int h, int w)
    {
        long r = flatIndex / w, c = flatIndex % w;
        double sy = (double)H / h, sx = (double)W / w; // mask cell → image rows [r·sy, (r+1)·sy)
        return r * sy >= R0 - 0.5 * sy && (r + 1) * sy <= R1 + 0.5 * sy && c * sx >= C0 - 0.5 * sx && (c + 1) * sx <= C1 + 0.5 * sx;
    }

    static long ArgmaxAtImageResolution(Tensor saliency)
    {
        using var up = nn.functional.interpolate(saliency.to_type(ScalarType.Float32).unsqueeze(0).unsqueeze(0), new long[] { H, W },
            mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
        return up.flatten().argmax().item<long>();
    }

    static bool InImageRegion(long idx) { long r = idx / W, c = idx % W; return r >= R0 && r < R1 && c >= C0 && c < C1; }

    [Fact]
    public void Theorem5_FirstGradientAtTheAffinePathIntegratesToIntegratedGradients()
    {
        using var scope = NewDisposeScope();
        int c = 3, h = 5, w = 4, T = 12, cls = 1;
        var g = new Generator(21, CPU);
        var x = rand(new long[] { c, h, w }, dtype: ScalarType.Float64, generator: g);
        var xb = rand(new long[] { c, h, w }, dtype: ScalarType.Float64, generator: g);
        using var net = new SmoothNet(c * h * w, 7, 3, seed: 4);
        var model = new Classifier(net, new[] { "a", "b", "c" }, OutputActivation.Softmax, channels: c, inputSize: (h, w));
        using var space = new LinearPathSpace(x, xb, h, w);
        var state = PathRepair.Affine(T, new long[] { h, w }, ScalarType.Float64).unsqueeze(0);
        using var ev = PathObjective.Evaluate(model, space, state, AblationScore.Retaining, cls);
        Assert.Equal(ScalarType.Float64, ev.Gradient.dtype);
        var integrated = ev.Gradient[0].sum(new long[] { 0 }); // ∫dt ∇P↑(t) with the path's own quadrature: (1/T)·Σ_i, the 1/T is in the gradient

        // Integrated Gradients computed independently: IG = (x − x')⊙(1/T)Σ_i ∇F(x' + α_i(x − x')), α_i = 1 − t_i,
        // summed over channels (a mask acts on all channels of a pixel).
        double[] ts = PathRepair.Times(T);
        var acc = zeros_like(x);
        foreach (var t in ts)
        {
            var xi = (xb + (x - xb) * (1 - t)).unsqueeze(0).detach().requires_grad_(true);
            var f = net.forward(xi).softmax(-1)[0, cls];
            f.backward();
            acc = acc + xi.grad![0];
        }
        var ig = ((x - xb) * acc / T).sum(new long[] { 0 });
        // Masks have 1 = ablated, so the retaining gradient points against IG: ∫∇P↑ dt = −IG (Theorem 5 up to this orientation).
        double rel = ((integrated + ig).abs().max().item<double>()) / ig.abs().max().item<double>();
        Assert.True(rel < 1e-4, $"relative error {rel}");
        Assert.True(ig.abs().max().item<double>() > 1e-3, "IG must be non-trivial for the test to mean anything");

        // And against IG with many steps (4000-point midpoint rule) for a fine path (T = 400): the quadratures converge.
        var state400 = PathRepair.Affine(400, new long[] { h, w }, ScalarType.Float64).unsqueeze(0);
        using var ev400 = PathObjective.Evaluate(model, space, state400, AblationScore.Retaining, cls);
        var integrated400 = ev400.Gradient[0].sum(new long[] { 0 });
        var alphas = (arange(4000, dtype: ScalarType.Float64) + 0.5) / 4000;
        var xs = (xb.unsqueeze(0) + (x - xb).unsqueeze(0) * alphas.reshape(-1, 1, 1, 1)).detach().requires_grad_(true);
        net.forward(xs).softmax(-1).select(1, cls).sum().backward();
        var igFine = ((x - xb) * xs.grad!.mean(new long[] { 0 })).sum(new long[] { 0 });
        double rel400 = (integrated400 + igFine).abs().max().item<double>() / igFine.abs().max().item<double>();
        Assert.True(rel400 < 1e-2, $"fine-path relative error {rel400}");
    }

    [Fact]
    public void RetainingPathPointsAtTheRegionThatDecides()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        Assert.Equal(0, model.Predict(image).Class);
        using var r = AblationPath.Optimise(model, image, 0, RegionOptions);
        Assert.Equal(new long[] { 10, 12, 12 }, r.Path.shape);
        PathRepairTests.AssertAxioms(r.Path);
        Assert.True(r.Score > r.ScoreHistory[0] + 0.05, $"the optimisation must improve on the affine path: {r.ScoreHistory[0]} → {r.Score}");
        Assert.Equal(r.Steps + 2, r.Curve.Score.Length);
        Assert.Equal(0, r.Curve.TopClass[0]);          // t = 0: the image
        Assert.NotEqual(0, r.Curve.TopClass[^1]);      // t = 1: the baseline
        var clt = r.ClassTransition;
        Assert.Equal(ClassTransitionCase.Transition, clt.Case);
        Assert.True(clt.Time >= 0.25);
        using var salClt = r.Saliency(AblationReduction.ClassTransition);
        Assert.True(InImageRegion(ArgmaxAtImageResolution(salClt)), "class-transition saliency must point into the region");
        using var salAvg = r.Saliency(AblationReduction.Average);
        Assert.True(InImageRegion(ArgmaxAtImageResolution(salAvg)), "average saliency must point into the region");
        using var salIwa = r.Saliency(AblationReduction.InfluenceWeighted);
        Assert.True(InImageRegion(ArgmaxAtImageResolution(salIwa)), "influence-weighted saliency must point into the region");
        // The path keeps the region longest: at the transition mask the region is (nearly) unablated and the rest ablated.
        var region = Enumerable.Range(0, r.Steps).Select(i => r.Path[i][TensorIndex.Slice(2, 5), TensorIndex.Slice(7, 10)].mean().item<float>()).ToArray();
        // Before the transition the region is kept better than the average pixel (mass t_i), i.e. ablated later.
        for (int i = 1; i < clt.Index; i++) Assert.True(region[i] < r.Times[i], $"region mean {region[i]} ≥ t = {r.Times[i]} at mask {i}");
        Assert.Equal(r.Iterations, r.ScoreHistory.Length);
        Assert.Equal(r.Iterations, r.SaturationHistory.Length);
        Assert.Contains("path [10,12,12]", r.ToString());
    }

    [Fact]
    public void StraddlingPairEndsOnOppositeSidesOfTheDecisionBoundary()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var r = AblationPath.Optimise(model, image, 0, RegionOptions with { Score = AblationScore.Straddling });
        Assert.Equal(new long[] { 10, 2, 12, 12 }, r.Path.shape);
        PathRepairTests.AssertAxioms(r.Up);
        PathRepairTests.AssertAxioms(r.Down);
        Assert.NotNull(r.SecondCurve);
        int opposite = Enumerable.Range(1, r.Steps).Count(i => r.Curve.TopClass[i] == 0 && r.SecondCurve!.TopClass[i] != 0);
        Assert.True(opposite >= r.Steps / 2, $"only {opposite} of {r.Steps} masks straddle the boundary");
        Assert.InRange(r.Score, 1.2, 2.0);
        using var cav = r.Saliency(AblationReduction.ContrastiveAverage);
        Assert.True(InImageRegion(ArgmaxAtImageResolution(cav)), "contrastive averaging must point into the region");
    }

    [Fact]
    public void ContrastiveAndDissipatingScoresOptimiseToo()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var con = AblationPath.Optimise(model, image, 0, RegionOptions with { Score = AblationScore.Contrastive, MaxIterations = 12 });
        Assert.NotNull(con.SecondCurve);
        Assert.True(con.Score > con.ScoreHistory[0], "contrastive score must improve");
        using var dis = AblationPath.Optimise(model, image, 0, RegionOptions with { Score = AblationScore.Dissipating, MaxIterations = 12 });
        Assert.True(dis.Score > dis.ScoreHistory[0], "dissipating score must improve");
        // A dissipating path removes the region first: early masks ablate it more than the average pixel.
        var dregion = Enumerable.Range(0, dis.Steps).Select(i => dis.Path[i][TensorIndex.Slice(2, 5), TensorIndex.Slice(7, 10)].mean().item<float>()).ToArray();
        for (int i = 1; i <= 5; i++) Assert.True(dregion[i] > dis.Times[i], $"region mean {dregion[i]} ≤ t = {dis.Times[i]} at mask {i}");
        PathRepairTests.AssertAxioms(dis.Path);
    }

    [Fact]
    public void StoppingRule_MinimumIterationsSaturationTargetAndCap()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var sat = AblationPath.Optimise(model, image, 0, RegionOptions with { Saturation = 3, MaxIterations = 60 });
        Assert.Equal(StopReason.Saturated, sat.StopReason);
        Assert.True(sat.Iterations >= 6);
        Assert.True(sat.SaturationHistory[^1] >= 0.8);
        for (int i = 5; i < sat.Iterations - 1; i++) Assert.True(sat.SaturationHistory[i] < 0.8, "must stop at the first saturated iteration after the minimum");
        Assert.DoesNotContain(sat.Warnings, w => w.Contains("unsaturated"));

        using var cap = AblationPath.Optimise(model, image, 0, RegionOptions with { SaturationTarget = 1.0, MinIterations = 2, MaxIterations = 4 });
        Assert.Equal(StopReason.Unsaturated, cap.StopReason);
        Assert.Equal(4, cap.Iterations);
        Assert.Contains(cap.Warnings, w => w.Contains("unsaturated"));
    }

    [Fact]
    public void SaturationScheduleMomentumAndMeanRemovalAreApplied()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        var o = RegionOptions with { SaturationTarget = 1, MaxIterations = 8 };
        using var plain = AblationPath.Optimise(model, image, 0, o);
        // ζ_sat = 0 for three iterations, then strong: identical start, then much more saturated.
        using var ramp = AblationPath.Optimise(model, image, 0, o with { SaturationSchedule = it => it <= 3 ? 0 : 4 });
        Assert.Equal(plain.SaturationHistory.Take(3), ramp.SaturationHistory.Take(3));
        Assert.True(ramp.SaturationHistory[^1] > plain.SaturationHistory[^1] + 0.1,
            $"the ramped saturation must saturate more: {ramp.SaturationHistory[^1]} vs {plain.SaturationHistory[^1]}");
        using var mom = AblationPath.Optimise(model, image, 0, o with { Momentum = 0.5, RemoveGradientMean = true });
        PathRepairTests.AssertAxioms(mom.Path);
        Assert.True(mom.Score > mom.ScoreHistory[0] + 0.05);
        Assert.False(mom.Path.eq(plain.Path).all().item<bool>(), "momentum/mean removal must change the iteration");
    }

    [Fact]
    public void SameSeedGivesIdenticalResultsWithEveryStochasticOption()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        var o = RegionOptions with
        {
            Baseline = null, JitterStd = 0.5, Quantisation = MaskQuantisation.Random, MinIterations = 1, MaxIterations = 5, Seed = 42,
            RandomBaseline = rng => { var a = new float[C * H * W]; for (int i = 0; i < a.Length; i++) a[i] = (float)(0.2 * rng.NextDouble()); return tensor(a, new long[] { C, H, W }); },
        };
        using var a = AblationPath.Optimise(model, image, 0, o);
        using var b = AblationPath.Optimise(model, image, 0, o);
        Assert.True(a.Path.eq(b.Path).all().item<bool>(), "same seed must give a bit-identical path");
        Assert.Equal(a.ScoreHistory, b.ScoreHistory);
        using var c = AblationPath.Optimise(model, image, 0, o with { Seed = 43 });
        Assert.False(a.Path.eq(c.Path).all().item<bool>(), "another seed must give another path");
        PathRepairTests.AssertAxioms(a.Path);
        using var th = AblationPath.Optimise(model, image, 0, RegionOptions with { Quantisation = MaskQuantisation.Threshold, MinIterations = 1, MaxIterations = 4 });
        PathRepairTests.AssertAxioms(th.Path);
    }

    [Fact]
    public void ProgressIsReportedAndCancellationThrows()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        var progress = new ListProgress();
        using (var r = AblationPath.Optimise(model, image, 0, RegionOptions with { MaxIterations = 7, SaturationTarget = 1 }, progress))
        {
            Assert.Equal(Enumerable.Range(1, 7), progress.Reports.Select(p => p.Iteration));
            Assert.Equal(r.ScoreHistory, progress.Reports.Select(p => p.Score));
            Assert.Equal(r.SaturationHistory, progress.Reports.Select(p => p.Saturation));
        }
        using var cts = new CancellationTokenSource();
        var cancelling = new ListProgress(p => { if (p.Iteration == 2) cts.Cancel(); });
        Assert.Throws<OperationCanceledException>(() => AblationPath.Optimise(model, image, 0, RegionOptions, cancelling, cts.Token));
        Assert.Equal(2, cancelling.Reports.Count);
        // The classifier's parameters are restored afterwards (frozen only during the run).
        Assert.All(model.Network.parameters(), p => Assert.True(p.requires_grad));
    }

    /// <summary>The bad inputs of <see cref="BadInputsGiveClearErrors"/>: options, image and class of each case.</summary>
    static (AblationPathOptions Options, Tensor Image, int Class) BadInput(string @case, Tensor image) => @case switch
    {
        "steps 0" => (RegionOptions with { Steps = 0 }, image, 0),
        "negative regularisation sigma" => (RegionOptions with { RegularisationSigma = -1 }, image, 0),
        "NaN saturation" => (RegionOptions with { Saturation = double.NaN }, image, 0),
        "negative saturation" => (RegionOptions with { Saturation = -0.5 }, image, 0),
        "pinching above 1" => (RegionOptions with { Pinching = 1.5 }, image, 0),
        "step size 0" => (RegionOptions with { StepSize = 0 }, image, 0),
        "saturation target above 1" => (RegionOptions with { SaturationTarget = 1.2 }, image, 0),
        "more minimum than maximum iterations" => (RegionOptions with { MinIterations = 10, MaxIterations = 5 }, image, 0),
        "mask size 0" => (RegionOptions with { MaskSize = 0 }, image, 0),
        "baseline of another shape" => (RegionOptions with { Baseline = zeros(C, H, W + 1) }, image, 0),
        "blur pyramid with a baseline" => (RegionOptions with { PathSpace = PathSpaceKind.BlurPyramid }, image, 0),
        "negative saturation schedule" => (RegionOptions with { SaturationSchedule = it => it > 2 ? -1 : 0 }, image, 0),
        "image without a channel axis" => (RegionOptions, image[0], 0),
        "one channel for a three-channel model" => (RegionOptions with { Baseline = zeros(1, H, W) }, zeros(1, H, W), 0),
        "image of another size" => (RegionOptions with { Baseline = zeros(C, H + 2, W) }, zeros(C, H + 2, W), 0),
        "class index out of range" => (RegionOptions, image, 7),
        _ => throw new ArgumentException($"unknown case '{@case}'"),
    };

    [Theory]
    [InlineData("steps 0", "Steps")]
    [InlineData("negative regularisation sigma", "RegularisationSigma")]
    [InlineData("NaN saturation", "Saturation")]
    [InlineData("negative saturation", "Saturation")]
    [InlineData("pinching above 1", "Pinching")]
    [InlineData("step size 0", "StepSize")]
    [InlineData("saturation target above 1", "SaturationTarget")]
    [InlineData("more minimum than maximum iterations", "MaxIterations")]
    [InlineData("mask size 0", "MaskSize")]
    [InlineData("baseline of another shape", "shape")]
    [InlineData("blur pyramid with a baseline", "blur pyramid")]
    [InlineData("negative saturation schedule", "SaturationSchedule")]
    [InlineData("image without a channel axis", "[C,H,W]")]
    [InlineData("one channel for a three-channel model", "channel")]
    [InlineData("image of another size", "24×24")]
    [InlineData("class index out of range", null)]
    public void BadInputsGiveClearErrors(string @case, string? expected)
    {
        using var scope = NewDisposeScope();
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        var (o, image, cls) = BadInput(@case, RegionNet.Image(C, H, W, R0, R1, C0, C1));
        if (expected is null) { Assert.Throws<ArgumentOutOfRangeException>(() => AblationPath.Optimise(model, image, cls, o)); return; }
        var e = Assert.Throws<ArgumentException>(() => AblationPath.Optimise(model, image, cls, o));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void NaNScoresStopWithAWarningAndKeepTheLastFinitePath()
    {
        using var model = new Classifier(new NanNet(), new[] { "a", "b" }, OutputActivation.Softmax, channels: C, inputSize: (H, W));
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var r = AblationPath.Optimise(model, image, 0, RegionOptions);
        Assert.Equal(StopReason.NonFiniteScore, r.StopReason);
        Assert.Equal(0, r.Iterations);
        Assert.Contains(r.Warnings, w => w.Contains("non-finite"));
        PathRepairTests.AssertAxioms(r.Path); // the affine start path
    }

    [Fact]
    public void AlwaysCertainClassifierWarnsAboutAdversarialScoresAndSameClassBaseline()
    {
        using var model = new Classifier(new ConstantNet(), new[] { "a", "b" }, OutputActivation.Softmax, channels: C, inputSize: (H, W));
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var r = AblationPath.Optimise(model, image, 0, RegionOptions with { Baseline = null, MaxIterations = 6 });
        Assert.Equal(100, r.BaselineSigma);
        Assert.Contains(r.Warnings, w => w.Contains("No blur σ in [4,100] px changes the top class"));
        Assert.Contains(r.Warnings, w => w.Contains("adversarial") && w.Contains("6 px"));
        Assert.True(r.RetainingScore > 0.99);
    }

    [Fact]
    public void AutomaticBlurBaselineTakesTheSmallestClassChangingSigma()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var bb = Baselines.AutoBlur(model, image);
        Assert.True(bb.ChangesClass);
        Assert.NotEqual(0, bb.BaselineClass);
        // Every smaller candidate keeps the class.
        foreach (var s in Baselines.CandidateSigmas.TakeWhile(s => s < bb.Sigma))
        {
            using var b = Gaussian.Blur(image, s);
            Assert.Equal(0, model.Predict(b).Class);
        }
        using var r = AblationPath.Optimise(model, image, 0, RegionOptions with { Baseline = null, MaxIterations = 6 });
        Assert.Equal(bb.Sigma, r.BaselineSigma);
        Assert.True(r.Baseline.allclose(bb.Baseline, 1e-6, 1e-6));
    }

    [Fact]
    public void BlurPyramidSpaceRendersLevelsAndOptimises()
    {
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var space = new BlurPyramidPathSpace(image, 12, 12, levels: 8, maxSigma: 20);
        Assert.Equal(new[] { 0, 20 / 7.0, 40 / 7.0, 60 / 7.0, 80 / 7.0, 100 / 7.0, 120 / 7.0, 20 }, space.Sigmas.Select(s => Math.Round(s, 12)).ToArray(),
            new RoundedComparer());
        using var scope = NewDisposeScope();
        var ends = space.Render(stack(new[] { zeros(12, 12), ones(12, 12), full(new long[] { 12, 12 }, 1.0 / 7) }, 0));
        Assert.True(ends[0].allclose(image, 0, 1e-6));
        Assert.True(ends[1].allclose(Gaussian.Blur(image, 20), 0, 1e-5));
        Assert.True(ends[2].allclose(Gaussian.Blur(image, 20 / 7.0), 0, 1e-5));
        var log = new BlurPyramidPathSpace(image, 12, 12, levels: 8, maxSigma: 20, logSigma: true);
        Assert.Equal(20, log.Sigmas[^1], 12);
        Assert.Equal(10, log.Sigmas[^3], 12);
        log.Dispose();

        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1, threshold: 0.8);
        using var r = AblationPath.Optimise(model, image, 0, RegionOptions with { Baseline = null, PathSpace = PathSpaceKind.BlurPyramid, MaxIterations = 10 });
        Assert.Equal("blur-pyramid", r.PathSpace);
        Assert.Null(r.BaselineSigma);
        PathRepairTests.AssertAxioms(r.Path);
    }

    sealed class RoundedComparer : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) < 1e-9;
        public int GetHashCode(double x) => 0;
    }

    [Fact]
    public void FeatureBasisPathKeepsTheDecisiveFeatureLongest()
    {
        // K = 4 features: the image's four 12×12 quadrants (a linear decoder D(θ) = Σ θ_k·quadrant_k).
        // The region (rows 4..9, cols 14..19) lies in the top-right quadrant, feature 1.
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var scope = NewDisposeScope();
        var basis = zeros(4, C, H, W);
        for (int k = 0; k < 4; k++)
        {
            int r0 = k / 2 * 12, c0 = k % 2 * 12;
            basis[k, TensorIndex.Colon, TensorIndex.Slice(r0, r0 + 12), TensorIndex.Slice(c0, c0 + 12)] =
                image[TensorIndex.Colon, TensorIndex.Slice(r0, r0 + 12), TensorIndex.Slice(c0, c0 + 12)];
        }
        Tensor Decode(Tensor gains) => einsum("nk,kchw->nchw", gains, basis);
        var weights = tensor(new float[] { 1, 2, 1, 1 });
        using var space = new FeaturePathSpace(Decode, 4, weights);
        Assert.True(space.Target.allclose(image, 0, 1e-6));
        Assert.Equal(0, space.Baseline.abs().max().item<float>());
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var r = AblationPath.Optimise(model, space, 0, new AblationPathOptions { Steps = 9, MaxIterations = 20 });
        Assert.Equal(new long[] { 9, 4 }, r.Path.shape);
        PathRepairTests.AssertAxioms(r.Path, space.MassWeights);
        using var sal = r.Saliency(AblationReduction.Average);
        Assert.Equal(1, sal.argmax().item<long>());
        Assert.Throws<ArgumentException>(() => r.Saliency(AblationReduction.ClassTransition, window: true));
    }

    [Fact]
    public void SaliencyMethodAdapterNamesAndPoints()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        Assert.Equal("ablation-path-avg", new AblationPathMethod(AblationReduction.Average).Name);
        Assert.Equal("ablation-path-clt", new AblationPathMethod(AblationReduction.ClassTransition).Name);
        Assert.Equal("ablation-path-influence", new AblationPathMethod(AblationReduction.InfluenceWeighted).Name);
        var cav = new AblationPathMethod(AblationReduction.ContrastiveAverage);
        Assert.Equal(AblationScore.Straddling, cav.Options.Score);
        var m = new AblationPathMethod(AblationReduction.ClassTransition, RegionOptions, window: true);
        Assert.Equal("ablation-path-clt-window", m.Name);
        using var map = m.Explain(model, image, 0);
        Assert.Equal(new long[] { 12, 12 }, map.Map.shape);
        Assert.Equal(0, map.ClassIndex);
        Assert.Equal("Transition", map.Diagnostics!["class_transition_case"]);
        Assert.True(InImageRegion(ArgmaxAtImageResolution(map.Map)));
    }
}
