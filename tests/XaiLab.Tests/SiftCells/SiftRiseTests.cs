using Xunit.Abstractions;
using XaiLab.Imaging;
using XaiLab.Saliency;
using XaiLab.Saliency.SiftCells;
using XaiLab.Tests.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Tests.SiftCells;

/// <summary>RISE over random subsets of SIFT features (thesis §4.3.2/§4.4 future work).</summary>
[Trait("Category", "Unit")]
public class SiftRiseTests(ITestOutputHelper output)
{
    const int H = 64, W = 64, R0 = 8, R1 = 24, C0 = 36, C1 = 52;

    static Tensor Scene()
    {
        var image = FeatureCellsTests.Photo(H, W) * 0.5;
        image[TensorIndex.Colon, TensorIndex.Slice(R0, R1), TensorIndex.Slice(C0, C1)] = 0.95f;
        return image;
    }

    /// <summary>
    /// The feature saliency is RISE's estimator Σ_i F(D(θ_i))·θ_ij/(N·p) (checked against an independent evaluation),
    /// the map is its Voronoi field and peaks at the region the classifier reads; the same seed gives the same map for
    /// any batch size.
    /// </summary>
    [Fact]
    public void FeatureSubsetsFindTheDecisiveRegion()
    {
        using var scope = NewDisposeScope();
        var image = Scene();
        using var model = RegionNet.Classifier(3, H, W, R0, R1, C0, C1, gain: 20, threshold: 0.6);
        var o = new SiftRiseOptions { Masks = 400, BatchSize = 64, Seed = 3, Basis = new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 } } };
        using var basis = SiftFeatureBasis.Build(image, o.Basis);
        using var map = new SiftRise(o).Explain(model, basis, 0);
        Assert.Equal(new long[] { H, W }, map.Map.shape);
        Assert.Equal("sift-rise", map.Method);
        var s = (double[])map.Diagnostics!["feature_saliency"];
        Assert.Equal(basis.K, s.Length);

        // Independent evaluation of the estimator from the same draws.
        using var gen = new Generator(3, CPU);
        var subsets = (rand(new long[] { 400, basis.K }, generator: gen) < 0.5).to_type(ScalarType.Float32);
        Tensor f;
        using (no_grad()) f = model.Scores(basis.Render(subsets))[.., 0].to_type(ScalarType.Float64);
        foreach (var j in new[] { 0, basis.K / 2, basis.K - 1 })
        {
            double expected = (f * subsets[.., j].to_type(ScalarType.Float64)).sum().item<double>() / (400 * 0.5);
            Assert.True(Math.Abs(expected - s[j]) < 1e-5, $"feature {j}: {s[j]} vs {expected}");
        }
        var field = basis.VoronoiField(tensor(s.Select(v => (float)v).ToArray()).unsqueeze(0))[0];
        Assert.True((field - map.Map).abs().max().item<float>() < 1e-6);

        int at = (int)map.Map.argmax().item<long>();
        int y = at / W, x = at % W;
        double dx = Math.Max(0, Math.Max(C0 - x, x - (C1 - 1))), dy = Math.Max(0, Math.Max(R0 - y, y - (R1 - 1)));
        output.WriteLine($"K = {basis.K}; map maximum at ({x},{y}); mean score {map.Diagnostics["mean_score"]:F3}");
        Assert.True(Math.Sqrt(dx * dx + dy * dy) <= 4, $"map maximum at ({x},{y}) is far from the patch");
        // inside the patch the saliency is higher than on average
        var inside = map.Map[TensorIndex.Slice(R0, R1), TensorIndex.Slice(C0, C1)].mean().item<float>();
        Assert.True(inside > map.Map.mean().item<float>());

        using var again = new SiftRise(o with { BatchSize = 7 }).Explain(model, basis, 0);
        Assert.True((again.Map - map.Map).abs().max().item<float>() < 1e-6);
        // the ISaliencyMethod entry builds its own basis of the image: same keypoints, same map, alive after the call
        using var fromImage = new SiftRise(o).Explain(model, image, 0);
        Assert.False(fromImage.Map.IsInvalid);
        Assert.True((fromImage.Map - map.Map).abs().max().item<float>() < 1e-5);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SiftRise(o with { KeepProbability = 1 }).Explain(model, basis, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SiftRise(o with { Masks = 0 }).Explain(model, basis, 0));
    }
}
