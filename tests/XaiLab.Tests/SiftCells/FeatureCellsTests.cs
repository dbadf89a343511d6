using System.Diagnostics;
using TorchSharp;
using Xunit.Abstractions;
using XaiLab.Imaging;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Tests.SiftCells;

[Trait("Category", "Unit")]
public class FeatureCellsTests(ITestOutputHelper output)
{
    internal static Tensor Photo(int h, int w)
    {
        Devices.EnsureNativeLoaded();
        using var img = ImageIO.Load(Assets.File("photos/chelsea.png"));
        return nn.functional.interpolate(img.unsqueeze(0), new long[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true).squeeze(0).clamp(0, 1);
    }

    [Fact]
    public void AssignmentMatchesBruteForce()
    {
        var rng = new Random(7);
        int H = 23, W = 31;
        var kps = Enumerable.Range(0, 9).Select(_ => new SiftKeypoint((float)(rng.NextDouble() * W), (float)(rng.NextDouble() * H), (float)(0.5 + 10 * rng.NextDouble()), 1, 0, 1)).ToList();
        foreach (var (h, w) in new[] { (H, W), (H / 2, W / 2) })
            foreach (var sigma in new[] { 0.7, 3.3, 12.0 })
                foreach (var eta in new[] { 1.0, 4.0 })
                {
                    var labels = FeatureCells.Assign(kps, H, W, h, w, sigma, eta);
                    for (int i = 0; i < h; i++)
                        for (int j = 0; j < w; j++)
                        {
                            double y = (i + 0.5) * H / h - 0.5, x = (j + 0.5) * W / w - 0.5;
                            int best = -1; double bestD = double.PositiveInfinity;
                            for (int k = 0; k < kps.Count; k++)
                            {
                                double d = Math.Pow(x - kps[k].X, 2) + Math.Pow(y - kps[k].Y, 2) + eta * eta * Math.Pow(sigma - kps[k].Sigma, 2);
                                if (d < bestD) { bestD = d; best = k; }
                            }
                            Assert.Equal(best, labels[i * w + j]);
                        }
                }
        // η moves cells along σ: at a large-σ band with η = 4 the largest-σ keypoint owns more of the grid than with η = 0
        int big = kps.Select((k, i) => (k.Sigma, i)).Max().i;
        int Count(double eta) => FeatureCells.Assign(kps, H, W, H, W, 12, eta).Count(l => l == big);
        Assert.True(Count(4) > Count(0));
    }

    [Fact]
    public void SparsifiedCellsArePartitionOfUnity_Lemma10()
    {
        var rng = new Random(11);
        int h = 40, w = 48;
        var kps = Enumerable.Range(0, 25).Select(_ => new SiftKeypoint((float)(rng.NextDouble() * w), (float)(rng.NextDouble() * h), (float)(1 + 3 * rng.NextDouble()), 1, 0, 1)).ToList();
        var labels = FeatureCells.Assign(kps, h, w, h, w, 2, 1);
        foreach (var s in new[] { 0.0, 0.01, 0.2 })
        {
            var m = FeatureCells.Smooth(labels, h, w, 2.5, s);
            var sum = new double[h * w];
            var before = new double[h * w];
            for (int e = 0; e < m.Value.Length; e++) sum[m.Pixel[e]] += m.Value[e];
            Assert.Equal(0, m.UncoveredPixels);
            Assert.All(sum, v => Assert.Equal(1.0, v, 5));
            Assert.All(m.Value, v => Assert.True(v > 0));
            output.WriteLine($"s = {s}: {m.Value.Length} non-zeros ({(double)m.Value.Length / (h * w):F2} cells per pixel), min m̃ {m.MinMass:F3}");
            if (s == 0.2) Assert.True(m.Value.Length < 2.0 * h * w);
        }
        // the managed crop blur (small σ) and the full-grid matrix blur (large σ) give the same cells
        var big = Enumerable.Range(0, 12).Select(_ => new SiftKeypoint((float)(rng.NextDouble() * 90), (float)(rng.NextDouble() * 70), 2, 1, 0, 1)).ToList();
        var bigLabels = FeatureCells.Assign(big, 70, 90, 70, 90, 2, 1);
        var crops = FeatureCells.Smooth(bigLabels, 70, 90, 1.5, 0.01);              // 2·⌈6σ⌉+1 = 19 < 35: crops
        var fullGrid = FeatureCells.SmoothFullGrid(bigLabels, 70, 90, 1.5, 0.01);
        Assert.Equal(fullGrid.Cell, crops.Cell);
        Assert.Equal(fullGrid.Pixel, crops.Pixel);
        for (int e = 0; e < crops.Value.Length; e++) Assert.True(Math.Abs(fullGrid.Value[e] - crops.Value[e]) < 1e-5);
        // the soft cut-off shrinks the support: nnz decreases with s
        Assert.True(FeatureCells.Smooth(labels, h, w, 2.5, 0.2).Value.Length < FeatureCells.Smooth(labels, h, w, 2.5, 0.0).Value.Length / 3);
        // an aggressive cut-off leaves uncovered pixels where Lemma 10's condition fails (and is reported)
        var harsh = FeatureCells.Smooth(labels, h, w, 6, 0.9);
        output.WriteLine($"s = 0.9, σ = 6: {harsh.UncoveredPixels} uncovered pixels");
        Assert.True(harsh.UncoveredPixels > 0);
    }

    [Fact]
    public void BasisReproducesTheImageWithUnitGains()
    {
        using var scope = NewDisposeScope();
        var image = Photo(64, 80);
        foreach (var s in new[] { 0.01, 0.1 })
        {
            using var basis = SiftFeatureBasis.Build(image, new SiftBasisOptions { Sparsity = s, Detector = new() { ContrastThreshold = 0.02 } });
            var d = basis.Diagnostics;
            output.WriteLine($"s = {s}: K = {d.Keypoints}, {d.Bands} bands, max |D(1) − x| = {d.ReconstructionError:E2}, uncovered voxels {d.UncoveredVoxels}, decoder {d.DecoderBytes / 1024.0:F0} KiB, {d.BuildSeconds:F2} s");
            Assert.True(d.Keypoints >= 10);
            Assert.Equal(0, d.UncoveredVoxels);
            Assert.True(d.ReconstructionError < 1e-5, $"D(1) differs from x by {d.ReconstructionError}");
            Assert.True((basis.Target - image).abs().max().item<float>() < 1e-5);
            Assert.Equal(0f, basis.Baseline.abs().max().item<float>());
            Assert.Equal(new long[] { d.Keypoints }, basis.MaskShape);
            Assert.False(basis.IsSpatial);
        }
    }

    [Fact]
    public void DecoderIsLinearAndItsGradientMatchesFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        var image = Photo(48, 56);
        using var basis = SiftFeatureBasis.Build(image, new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 }, Eta = 2 });
        int k = basis.K;
        using var gen = new Generator(5, CPU);
        var t1 = rand(2, k, generator: gen); var t2 = rand(2, k, generator: gen);
        var lhs = basis.Render(0.7f * t1 - 1.3f * t2);
        var rhs = 0.7f * basis.Render(t1) - 1.3f * basis.Render(t2);
        Assert.Equal(new long[] { 2, 3, 48, 56 }, lhs.shape);
        Assert.True((lhs - rhs).abs().max().item<float>() < 1e-5);
        // a single feature changes the image only near its keypoint's cells, and not at all for θ = 0 elsewhere
        var e0 = zeros(1, k); e0[0, 0] = 1;
        Assert.True(basis.Render(e0).abs().max().item<float>() > 0);

        // gradient of L(θ) = Σ w ⊙ D(θ) vs central differences (D is linear, so they agree to float rounding)
        var wgt = randn(1, 3, 48, 56, generator: gen);
        var theta = rand(1, k, generator: gen).requires_grad_(true);
        var loss = (basis.Render(theta) * wgt).sum();
        loss.backward();
        var grad = theta.grad!;
        using (no_grad())
        {
            foreach (var j in new[] { 0, k / 2, k - 1 })
            {
                var ej = zeros(1, k); ej[0, j] = 1;
                double eps = 0.5;
                double fd = ((basis.Render(theta + eps * ej) * wgt).sum().item<float>() - (basis.Render(theta - eps * ej) * wgt).sum().item<float>()) / (2 * eps);
                double g = grad[0, j].item<float>();
                output.WriteLine($"∂L/∂θ_{j}: autograd {g:F5}, finite difference {fd:F5}");
                Assert.True(Math.Abs(fd - g) < 1e-3 * Math.Max(1, Math.Abs(g)), $"θ_{j}: {g} vs {fd}");
            }
        }
        Assert.Throws<ArgumentException>(() => basis.Render(ones(k)));
        Assert.Contains($"[N,{k}]", Assert.Throws<ArgumentException>(() => basis.Render(ones(1, k + 1))).Message);
    }

    [Fact]
    public void MassWeightsHeatmapsAndBaseline()
    {
        using var scope = NewDisposeScope();
        var image = Photo(48, 56);
        using var basis = SiftFeatureBasis.Build(image, new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 } });
        int k = basis.K;
        var w = basis.MassWeights;
        Assert.Equal(new long[] { k }, w.shape);
        Assert.Equal(1.0, w.mean().item<float>(), 4);
        // W_j ∝ ‖D(e_j)‖₂
        var norms = new double[3];
        foreach (var (j, i) in new[] { 0, 1, k - 1 }.Select((j, i) => (j, i)))
        {
            var ej = zeros(1, k); ej[0, j] = 1;
            norms[i] = basis.Render(ej).norm().item<float>();
        }
        Assert.Equal(norms[1] / norms[0], w[1].item<float>() / w[0].item<float>(), 3);
        Assert.Equal(norms[2] / norms[0], w[k - 1].item<float>() / w[0].item<float>(), 3);

        // Voronoi field (Eq 4.46, C = 1): θ ≡ 1 gives 1; gains in [0,1] give values in [0,1]; one cell lights up near its keypoint
        var ones1 = basis.VoronoiField(ones(1, k));
        Assert.Equal(new long[] { 1, 48, 56 }, ones1.shape);
        Assert.True((ones1 - 1).abs().max().item<float>() < 1e-4);
        var one = zeros(1, k); int j0 = 0; one[0, j0] = 1;
        var field = basis.VoronoiField(one)[0];
        var kp = basis.Keypoints[j0];
        int ax = (int)field.argmax().item<long>();
        double dist = Math.Sqrt(Math.Pow(ax % 56 - kp.X, 2) + Math.Pow(ax / 56 - kp.Y, 2));
        Assert.True(dist < 3 + 3 * kp.Sigma, $"field peak {dist} px from the keypoint");
        Assert.InRange(field.min().item<float>(), -1e-6, 1);

        // rectifier (Eq 4.48) is non-negative and zero on a constant image
        var rect = SiftFeatureBasis.ImageRectifier(image);
        Assert.Equal(new long[] { 1, 48, 56 }, rect.shape);
        Assert.True(rect.min().item<float>() >= 0 && rect.max().item<float>() > 0.01);
        Assert.True(SiftFeatureBasis.ImageRectifier(full(3, 20, 20, 0.4f)).abs().max().item<float>() < 1e-5);
        using var gen = new Generator(31, CPU);
        Assert.Equal(new long[] { 2, 48, 56 }, basis.RectifierField(rand(2, k, generator: gen)).shape);

        // another baseline: D(1) = x, D(0) = b
        var b = full(3, 48, 56, 0.5f);
        using var grey = basis.WithBaseline(b);
        Assert.True((grey.Target - image).abs().max().item<float>() < 1e-5);
        Assert.True((grey.Baseline - b).abs().max().item<float>() < 1e-5);
        Assert.Throws<ArgumentException>(() => basis.WithBaseline(zeros(3, 10, 10)));
    }

    [Fact]
    public void SameInputGivesBitIdenticalResults()
    {
        using var scope = NewDisposeScope();
        var image = Photo(40, 48);
        (float[] Img, float[] Grad, float[] Mass) Run()
        {
            using var basis = SiftFeatureBasis.Build(image, new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 } });
            using var gen = new Generator(9, CPU);
            var t = rand(4, basis.K, generator: gen).requires_grad_(true);
            var img = basis.Render(t);
            (img * img).sum().backward();
            return (img.detach().data<float>().ToArray(), t.grad!.data<float>().ToArray(), basis.MassWeights.data<float>().ToArray());
        }
        var a = Run(); var b = Run();
        Assert.Equal(a.Img, b.Img);
        Assert.Equal(a.Grad, b.Grad);
        Assert.Equal(a.Mass, b.Mass);
    }

    [Fact]
    public void BadInputToTheBasisIsAClearError()
    {
        using var scope = NewDisposeScope();
        var image = Photo(32, 32);
        using var gen = new Generator(37, CPU);
        Assert.Contains("[C,H,W]", Assert.Throws<ArgumentException>(() => SiftFeatureBasis.Build(rand(32, 32, generator: gen))).Message);
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => SiftFeatureBasis.Build(ones(new long[] { 3, 32, 32 }, dtype: ScalarType.Int64))).Message);
        Assert.Contains("σ_0", Assert.Throws<ArgumentOutOfRangeException>(() => SiftFeatureBasis.Build(image, new SiftBasisOptions { ScaleSpace = new() { Sigma0 = 0 } })).Message);
        Assert.Contains("ρ", Assert.Throws<ArgumentOutOfRangeException>(() => SiftFeatureBasis.Build(image, new SiftBasisOptions { ScaleSpace = new() { LayersPerOctave = 0 } })).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SiftFeatureBasis.Build(image, new SiftBasisOptions { Eta = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SiftFeatureBasis.Build(image, new SiftBasisOptions { Sparsity = 1 }));
        Assert.Contains("no keypoints", Assert.Throws<InvalidOperationException>(() => SiftFeatureBasis.Build(full(3, 32, 32, 0.5f))).Message);
    }

    [Fact]
    public void CsrAndTorchCooKernelsAgree()
    {
        using var scope = NewDisposeScope();
        var image = Photo(40, 48);
        using var basis = SiftFeatureBasis.Build(image, new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 } });
        using var gen = new Generator(2, CPU);
        var theta = rand(3, basis.K, generator: gen);
        var wgt = randn(3, 3, 40, 48, generator: gen);
        Tensor RenderWith(SparseKernel kernel, out Tensor grad, out Tensor field)
        {
            basis.Kernel = kernel;
            var t = theta.clone().requires_grad_(true);
            var img = basis.Render(t);
            (img * wgt).sum().backward();
            grad = t.grad!.clone();
            field = basis.VoronoiField(theta);
            return img.detach();
        }
        var a = RenderWith(SparseKernel.Csr, out var ga, out var fa);
        var b = RenderWith(SparseKernel.TorchCoo, out var gb, out var fb);
        Assert.True((a - b).abs().max().item<float>() < 1e-5);
        Assert.True((ga - gb).abs().max().item<float>() < 1e-3 * Math.Max(1, gb.abs().max().item<float>()));
        Assert.True((fa - fb).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void DecoderMemoryAndTime()
    {
        using var scope = NewDisposeScope();
        foreach (var n in new[] { 128, 224 })
        {
            var image = Photo(n, n);
            using var basis = SiftFeatureBasis.Build(image);
            var d = basis.Diagnostics;
            using var gen = new Generator(41, CPU);
            var theta = rand(16, basis.K, generator: gen);
            var times = new Dictionary<SparseKernel, double>();
            foreach (var kernel in new[] { SparseKernel.Csr, SparseKernel.TorchCoo })
            {
                basis.Kernel = kernel;
                basis.Render(theta).Dispose();
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < 3; i++) basis.Render(theta).Dispose();
                times[kernel] = clock.Elapsed.TotalMilliseconds / 3;
            }
            var levels = string.Join("; ", d.Levels.Select(l => $"L{l.Level} {l.Height}×{l.Width} ({l.Layers} bands): nnz {l.Nonzeros:N0}, stored {l.Bytes / 1048576.0:F1} MiB, torch COO {l.CooBytes / 1048576.0:F1} MiB"));
            output.WriteLine($"{n}×{n}: K = {d.Keypoints}, {d.Bands} bands, build {d.BuildSeconds:F1} s, decoder {d.DecoderBytes / 1048576.0:F1} MiB stored (torch COO would be {d.TorchCooBytes / 1048576.0:F1} MiB), dense 4-D {d.DenseBytes / 1073741824.0:F1} GiB; render of 16 gains: CSR {times[SparseKernel.Csr]:F0} ms, torch COO {times[SparseKernel.TorchCoo]:F0} ms; max |D(1) − x| {d.ReconstructionError:E1}\n  {levels}");
            Assert.True(d.ReconstructionError < 1e-5);
            Assert.True(d.DecoderBytes < 64L << 20, $"decoder uses {d.DecoderBytes} bytes");
        }
    }
}
