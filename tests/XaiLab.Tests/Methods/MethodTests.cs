using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Tests.Methods;

[Trait("Category", "Unit")]
public class MethodTests
{
    [Fact]
    public void IntegratedGradientsIsExactForALinearLogit()
    {
        using var scope = NewDisposeScope();
        var v = Enumerable.Range(0, 12).Select(i => Math.Sin(i + 1.0)).ToArray();
        using var model = TestModels.LinearSigmoid(v, 3, 4, ScalarType.Float64);
        using var gen = new Generator(13, CPU);
        var x = rand(new long[] { 1, 3, 4 }, dtype: ScalarType.Float64, generator: gen);
        var ig = new IntegratedGradients(new IntegratedGradientsOptions { Output = ExplainedOutput.Logit, Steps = 7 });
        var (attr, diag) = ig.Attribute(model, x, 0);
        // For a linear function IG = (x − x')⊙∇ exactly, with the black baseline x' = 0.
        var expected = x[0].flatten().data<double>().ToArray().Select((xi, i) => xi * v[i]).ToArray();
        var got = attr.flatten().data<double>().ToArray();
        for (int i = 0; i < 12; i++) Assert.Equal(expected[i], got[i], 12);
        Assert.True((double)diag["completeness_error"] < 1e-12);
    }

    [Theory]
    [InlineData(IntegrationRule.Trapezoid, 2e-4)]
    [InlineData(IntegrationRule.RiemannMidpoint, 2e-4)]
    [InlineData(IntegrationRule.RiemannRight, 2e-2)]
    public void IntegratedGradientsCompletenessWithinItsError(IntegrationRule rule, double bound)
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.SmoothFloat64();
        using var gen = new Generator(7, CPU);
        var x = rand(new long[] { 3, 8, 8 }, dtype: ScalarType.Float64, generator: gen);
        var baseline = full(new long[] { 3, 8, 8 }, 0.5, dtype: ScalarType.Float64);
        var coarse = new IntegratedGradients(new IntegratedGradientsOptions { Steps = 4, Rule = rule, Baseline = baseline, InternalBatchSize = 3 });
        var igFine = new IntegratedGradients(coarse.Options with { Steps = 50 });
        var (attr, diag) = igFine.Attribute(model, x, 1);
        // Independent completeness error from the model itself.
        double fx, fb;
        using (no_grad())
        {
            fx = model.Scores(x)[0, 1].item<double>();
            fb = model.Scores(baseline)[0, 1].item<double>();
        }
        double err = Math.Abs(attr.sum().item<double>() - (fx - fb));
        Assert.Equal(err, (double)diag["completeness_error"], 12);
        Assert.True(err < bound, $"completeness error {err} ≥ {bound}");
        Assert.True(Math.Abs(fx - fb) > 1e-3, "the test needs F(x) ≠ F(x')");
        var (_, diagCoarse) = coarse.Attribute(model, x, 1);
        Assert.True((double)diagCoarse["completeness_error"] > err, "more steps must not be less accurate here");
        var map = igFine.Explain(model, x, 1);
        Assert.Equal(new long[] { 8, 8 }, map.Map.shape);
        Assert.Equal(attr.sum(new long[] { 0 }).to_type(ScalarType.Float32).sum().item<float>(), map.Map.sum().item<float>(), 4);
    }

    [Fact]
    public void RiseIsReproducibleBySeedAndChangesWithTheSeed()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.SmallConv();
        using var gen = new Generator(11, CPU);
        var x = rand(new long[] { 3, 16, 16 }, generator: gen);
        var o = new RiseOptions { Masks = 96, Cells = 4, BatchSize = 40, Seed = 5 };
        using var a = new Rise(o).Explain(model, x, 2);
        using (rand(999)) { } // moves torch's global generator on: it must not matter (Rise draws from its own)
        using var b = new Rise(o).Explain(model, x, 2);
        using var c = new Rise(o with { Seed = 6 }).Explain(model, x, 2);
        Assert.True(a.Map.equal(b.Map).all().item<bool>(), "same seed must give the identical map");
        Assert.False(a.Map.allclose(c.Map, 1e-4, 1e-6), "another seed must give another map");
        using var d = new Rise(o with { BatchSize = 7 }).Explain(model, x, 2);
        Assert.True(a.Map.allclose(d.Map, 1e-5, 1e-6), "the batch size must not change the result");
    }

    [Fact]
    public void RiseMasksKeepAboutAFractionPAndTheMapOfAConstantModelIsConstant()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(3, CPU);
        var m = Rise.GenerateMasks(3000, 20, 20, 5, 0.3, gen, CPU);
        Assert.Equal(new long[] { 3000, 1, 20, 20 }, m.shape);
        Assert.True(m.min().item<float>() >= 0 && m.max().item<float>() <= 1);
        Assert.InRange(m.mean().item<float>(), 0.28, 0.32);
        // Model with constant scores 0.5 (zero logits on 1 input): S = 0.5 · Σ M_i / (N p) ≈ 0.5 everywhere.
        using var model = TestModels.LinearSigmoid(new double[16], 4, 4);
        var x = rand(new long[] { 1, 4, 4 }, generator: gen);
        using var map = new Rise(new RiseOptions { Masks = 4000, Cells = 2, KeepProbability = 0.5, Seed = 1, BatchSize = 500 }).Explain(model, x, 0);
        Assert.InRange(map.Map.mean().item<float>(), 0.48, 0.52);
    }

    [Fact]
    public void GradCamMatchesTheHandComputedMap()
    {
        using var scope = NewDisposeScope();
        Devices.EnsureNativeLoaded();
        // conv: 1×1 kernel, 1 → 2 channels: A0 = 2x − 0.3, A1 = −x + 0.5; then global mean and fc with W = [[1, 3], [2, −1]].
        var conv = nn.Conv2d(1, 2, 1);
        var fc = nn.Linear(2, 2, hasBias: false);
        using (no_grad())
        {
            conv.weight!.copy_(tensor(new float[] { 2, -1 }).view(2, 1, 1, 1));
            conv.bias!.copy_(tensor(new float[] { -0.3f, 0.5f }));
            fc.weight!.copy_(tensor(new float[] { 1, 3, 2, -1 }).view(2, 2));
        }
        var net = nn.Sequential(("conv", conv), ("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", fc));
        using var model = new Classifier(net, new[] { "p", "q" }, OutputActivation.Softmax, channels: 1, name: "cam");
        var xs = new float[] { 0.0f, 0.1f, 0.2f, 0.9f, 0.4f, 0.5f, 1.0f, 0.7f, 0.3f, 0.05f, 0.6f, 0.8f };
        var x = tensor(xs).view(1, 3, 4);
        double[,] W = { { 1, 3 }, { 2, -1 } };
        foreach (var c in new[] { 0, 1 })
        {
            using var cam = new GradCam(new GradCamOptions { Layer = "conv" }).Explain(model, x, c);
            Assert.Equal(new long[] { 3, 4 }, cam.Map.shape);
            var got = cam.Map.flatten().data<float>().ToArray();
            for (int i = 0; i < 12; i++)
            {
                // α_k = W[c,k]/(h·w); map = ReLU(Σ_k α_k A_k)
                double a0 = 2 * xs[i] - 0.3, a1 = -xs[i] + 0.5;
                double expected = Math.Max(0, (W[c, 0] * a0 + W[c, 1] * a1) / 12.0);
                Assert.Equal(expected, got[i], 5);
            }
        }
        using var auto = new GradCam().Explain(model, x, 0); // default layer: the last 4-D output with h·w > 1 = conv
        Assert.Equal("conv", auto.Diagnostics!["layer"]);
        var e = Assert.Throws<ArgumentException>(() => new GradCam(new GradCamOptions { Layer = "layer4" }).Explain(model, x, 0));
        Assert.Contains("unknown layer 'layer4'", e.Message);
        Assert.Contains("conv, pool, flatten, fc", e.Message);
    }

    /// <summary>A network whose forward runs in its own dispose scope (as FashionCnn's does): only the output survives it.</summary>
    sealed class ScopedNet : nn.Module<Tensor, Tensor>
    {
        readonly nn.Module<Tensor, Tensor> conv, fc;
        public ScopedNet(nn.Module<Tensor, Tensor> conv, nn.Module<Tensor, Tensor> fc) : base("scoped") { this.conv = conv; this.fc = fc; RegisterComponents(); }
        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return fc.call(conv.call(x).mean(new long[] { 2, 3 })).MoveToOuterDisposeScope(); // call(): hooks run
        }
    }

    [Fact]
    public void GradCamWorksWhenTheForwardPassDisposesItsIntermediates()
    {
        using var scope = NewDisposeScope();
        Devices.EnsureNativeLoaded();
        var conv = nn.Conv2d(1, 2, 1);
        var fc = nn.Linear(2, 2, hasBias: false);
        using (no_grad())
        {
            conv.weight!.copy_(tensor(new float[] { 2, -1 }).view(2, 1, 1, 1));
            conv.bias!.copy_(tensor(new float[] { -0.3f, 0.5f }));
            fc.weight!.copy_(tensor(new float[] { 1, 3, 2, -1 }).view(2, 2));
        }
        using var model = new Classifier(new ScopedNet(conv, fc), new[] { "p", "q" }, OutputActivation.Softmax, channels: 1, name: "scoped");
        var xs = new float[] { 0.0f, 0.1f, 0.2f, 0.9f, 0.4f, 0.5f, 1.0f, 0.7f, 0.3f, 0.05f, 0.6f, 0.8f };
        var x = tensor(xs).view(1, 3, 4);
        double[,] W = { { 1, 3 }, { 2, -1 } };
        foreach (var c in new[] { 0, 1 })
        {
            using var cam = new GradCam().Explain(model, x, c); // default layer: conv (the only 4-D output)
            Assert.Equal("conv", cam.Diagnostics!["layer"]);
            var got = cam.Map.flatten().data<float>().ToArray();
            for (int i = 0; i < 12; i++)
                Assert.Equal(Math.Max(0, (W[c, 0] * (2 * xs[i] - 0.3) + W[c, 1] * (-xs[i] + 0.5)) / 12.0), got[i], 5);
        }
    }

    [Theory]
    [InlineData(9, 11, 5, 4)]
    [InlineData(8, 8, 4, 4)] // TorchRay: (W/2, H/2) = (4, 4)
    public void CentreMethodPointsAtTheCentre(int h, int w, int px, int py)
    {
        using var scope = NewDisposeScope();
        using var model = new Classifier(nn.Sequential(("flatten", nn.Flatten()), ("fc", nn.Linear(3 * h * w, 2))), new[] { "a", "b" }, OutputActivation.Softmax, name: "any");
        using var map = new CentreMethod().Explain(model, zeros(3, h, w), 1);
        Assert.Equal((px, py), PointingGame.Point(map.Map));
    }

    [Fact]
    public void GradientOfALinearLogitIsItsWeights()
    {
        using var scope = NewDisposeScope();
        var v = new double[] { 0.5, -2, 0, 1 };
        using var model = TestModels.LinearSigmoid(v, 2, 2);
        using var gen = new Generator(17, CPU);
        using var map = new GradientMethod().Explain(model, rand(1, 2, 2, generator: gen), 0);
        Assert.Equal(new float[] { 0.5f, 2, 0, 1 }, map.Map.flatten().data<float>().ToArray());
    }

    [Fact]
    public void PerturbationMethodsFindTheRegionTheModelReads()
    {
        using var scope = NewDisposeScope();
        // The logit is the sum of the image over the 6×6 square at rows 4..9, cols 20..25 (minus a constant);
        // the image is bright there and dark elsewhere, so blurring the square lowers the logit.
        int s = 32;
        var wts = new double[s * s];
        for (int y = 4; y < 10; y++) for (int x = 20; x < 26; x++) wts[y * s + x] = 0.5;
        using var model = TestModels.LinearSigmoid(wts, s, s);
        var img = zeros(1, s, s);
        img[0, TensorIndex.Slice(4, 10), TensorIndex.Slice(20, 26)] = 1;
        var ep = new ExtremalPerturbation(new ExtremalPerturbationOptions { Areas = new[] { 0.05 }, Iterations = 60, Step = 2, Sigma = 4, MaxBlur = 6, Smooth = 0.02, Jitter = false }); // flip jitter assumes a mirror-symmetric model
        using var epMap = ep.Explain(model, img, 0);
        var p = PointingGame.Point(epMap.Map);
        Assert.InRange(p.X, 18, 27); Assert.InRange(p.Y, 2, 11);
        // Meaningful Perturbation: MeaningfulPerturbationDeletesASmallRegionOnTheObjectNotHalfTheImage (at 64 px, where a
        // 6×6 region is small enough for the published λ1 to let the deletion pay).
    }

    [Fact]
    public void MeaningfulPerturbationPenaltiesAreSumsOverA224PixelImage()
    {
        using var scope = NewDisposeScope();
        // At 224×224 the terms are the plain lattice sums of Eq 1.10: a mask deleting a 20×30 block (value 0) scores L1 = 600,
        // and the block's border contributes |∇m|³ = 1 per edge pixel pair: 2·(20 + 30) = 100.
        var m = ones(1, 1, 224, 224);
        m[0, 0, TensorIndex.Slice(50, 70), TensorIndex.Slice(100, 130)] = 0;
        var (l1, tv) = MeaningfulPerturbation.Penalties(m, 3);
        Assert.Equal(600, l1.item<float>(), 2);
        Assert.Equal(100, tv.item<float>(), 2);
        // The same fraction of a 112×112 image costs the same area; its hard edge is a 2-px ramp of slope ½ at 224 px:
        // 100 edge pixels × 2 × (½)³ = 25.
        var s = ones(1, 1, 112, 112);
        s[0, 0, TensorIndex.Slice(25, 35), TensorIndex.Slice(50, 65)] = 0;
        var (l1s, tvs) = MeaningfulPerturbation.Penalties(s, 3);
        Assert.Equal(600, l1s.item<float>(), 2);
        Assert.Equal(25, tvs.item<float>(), 2);
    }

    [Fact]
    public void MeaningfulPerturbationDeletesASmallRegionOnTheObjectNotHalfTheImage()
    {
        using var scope = NewDisposeScope();
        // A 64×64 image whose class score depends strongly on a bright 6×6 block and weakly (±0.01 per pixel) on a dim noise background,
        // so that blurring almost any region changes the score a little, as in a CNN. The optimised deletion must stay near
        // the block's size — the under-weighted regulariser deleted every cell where blurring helped (about half the image) —
        // and its maximum must lie on the block.
        const int s = 64;
        var rng = new Random(7);
        var wts = new double[s * s];
        var pixels = new float[s * s];
        for (int i = 0; i < wts.Length; i++) { wts[i] = rng.Next(2) == 0 ? -0.01 : 0.01; pixels[i] = 0.2f * (float)rng.NextDouble(); }
        for (int y = 30; y < 36; y++) for (int x = 40; x < 46; x++) { wts[y * s + x] = 0.06; pixels[y * s + x] = 1; } // score ≈ 0.9, not saturated
        using var model = TestModels.LinearSigmoid(wts, s, s);
        var img = tensor(pixels, new long[] { 1, s, s });
        var mp = new MeaningfulPerturbation(new MeaningfulPerturbationOptions { Iterations = 150, MaskDownsampling = 4, BlurSigma = 4, Jitter = 1 });
        using var map = mp.Explain(model, img, 0);
        var p = PointingGame.Point(map.Map);
        Assert.InRange(p.X, 38, 47); Assert.InRange(p.Y, 28, 37);
        Assert.InRange(Convert.ToDouble(map.Diagnostics!["deleted_fraction"]), 0.0, 0.1);
        double initial = (double)map.Diagnostics["initial_score"], final = (double)map.Diagnostics["final_score"];
        Assert.True(final < initial - 0.05, $"score {initial:0.000} → {final:0.000}, deleted {map.Diagnostics["deleted_fraction"]}");
    }

    [Fact]
    public void FactoryKnowsTheMethodsAndListsThemOnError()
    {
        Assert.IsType<Rise>(SaliencyMethods.Create("RISE"));
        Assert.IsType<IntegratedGradients>(SaliencyMethods.Create("ig"));
        Assert.IsType<CentreMethod>(SaliencyMethods.Create("center"));
        var r = (Rise)SaliencyMethods.Create("rise", new RiseOptions { Masks = 10 });
        Assert.Equal(10, r.Options.Masks);
        Assert.Equal(8000, new RiseOptions().Masks);
        var e = Assert.Throws<ArgumentException>(() => SaliencyMethods.Create("lime"));
        Assert.Contains("Unknown saliency method 'lime'", e.Message);
        Assert.Contains("grad-cam", e.Message);
        Assert.Throws<ArgumentException>(() => SaliencyMethods.Create("rise", new GradCamOptions()));
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.SmallConv();
        using var gen = new Generator(19, CPU);
        var e = Assert.Throws<ArgumentException>(() => new GradientMethod().Explain(model, rand(1, 16, 16, generator: gen), 0));
        Assert.Contains("expects 3 channel(s)", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradientMethod().Explain(model, rand(3, 16, 16, generator: gen), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rise(new RiseOptions { KeepProbability = 1 }).Explain(model, rand(3, 16, 16, generator: gen), 0));
    }
}
