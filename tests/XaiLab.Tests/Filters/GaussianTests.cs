using TorchSharp;
using Xunit.Abstractions;
using XaiLab.Imaging;
using XaiLab.Imaging.Filters;
using static TorchSharp.torch;

namespace XaiLab.Tests.Filters;

/// <summary>
/// The one Gaussian module against a direct (non-separable, per-pixel) padded convolution in float64, once per parameter
/// set that a former filter of XaiLab used — the call sites keep exactly their numbers (documented on each case).
/// </summary>
public class GaussianTests(ITestOutputHelper output)
{
    /// <summary>Direct 2-D sum y(i,j) = Σ_a Σ_b k_a k_b x̃(i+a, j+b) over the border-extended image x̃, float64.</summary>
    static Tensor Direct(Tensor x, double[] taps, Func<int, int, int> index, double[]? constant)
    {
        int h = (int)x.shape[^2], w = (int)x.shape[^1], r = taps.Length / 2;
        var flat = x.to_type(ScalarType.Float64).reshape(-1, h, w).contiguous();
        int planes = (int)flat.shape[0];
        long channels = x.dim() >= 3 ? x.shape[^3] : 1;
        var v = flat.data<double>().ToArray();
        var y = new double[v.Length];
        for (int p = 0; p < planes; p++)
        {
            double c = constant is null ? 0 : constant.Length == 1 ? constant[0] : constant[p % channels];
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                {
                    double s = 0;
                    for (int a = -r; a <= r; a++)
                    {
                        int ii = index(i + a, h);
                        for (int b = -r; b <= r; b++)
                        {
                            int jj = index(j + b, w);
                            double val = ii < 0 || jj < 0 ? c : v[p * h * w + ii * w + jj];
                            s += taps[a + r] * taps[b + r] * val;
                        }
                    }
                    y[p * h * w + i * w + j] = s;
                }
        }
        return tensor(y, x.shape, ScalarType.Float64);
    }

    static double[] Taps(double sigma, int radius)
    {
        var k = Enumerable.Range(-radius, 2 * radius + 1).Select(j => Math.Exp(-0.5 * j * j / (sigma * sigma))).ToArray();
        double s = k.Sum();
        return k.Select(t => t / s).ToArray();
    }

    static int Clamp(int i, int n) => Math.Clamp(i, 0, n - 1);
    static int HalfSample(int i, int n) { int p = 2 * n; int j = ((i % p) + p) % p; return j < n ? j : p - 1 - j; }
    static int WholeSample(int i, int n) { if (n == 1) return 0; int p = 2 * n - 2; int j = ((i % p) + p) % p; return j < n ? j : p - j; }
    static int Outside(int i, int n) => i < 0 || i >= n ? -1 : i;

    double Check(string site, Tensor x, Tensor got, double[] taps, Func<int, int, int> index, double[]? constant, double tol)
    {
        using var scope = NewDisposeScope();
        var want = Direct(x, taps, index, constant);
        Assert.Equal(x.shape, got.shape);
        double err = (got.to_type(ScalarType.Float64) - want).abs().max().item<double>();
        output.WriteLine($"{site}: [{string.Join(",", x.shape)}] max |new − direct| = {err:E2}");
        Assert.True(err < tol, $"{site}: error {err}");
        return err;
    }

    sealed class Tol(double eps) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= eps;
        public int GetHashCode(double v) => 0;
    }

    static Tensor Random(Generator g, params long[] shape) => rand(shape, dtype: ScalarType.Float32, generator: g);

    [Theory]
    [InlineData(0.7)]
    [InlineData(2.0)]
    [InlineData(20.0)]
    public void ReplicateThreeSigma_AblationPathsAndSaliencyBaselines(double sigma)
    {
        // Former AblationPaths.GaussianFilter and ImageFilters.GaussianBlur defaults: replicate border, radius ⌈3σ⌉
        // (blurred baselines Eq 2.32, mask regulariser Eq 2.24, blur-pyramid space, pixel-ablation / marker / MP blurs).
        Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        var g = new Generator(11, CPU);
        var x = Random(g, 2, 3, 13, 17);
        var got = Gaussian.Blur(x, sigma);
        Check("replicate 3σ", x, got, Taps(sigma, (int)Math.Ceiling(3 * sigma)), Clamp, null, 2e-6);
        Assert.Equal(Taps(sigma, (int)Math.Ceiling(3 * sigma)), Gaussian.Kernel1D(sigma), new Tol(1e-15));
        // the mask regulariser's operator (matrices owned by the caller) is the same filter on [T,h,w]
        var masks = Random(g, 5, 13, 17);
        using var op = Gaussian.Operator(13, 17, sigma);
        Assert.True(op.Apply(masks).allclose(Gaussian.Blur(masks, sigma), 0, 1e-7));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(3.0)]
    [InlineData(8.0)]
    public void HalfSampleReflectSixSigma_ScaleSpace(double sigma)
    {
        // Former SiftCells.GaussianFilter: half-sample reflection folded repeatedly, radius ⌈6σ⌉, any σ (§4.2, Lemma 10).
        Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        var g = new Generator(12, CPU);
        foreach (var x in new[] { Random(g, 3, 13, 17), Random(g, 11, 9) })
        {
            var got = Gaussian.Blur(x, sigma, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate);
            Check("reflect 6σ", x, got, Taps(sigma, (int)Math.Ceiling(6 * sigma)), HalfSample, null, 2e-6);
        }
        // rows of the reflected matrix sum to 1 (a partition of unity stays one, Lemma 10); the float copy is the same matrix
        var m = Gaussian.AxisMatrix(13, sigma, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate);
        var mf = Gaussian.AxisMatrixFloat(13, sigma, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate);
        for (int i = 0; i < 13; i++)
        {
            double sum = 0;
            for (int j = 0; j < 13; j++) { sum += m[i, j]; Assert.Equal((float)m[i, j], mf[i * 13 + j]); }
            Assert.Equal(1.0, sum, 12);
        }
        Assert.Equal((int)Math.Ceiling(6 * sigma), Gaussian.Radius(sigma, Gaussian.ScaleSpaceTruncate));
    }

    [Theory]
    [InlineData(0.8)]
    [InlineData(2.5)]
    public void TorchRayBorders_GradientSmoothingAndExtremalPerturbation(double sigma)
    {
        // Former ImageFilters with TorchRay's radius ⌈4σ⌉: replicate (gradient-map smoothing, EP pyramid), zeros
        // (EP's final mask smoothing) and a per-channel constant (EP pyramid with the mean colour outside).
        Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        var g = new Generator(13, CPU);
        var x = Random(g, 2, 3, 14, 12);
        var taps = Taps(sigma, (int)Math.Ceiling(4 * sigma));
        var fill = new[] { 0.485f, 0.456f, 0.406f };
        var rep = Gaussian.Blur(x, sigma, BlurBorder.Replicate, Gaussian.TorchRayTruncate);
        var zero = Gaussian.Blur(x, sigma, BlurBorder.Zero, Gaussian.TorchRayTruncate);
        var cst = Gaussian.Blur(x, sigma, BlurBorder.Constant(fill), Gaussian.TorchRayTruncate);
        Check("replicate 4σ", x, rep, taps, Clamp, null, 2e-6);
        Check("zero 4σ", x, zero, taps, Outside, null, 2e-6);
        Check("constant(mean) 4σ", x, cst, taps, Outside, fill.Select(f => (double)f).ToArray(), 2e-6);
        // scalar constant border and the operator that owns its matrices
        var c5 = Gaussian.Blur(x, sigma, BlurBorder.Constant(0.5), Gaussian.TorchRayTruncate);
        Check("constant(0.5) 4σ", x, c5, taps, Outside, new[] { 0.5 }, 2e-6);
        using var op = Gaussian.Operator(14, 12, sigma, BlurBorder.Constant(fill), Gaussian.TorchRayTruncate);
        Assert.True(op.Apply(x).allclose(cst, 0, 1e-6));
    }

    [Fact]
    public void OpenCvKernelAndPlane_SiftDetector()
    {
        // SiftDetector: cv::GaussianBlur's kernel (size round(8σ+1)|1, taps rounded to float32), reflect-101 border.
        foreach (var sigma in new[] { 0.8, 1.2262735, 1.6, 3.1 })
        {
            var k = GaussianKernel.OpenCv(sigma);
            int ksize = ((int)Math.Round(sigma * 8 + 1)) | 1;
            Assert.Equal(ksize / 2, k.Radius);
            var want = Taps(sigma, ksize / 2);
            for (int j = 0; j < want.Length; j++) Assert.Equal((float)want[j], (float)k.Taps[j]);
        }
        Devices.EnsureNativeLoaded();
        var g = new Generator(14, CPU);
        var img = rand(new long[] { 23, 19 }, dtype: ScalarType.Float32, generator: g);
        var kern = GaussianKernel.OpenCv(1.6);
        var plane = Gaussian.BlurPlane(img.data<float>().ToArray(), 19, 23, kern, BlurBorder.Reflect101);
        using var got = tensor(plane, new long[] { 23, 19 });
        Check("OpenCV plane reflect-101", img, got, kern.ToArray(), WholeSample, null, 2e-6);
        // the same kernel through the tensor path
        using var t = Gaussian.Blur(img, kern, BlurBorder.Reflect101);
        Assert.True(t.allclose(got, 0, 2e-6));
    }

    [Fact]
    public void PyramidLevelsAscendInSigma()
    {
        Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        var g = new Generator(15, CPU);
        var img = Random(g, 3, 16, 16);
        var lin = GaussianPyramid.LinearSigmas(8, 20);
        Assert.Equal(0, lin[0]); Assert.Equal(20, lin[^1], 12);
        var pyr = GaussianPyramid.Build(img, lin);
        Assert.Equal(new long[] { 8, 3, 16, 16 }, pyr.shape);
        Assert.True(pyr[0].allclose(img, 0, 0));
        for (int k = 1; k < 8; k++) Assert.True(pyr[k].allclose(Gaussian.Blur(img, lin[k]), 0, 1e-6));
        var half = GaussianPyramid.HalfOctaveSigmas(8, 20);
        Assert.Equal(20 / Math.Sqrt(2), half[^2], 12);
        // Extremal Perturbation's stack (TorchRay order: most blurred first) is the flipped ascending pyramid.
        var fill = new[] { 0.2f, 0.3f, 0.4f };
        var ep = XaiLab.Saliency.Methods.ExtremalPerturbation.BlurPyramid(img, 8, 20, fill);
        Assert.Equal(new long[] { 8, 3, 16, 16 }, ep.shape);
        Assert.True(ep[7].allclose(img, 0, 0));
        for (int l = 0; l < 7; l++)
        {
            double s = 20 * (1 - l / 7.0);
            Check($"EP level {l} (σ {s:F2}, constant mean, 4σ)", img, ep[l], Taps(s, (int)Math.Ceiling(4 * s)), Outside, fill.Select(f => (double)f).ToArray(), 2e-6);
        }
        Assert.Contains("ascending", Assert.Throws<ArgumentException>(() => GaussianPyramid.Build(img, new[] { 0.0, 3, 2 })).Message);
    }

    [Fact]
    public void BadInputNamesWhatWasExpected()
    {
        Devices.EnsureNativeLoaded();
        Assert.Contains("[...,H,W]", Assert.Throws<ArgumentException>(() => Gaussian.Blur(zeros(5), 1)).Message);
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => Gaussian.Blur(zeros(new long[] { 4, 4 }, dtype: ScalarType.Int32), 1)).Message);
        Assert.Contains("≥ 0", Assert.Throws<ArgumentException>(() => Gaussian.Blur(zeros(4, 4), -1)).Message);
        Assert.Contains("truncate", Assert.Throws<ArgumentException>(() => Gaussian.Blur(zeros(4, 4), 1, truncate: 0)).Message);
        Assert.Contains("channel axis", Assert.Throws<ArgumentException>(() => Gaussian.Blur(zeros(2, 4, 4), 1, BlurBorder.Constant(new[] { 0f, 1f, 2f }))).Message);
        using var id = Gaussian.Blur(ones(3, 3), 0);
        Assert.True(id.allclose(ones(3, 3), 0, 0));
    }
}
