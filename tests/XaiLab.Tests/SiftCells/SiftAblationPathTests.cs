using XaiLab.Imaging;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.SiftCells;
using XaiLab.Tests.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Tests.SiftCells;

/// <summary>Ablation paths in the SIFT feature basis (§4.3): masks are gain vectors θ ∈ R^K, the baseline θ = 0.</summary>
[Trait("Category", "Unit")]
public class SiftAblationPathTests
{
    [Theory]
    [InlineData(SiftMetric.Euclidean)]
    [InlineData(SiftMetric.Weighted)]
    public void PathInTheFeatureBasisKeepsTheAxiomsAndPointsAtTheDecisiveRegion(SiftMetric metric)
    {
        using var scope = NewDisposeScope();
        const int H = 64, W = 64, R0 = 8, R1 = 24, C0 = 36, C1 = 52;
        using var photo = ImageIO.Load(Assets.File("photos/chelsea.png"));
        var image = nn.functional.interpolate(photo.unsqueeze(0), new long[] { H, W }, mode: InterpolationMode.Bilinear, align_corners: false)[0] * 0.5;
        image[TensorIndex.Colon, TensorIndex.Slice(R0, R1), TensorIndex.Slice(C0, C1)] = 0.95f;   // a bright patch the classifier looks at
        using var model = RegionNet.Classifier(3, H, W, R0, R1, C0, C1, gain: 20, threshold: 0.6);
        Assert.Equal(0, model.Predict(image).Class);

        using var basis = SiftFeatureBasis.Build(image);
        Assert.True(basis.K >= 8, $"too few keypoints: {basis.K}");
        var options = new AblationPathOptions { Steps = 8, MaxIterations = 25, Seed = 2 };
        using var space = basis.AsPathSpace(metric);
        Assert.Equal(metric == SiftMetric.Weighted, space.MassWeights is not null);
        using var r = AblationPath.Optimise(model, space, 0, options);
        Assert.Equal(new long[] { 8, basis.K }, r.Path.shape);
        PathRepairTests.AssertAxioms(r.Path, space.MassWeights);
        Assert.True(r.Score > r.ScoreHistory[0], $"optimisation must improve on the affine path: {r.ScoreHistory[0]} → {r.Score}");

        // The ends are the image (θ = 1) and the implicit baseline θ = 0, rendered by the basis.
        Assert.True((basis.Target.to(CPU) - image).abs().max().item<float>() < 1e-4f);
        Assert.True(basis.Baseline.abs().max().item<float>() < 1e-6f);
        Assert.Equal(0, r.Curve.TopClass[0]);

        // Heatmap of §4.3.4A: the Voronoi field of the kept gains (1 − mean_t φ) peaks on or next to the decisive patch.
        // (Euclidean metric only: in the weighted metric the gradient W⁻¹∇ moves the many light, small-σ features first,
        // so the plain time average is dominated by them; the path itself is checked above.)
        if (metric != SiftMetric.Euclidean) return;
        var keep = (1 - r.Path.mean(new long[] { 0 })).unsqueeze(0).to(basis.Device);
        var field = basis.VoronoiField(keep)[0].to(CPU);
        int at = (int)field.argmax().item<long>();
        int y = at / W, x = at % W;
        double dx = Math.Max(0, Math.Max(C0 - x, x - (C1 - 1))), dy = Math.Max(0, Math.Max(R0 - y, y - (R1 - 1)));
        Assert.True(Math.Sqrt(dx * dx + dy * dy) <= 4, $"Voronoi-field maximum at ({x},{y}) is far from the patch [{C0},{C1})×[{R0},{R1})");
    }
}
