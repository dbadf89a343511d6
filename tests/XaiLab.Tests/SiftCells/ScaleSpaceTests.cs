using TorchSharp;
using Xunit.Abstractions;
using XaiLab.Imaging;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Tests.SiftCells;

[Trait("Category", "Unit")]
public class ScaleSpaceTests(ITestOutputHelper output)
{
    static Tensor Photo(int h, int w)
    {
        Devices.EnsureNativeLoaded();
        using var img = ImageIO.Load(Assets.File("photos/chelsea.png"));
        return nn.functional.interpolate(img.unsqueeze(0), new long[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true).squeeze(0).clamp(0, 1);
    }

    [Fact]
    public void BandsSumToTheImageExactly_Lemma8()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(3, CPU);
        foreach (var image in new[] { rand(3, 40, 56, generator: gen), Photo(96, 128) })
        {
            using var space = ScaleSpace.Build(image, new ScaleSpaceOptions { ResolutionLevels = 1 });
            var layers = space.Layers;
            // layout: T_0 from the unfiltered image, σ_l = σ_0·2^(l/ρ), top band from σ_{M−1} ≥ max(H,W)
            Assert.Equal(0, layers[0].LowerSigma);
            Assert.Equal(0.5, layers[0].UpperSigma, 12);
            Assert.Equal(0.5 * Math.Pow(2, 1 / 3.0), layers[1].UpperSigma, 12);
            Assert.True(double.IsPositiveInfinity(layers[^1].UpperSigma));
            Assert.True(layers[^1].LowerSigma >= image.shape[2] && layers[^2].LowerSigma < image.shape[2]);
            // every band carries signal, and the top band is the low-pass Γ(σ_{M−1})
            for (int l = 0; l < layers.Count; l++) Assert.True(space.Bands[l].abs().max().item<float>() > 1e-4, $"band {l} is empty");
            using var top = Gaussian.Blur(image, layers[^1].LowerSigma, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate);
            Assert.True((space.Bands[^1] - top).abs().max().item<float>() < 1e-6);
            double err = (space.Reconstruct() - image).abs().max().item<float>();
            output.WriteLine($"{image.shape[1]}x{image.shape[2]}: {layers.Count} bands, max |Σ T_l − x| = {err:E2}");
            Assert.True(err < 2e-6, $"reconstruction error {err}");
        }
    }

    [Fact]
    public void MultiResolutionStorageFollowsTable41AndStaysExact()
    {
        using var scope = NewDisposeScope();
        var image = Photo(96, 128);
        using var space = ScaleSpace.Build(image);
        foreach (var l in space.Layers)
        {
            int expected = l.LowerSigma >= 9 ? 2 : l.LowerSigma >= 4.5 ? 1 : 0; // 2.25 coarse pixels
            Assert.Equal(expected, l.Level);
            Assert.Equal(new long[] { 3, 96 >> expected, 128 >> expected }, space.Stored[l.Index].shape);
        }
        Assert.Contains(space.Layers, l => l.Level == 2);
        Assert.Contains(space.Layers, l => l.Level == 1);
        double err = (space.ReconstructStored() - image).abs().max().item<float>();
        long fullBytes = space.Bands.NumberOfElements * 4;
        output.WriteLine($"multi-resolution: max |Σ up(S_l) − x| = {err:E2}, carried resampling residual {space.ResamplingResidual:E2}, storage {space.StoredBytes} B vs {fullBytes} B full-res");
        Assert.True(err < 2e-6, $"multi-resolution reconstruction error {err}");
        Assert.True(space.ResamplingResidual > 0 && space.ResamplingResidual < 0.05, $"residual {space.ResamplingResidual}");
        Assert.True(space.StoredBytes < fullBytes / 2);
        // Without the carried residual the naive down/up-sampled storage is not exact: the carry matters.
        var naive = zeros_like(image);
        for (int l = 0; l < space.Layers.Count; l++)
        {
            var L = space.Layers[l];
            var s = ScaleSpace.Resample(space.Bands[l].unsqueeze(0), L.Height, L.Width);
            naive += ScaleSpace.Resample(s, 96, 128).squeeze(0);
        }
        Assert.True((naive - image).abs().max().item<float>() > 10 * Math.Max(err, 1e-6));
    }

    /// <summary>
    /// Lemma 9: ρ·(Γ(σ_l) − Γ(σ_l·2^(1/ρ))) → ln2 · Δ(σ_l) with Δ = −σ²∇²Γ. On a half-sample-symmetric cosine mode
    /// x = cos(a(i+½))·cos(b(j+½)) (an eigenfunction of the reflected blur), ∇²x = −(a²+b²)x and Γ(σ) ≈ e^(−(a²+b²)σ²/2)x.
    /// The constant is ln 2 (the thesis' proof writes 2^(1/ρ) ≈ 1 + 1/ρ; the correct first-order term is ln2/ρ).
    /// </summary>
    [Fact]
    public void ScaledDifferenceApproachesLaplacianTerm_Lemma9()
    {
        using var scope = NewDisposeScope();
        int n = 96;
        double a = Math.PI * 3 / n, b = Math.PI * 2 / n;
        var i = (arange(n, dtype: ScalarType.Float64) + 0.5);
        var x = (cos(i * a).unsqueeze(1) * cos(i * b).unsqueeze(0)).unsqueeze(0); // [1,n,n]
        double k2 = a * a + b * b, sigma = 3.0;
        var gamma = Gaussian.Blur(x, sigma, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate);
        var laplacian = -k2 * gamma; // ∇²Γ(σ) for this mode
        var delta = -sigma * sigma * laplacian;  // Δ(σ) = −σ ∂Γ/∂σ = −σ²∇²Γ
        double prevErr = double.PositiveInfinity, lastWithoutLn2 = 0;
        foreach (var rho in new[] { 4.0, 16.0, 64.0 })
        {
            var diff = rho * (gamma - Gaussian.Blur(x, sigma * Math.Pow(2, 1 / rho), BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate));
            double err = ((diff - Math.Log(2) * delta).abs().max() / delta.abs().max()).item<double>();
            double errWithoutLn2 = ((diff - delta).abs().max() / delta.abs().max()).item<double>();
            output.WriteLine($"ρ = {rho}: relative error vs ln2·Δ = {err:E2} (vs Δ without ln 2: {errWithoutLn2:F3})");
            Assert.True(err < prevErr / 3, $"no O(1/ρ) convergence at ρ={rho}");
            prevErr = err;
            lastWithoutLn2 = errWithoutLn2;
        }
        Assert.True(lastWithoutLn2 > 0.25, "the factor ln 2 is needed");
        Assert.True(prevErr < 0.01, $"relative error at ρ=64: {prevErr}");
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        using var gen = new Generator(23, CPU);
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => ScaleSpace.Build(rand(32, 32, generator: gen)));
        Assert.Contains("[C,H,W]", e.Message);
        e = Assert.Throws<ArgumentException>(() => ScaleSpace.Build(ones(new long[] { 3, 8, 8 }, dtype: ScalarType.Int32)));
        Assert.Contains("floating-point", e.Message);
        var o = Assert.Throws<ArgumentOutOfRangeException>(() => ScaleSpace.Build(rand(3, 16, 16, generator: gen), new ScaleSpaceOptions { Sigma0 = 0 }));
        Assert.Contains("σ_0", o.Message);
        o = Assert.Throws<ArgumentOutOfRangeException>(() => ScaleSpace.Build(rand(3, 16, 16, generator: gen), new ScaleSpaceOptions { Sigma0 = -1 }));
        o = Assert.Throws<ArgumentOutOfRangeException>(() => ScaleSpace.Build(rand(3, 16, 16, generator: gen), new ScaleSpaceOptions { LayersPerOctave = 0.5 }));
        Assert.Contains("ρ", o.Message);
    }

    [Fact]
    public void BlurRowsSumToOneForAnySigma()
    {
        foreach (var (n, s) in new[] { (5, 0.3), (17, 2.0), (16, 40.0), (3, 500.0) })
        {
            var m = Gaussian.AxisMatrix(n, s, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate);
            for (int i = 0; i < n; i++)
            {
                double sum = 0;
                for (int j = 0; j < n; j++) { sum += m[i, j]; Assert.True(m[i, j] >= 0); }
                Assert.Equal(1.0, sum, 12);
            }
            // symmetric reflection: the matrix is symmetric under flipping both indices
            Assert.Equal(m[0, 1], m[n - 1, n - 2], 12);
        }
    }
}
