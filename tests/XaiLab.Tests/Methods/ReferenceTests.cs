using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Models;
using XaiLab.Saliency;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Tests.Methods;

/// <summary>
/// Every compared method against values computed independently with PyTorch (Debian's python3-torch) by
/// <c>data-scripts/make-method-references.py</c> on a tiny fixed network whose weights are committed as .npy
/// (Fixtures/reference/methods): TorchRay's benchmark definitions of gradient, Grad-CAM, RISE, Extremal Perturbation
/// and centre, and Captum's Integrated Gradients with both quadrature rules.
/// </summary>
[Trait("Category", "Unit")]
public class ReferenceTests
{
    static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "reference", "methods");
    static Tensor Load(string name) => Npy.ReadTensor(Path.Combine(Dir, name + ".npy"));

    /// <summary>The reference network (names as the script's): conv1 relu1 conv2 relu2 pool conv3 relu3 gap flatten fc; softmax, 24×24.</summary>
    static Classifier Tiny()
    {
        Devices.EnsureNativeLoaded();
        var net = nn.Sequential(
            ("conv1", nn.Conv2d(3, 4, 3, padding: 1)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(4, 6, 3, padding: 1)), ("relu2", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
            ("conv3", nn.Conv2d(6, 8, 3, padding: 1)), ("relu3", nn.ReLU()),
            ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(8, 3)));
        using (no_grad())
            foreach (var (name, p) in net.named_parameters())
            {
                using var v = Load("net_" + name);
                Assert.Equal(p.shape, v.shape);
                p.copy_(v);
            }
        return new Classifier(net, new[] { "a", "b", "c" }, OutputActivation.Softmax, 3, (24, 24),
            new[] { 0.5f, 0.45f, 0.4f }, new[] { 0.25f, 0.2f, 0.3f }, "tiny-reference");
    }

    /// <summary>max |a − b| ≤ rtol·max |b| (b the reference, which must not be all zeros).</summary>
    static void AssertClose(Tensor expected, Tensor actual, double rtol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double scale = expected.abs().max().to_type(ScalarType.Float64).item<double>();
        Assert.True(scale > 0, $"{what}: the reference is all zeros");
        double err = (expected.to_type(ScalarType.Float64) - actual.to_type(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(err <= rtol * scale, $"{what}: max |difference| {err:G4} > {rtol:G2}·{scale:G4}");
    }

    [Fact]
    public void TheNetworkGivesTheReferenceLogits()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny();
        using var _ = no_grad();
        AssertClose(Load("logits"), model.Logits(Load("image"))[0], 1e-5, "logits");
    }

    [Fact]
    public void GradientMatchesTorchRayWithAndWithoutSmoothing()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny();
        var x = Load("image");
        foreach (var (smooth, file) in new[] { (0.0, "gradient_c1_raw"), (0.02, "gradient_c1_s002"), (0.1, "gradient_c1_s010") })
        {
            using var map = new GradientMethod(new GradientOptions { Smooth = smooth }).Explain(model, x, 1);
            AssertClose(Load(file), map.Map, 1e-4, file);
        }
        // The default is TorchRay's benchmark smoothing, and smoothing changes the map.
        Assert.Equal(0.02, new GradientOptions().Smooth);
        using var raw = new GradientMethod(new GradientOptions { Smooth = 0 }).Explain(model, x, 1);
        using var smoothed = new GradientMethod().Explain(model, x, 1);
        Assert.False(raw.Map.allclose(smoothed.Map, 1e-3, 1e-7));
    }

    [Theory]
    [InlineData(IntegrationRule.RiemannRight, "ig_c2_riemann_right_8")]
    [InlineData(IntegrationRule.GaussLegendre, "ig_c2_gausslegendre_8")]
    public void IntegratedGradientsMatchesCaptumsRules(IntegrationRule rule, string file)
    {
        using var scope = NewDisposeScope();
        using var model = Tiny();
        var ig = new IntegratedGradients(new IntegratedGradientsOptions { Steps = 8, Rule = rule, InternalBatchSize = 3 });
        var (attr, _) = ig.Attribute(model, Load("image"), 2);
        AssertClose(Load(file), attr, 1e-4, file);
    }

    [Fact]
    public void GaussLegendreNodesIntegratePolynomialsExactly()
    {
        foreach (var m in new[] { 1, 2, 5, 8, 50 })
        {
            var (a, w) = IntegratedGradients.GaussLegendreNodes(m);
            Assert.Equal(1.0, w.Sum(), 12);
            for (int i = 1; i < m; i++) Assert.True(a[i] > a[i - 1]);
            // ∫₀¹ t^d dt = 1/(d+1) for every degree d ≤ 2m − 1.
            for (int d = 0; d <= 2 * m - 1; d++)
                Assert.Equal(1.0 / (d + 1), a.Select((t, i) => w[i] * Math.Pow(t, d)).Sum(), 10);
        }
    }

    [Fact]
    public void GradCamMatchesTheReferenceAtANamedLayer()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny();
        foreach (var c in new[] { 0, 2 })
        {
            using var map = new GradCam(new GradCamOptions { Layer = "relu3" }).Explain(model, Load("image"), c);
            AssertClose(Load($"gradcam_c{c}_relu3"), map.Map, 1e-4, $"grad-cam class {c}");
        }
    }

    [Fact]
    public void RiseMasksHaveTorchRaysGeometry()
    {
        using var scope = NewDisposeScope();
        var grids = Load("rise_grids");
        var shifts = Load("rise_shifts").to_type(ScalarType.Int64);
        long[] sy = shifts[.., 0].data<long>().ToArray(), sx = shifts[.., 1].data<long>().ToArray();
        var masks = Rise.MasksFromGrids(grids, sy, sx, 24, 24);
        AssertClose(Load("rise_masks"), masks, 1e-5, "rise masks");
        // 224 px with 7 cells: shifts in [0, 32), cells of ⌈(224 + 32)/7⌉ = 37 px; 128 px: 19 and 21 px.
        Assert.Equal((32, 37), (Rise.ShiftRange(224, 7), Rise.CellSize(224, 7)));
        Assert.Equal((19, 21), (Rise.ShiftRange(128, 7), Rise.CellSize(128, 7)));
    }

    [Fact]
    public void RiseScoresAllClassesFromOnePassAsTorchRay()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny();
        var x = Load("image");
        var masks = Load("rise_masks");
        var reference = Load("rise_saliency"); // TorchRay: Σ sigmoid(logit)·M / N on the normalised image × mask
        var rise = new Rise(new RiseOptions { BatchSize = 10 });
        var maps = rise.ExplainMany(model, x, new[] { 0, 1, 2 }, masks);
        for (int c = 0; c < 3; c++)
            AssertClose(reference[c], maps[c].Map * rise.Options.KeepProbability, 1e-5, $"rise class {c}"); // ours divides by N·p
        // One pass for several classes equals the per-class maps, with the generated masks too.
        var o = new RiseOptions { Masks = 50, Cells = 3, BatchSize = 16, Seed = 3 };
        var many = new Rise(o).ExplainMany(model, x, new[] { 2, 0 });
        using var single = new Rise(o).Explain(model, x, 0);
        Assert.Equal(0, many[1].ClassIndex);
        AssertClose(single.Map, many[1].Map, 1e-6, "ExplainMany vs Explain");
        foreach (var m in many.Concat(maps)) m.Dispose();
    }

    [Fact]
    public void ExtremalPerturbationMatchesTorchRayAfterFixedIterations()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny();
        var ep = new ExtremalPerturbation(new ExtremalPerturbationOptions
        {
            Areas = new[] { 0.1, 0.3 }, Iterations = 60, Step = 3, Sigma = 5, BlurLevels = 4, MaxBlur = 3, Smooth = 0.09,
        });
        var (masks, _) = ep.Masks(model, Load("image"), 1);
        var reference = Load("ep_c1_smooth");
        AssertClose(reference, masks, 2e-3, "extremal perturbation masks");
        // The margin matters: counting only the image pixels gives other masks.
        var (imageOnly, _) = new ExtremalPerturbation(ep.Options with { AreaOnImageOnly = true }).Masks(model, Load("image"), 1);
        double diff = (imageOnly - reference).abs().max().item<float>();
        Assert.True(diff > 0.05, $"area on the image only should change the masks (max diff {diff})");
        // Without the final smoothing the saliency is the plain sum of the masks over the image.
        var raw = new ExtremalPerturbation(ep.Options with { Smooth = 0, Iterations = 2 });
        var (unsmoothed, _) = raw.Masks(model, Load("image"), 1);
        using var map = raw.Explain(model, Load("image"), 1);
        AssertClose(unsmoothed.sum(new long[] { 0 }), map.Map, 1e-6, "saliency = sum of masks");
    }

    [Fact]
    public void CentrePointsWhereTorchRayDoes()
    {
        using var scope = NewDisposeScope();
        var rows = Load("centre_points");
        for (int i = 0; i < rows.shape[0]; i++)
        {
            var r = rows[i].data<float>().ToArray();
            int h = (int)r[0], w = (int)r[1];
            using var model = new Classifier(nn.Sequential(("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(3, 2))),
                new[] { "a", "b" }, OutputActivation.Softmax, name: "any");
            using var map = new CentreMethod().Explain(model, zeros(3, h, w), 0);
            // TorchRay's point (W/2, H/2); with an odd side it lies between two pixels and the map points at the lower one.
            Assert.Equal(((int)Math.Floor(r[2]), (int)Math.Floor(r[3])), PointingGame.Point(map.Map));
        }
    }

    [Fact]
    public void GradCamDefaultsToTorchRaysLayersAndHooksFireInResNet50AndVgg16()
    {
        using var scope = NewDisposeScope();
        Devices.EnsureNativeLoaded();
        using var resnet = new Classifier(new ResNet50(3), new[] { "a", "b", "c" }, OutputActivation.Sigmoid, name: "r50");
        using var g = new Generator(5, CPU);
        var x = rand(new long[] { 3, 64, 64 }, generator: g);
        using (var cam = new GradCam().Explain(resnet, x, 1))
        {
            Assert.Equal("layer4", cam.Diagnostics!["layer"]);
            Assert.Equal("2048x2x2", cam.Diagnostics["activation_shape"]);
        }
        using (var cam = new GradCam(new GradCamOptions { Layer = "layer3.5.bn3" }).Explain(resnet, x, 1))
            Assert.Equal("1024x4x4", cam.Diagnostics!["activation_shape"]);
        using var vgg = new Classifier(new Vgg16(3, channelDivisor: 16), new[] { "a", "b", "c" }, OutputActivation.Sigmoid, name: "vgg");
        using (var cam = new GradCam().Explain(vgg, x, 1))
        {
            Assert.Equal("features.29", cam.Diagnostics!["layer"]);
            Assert.Equal("32x4x4", cam.Diagnostics["activation_shape"]);   // 64 px / 16 before pool5
        }
        using (var cam = new GradCam(new GradCamOptions { Layer = "avgpool" }).Explain(vgg, x, 1))
            Assert.Equal("32x7x7", cam.Diagnostics!["activation_shape"]);
        // ResNet18 (backbone + head) calls its children through .call(), so hooks on any stage or block fire.
        using var r18 = new Classifier(new ResNet18Classifier(new ResNet18Backbone(new[] { 1, 1, 1, 1 }), nn.Linear(512, 3)),
            new[] { "a", "b", "c" }, OutputActivation.Sigmoid, name: "r18");
        using (var cam = new GradCam(new GradCamOptions { Layer = "backbone.layer4" }).Explain(r18, x, 1))
            Assert.Equal("512x2x2", cam.Diagnostics!["activation_shape"]);
        using (var cam = new GradCam(new GradCamOptions { Layer = "backbone.layer3.0.bn2" }).Explain(r18, x, 1))
            Assert.Equal("256x4x4", cam.Diagnostics!["activation_shape"]);
    }
}
