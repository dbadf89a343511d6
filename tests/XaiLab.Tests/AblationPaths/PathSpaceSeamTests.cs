using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Tests.AblationPaths;

/// <summary>
/// The seam between options, path spaces and results: spaces are built from the options in one place
/// (<see cref="PathSpaceFactory"/>), bring their own regularisation scale, the IPathSpace overload refuses options it
/// would ignore, and a result keeps its space so that its trajectory is rendered without rebuilding anything.
/// </summary>
public class PathSpaceSeamTests
{
    const int C = 3, H = 24, W = 24, R0 = 4, R1 = 10, C0 = 14, C1 = 20;

    public PathSpaceSeamTests() => Devices.EnsureNativeLoaded();

    [Fact]
    public void ResultKeepsItsSpaceAndRendersItsTrajectory()
    {
        using var scope = NewDisposeScope();
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        var o = new AblationPathOptions { Steps = 6, MaskSize = 12, RegularisationSigma = 2, MaxIterations = 8, BaselineSigma = 8 };
        using var r = AblationPath.Optimise(model, image, 0, o);
        var space = Assert.IsType<LinearPathSpace>(r.Space);
        Assert.True(r.OwnsSpace);
        Assert.Equal("linear", r.PathSpace);
        Assert.Equal(new long[] { 12, 12 }, space.MaskShape);
        Assert.Equal(Math.Sqrt(144.0 / (H * W)), ((IPathSpace)space).RegularisationScale, 12);
        Assert.True(space.Baseline.allclose(r.Baseline, 0, 0));
        // the trajectory: T+2 frames from the image (φ = 0) to the baseline (φ = 1), the linear interpolation in between
        var frames = r.Frames(r.Up);
        Assert.Equal(new long[] { 8, C, H, W }, frames.shape);
        Assert.True(frames[0].allclose(image.clamp(0, 1), 0, 1e-6));
        Assert.True(frames[^1].allclose(r.Baseline.clamp(0, 1), 0, 1e-6));
        var up = PathSpace.Upsample(r.Up, H, W);
        var expected = ((1 - up) * image.unsqueeze(0) + up * r.Baseline.unsqueeze(0)).clamp(0, 1);
        Assert.True(frames[TensorIndex.Slice(1, 7)].allclose(expected, 0, 1e-5));
        // the blurred baseline was built from the options' σ through the one factory
        Assert.Equal(8, r.BaselineSigma);
        using var built = PathSpaceFactory.Build(model, image, o, new Random(0));
        Assert.True(built.Space.Baseline.allclose(r.Baseline, 0, 1e-6));
        Assert.Equal(8, built.BaselineSigma);
    }

    [Fact]
    public void ResultOfACallersSpaceOutlivesIt()
    {
        using var scope = NewDisposeScope();
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        AblationPathResult r;
        using (var pyramid = new BlurPyramidPathSpace(image, 12, 12, levels: 4, maxSigma: 6))
            r = AblationPath.Optimise(model, pyramid, 0, new AblationPathOptions { Steps = 5, RegularisationSigma = 2, MaxIterations = 6 });
        using (r)
        {
            var copy = Assert.IsType<BlurPyramidPathSpace>(r.Space);
            Assert.Equal(new[] { 0.0, 2, 4, 6 }, copy.Sigmas);
            var frames = r.Frames(r.Up); // the caller's pyramid is gone; the result renders with its own copy
            Assert.Equal(new long[] { 7, C, H, W }, frames.shape);
            Assert.True(frames[^1].allclose(r.Baseline.clamp(0, 1), 0, 1e-6));
        }
    }

    [Fact]
    public void SpaceOverloadRejectsOptionsThatOnlyBuildSpaces()
    {
        using var scope = NewDisposeScope();
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var space = new LinearPathSpace(image, zeros(C, H, W), 12, 12);
        var e = Assert.Throws<ArgumentException>(() => AblationPath.Optimise(model, space, 0, new AblationPathOptions { MaskSize = 8, BaselineSigma = 5 }));
        Assert.Contains("MaskSize, BaselineSigma", e.Message);
        Assert.Contains("IPathSpace uses its own", e.Message);
        Assert.Equal(new[] { "PyramidLevels" }, new AblationPathOptions { PyramidLevels = 5 }.NonDefaultSpaceOptions());
        Assert.Empty(new AblationPathOptions { Steps = 3, RegularisationSigma = 1 }.NonDefaultSpaceOptions());
    }

    [Fact]
    public void BaselineSearchMessageReadsTheCandidateGrid()
    {
        using var scope = NewDisposeScope();
        using var model = new Classifier(new ConstantNet(), new[] { "a", "b" }, OutputActivation.Softmax, channels: C, inputSize: (H, W));
        var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        var o = new AblationPathOptions { Steps = 4, MaskSize = 12, MaxIterations = 6, BaselineSigmaCandidates = new[] { 2.0, 3.0 } };
        using var built = PathSpaceFactory.Build(model, image, o, new Random(0));
        Assert.Equal(3, built.BaselineSigma);
        Assert.Contains(built.Warnings, w => w.Contains("No blur σ in [2,3] px"));
        var bad = Assert.Throws<ArgumentException>(() => (o with { BaselineSigmaCandidates = new[] { 3.0, 2.0 } }).Validate());
        Assert.Contains("BaselineSigmaCandidates", bad.Message);
    }

    [Fact]
    public void SiftBasisIsAPathSpaceAndKeepsWithBaseline()
    {
        using var scope = NewDisposeScope();
        using var photo = ImageIO.Load(Assets.File("photos/chelsea.png"));
        var image = nn.functional.interpolate(photo.unsqueeze(0), new long[] { 40, 40 }, mode: InterpolationMode.Bilinear, align_corners: false)[0];
        using var basis = SiftFeatureBasis.Build(image);
        IPathSpace asSpace = basis;
        int K = basis.K;
        Assert.Equal(new long[] { K }, asSpace.MaskShape);
        Assert.False(asSpace.IsSpatial);
        Assert.Equal(0, asSpace.RegularisationScale);
        Assert.Null(asSpace.MassWeights);
        // masks render as D(1 − φ): φ = 0 is the image, φ = 1 the baseline D(0)
        Assert.True(asSpace.Render(zeros(1, K)).allclose(basis.Render(ones(1, K)), 0, 1e-6));
        Assert.True(asSpace.Render(ones(1, K))[0].abs().max().item<float>() < 1e-6f);
        using var euclid = basis.AsPathSpace();
        var phi = rand(new long[] { 2, K }, generator: new Generator(5, CPU));
        Assert.True(asSpace.Render(phi).allclose(euclid.Render(phi), 0, 1e-6));
        // WithBaseline survives AsPathSpace: the weighted space interpolates to b and keeps its metric
        var b = full(new long[] { 3, 40, 40 }, 0.5f);
        using var weighted = basis.AsPathSpace(SiftMetric.Weighted);
        using var toGrey = Assert.IsType<SiftPathSpace>(weighted.WithBaseline(b));
        Assert.Equal(SiftMetric.Weighted, toGrey.Metric);
        Assert.NotNull(toGrey.MassWeights);
        Assert.True((toGrey.Render(ones(1, K))[0] - b).abs().max().item<float>() < 1e-4f);
        Assert.True((toGrey.Render(zeros(1, K))[0] - basis.Target).abs().max().item<float>() < 1e-4f);
        using var direct = asSpace.WithBaseline(b);
        Assert.True((direct.Render(ones(1, K))[0] - b).abs().max().item<float>() < 1e-4f);
    }
}
