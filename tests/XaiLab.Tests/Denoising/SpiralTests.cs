using XaiLab.Denoising;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace XaiLab.Tests.Denoising;

/// <summary>Spiral sampling (Eq 7.5–7.7), the ribbon, barycentric resampling and the equivariance of a spiral layer (§7.3).</summary>
[Trait("Category", "Unit")]
public class SpiralTests
{
    [Fact]
    public void SpiralFollowsEquations75To77()
    {
        var s = new SpiralSampling(8);
        Assert.Equal((int)Math.Round(Math.PI * 64), s.Samples);
        for (int i = 0; i < s.Samples; i++)
        {
            Assert.Equal(i * Math.PI / s.Samples, s.T[i], 12);
            Assert.Equal(Math.Sqrt(s.T[i] / Math.PI), s.R[i], 12);
            Assert.Equal(2 * Math.PI * 8 * s.R[i], s.Theta[i], 9);         // ϑ = 2π·n_wind·r: Archimedean
            Assert.Equal(s.R[i], Math.Sqrt(s.X[i] * s.X[i] + s.Y[i] * s.Y[i]), 12);
            if (i > 0) Assert.True(s.R[i] > s.R[i - 1], "r must increase monotonically");
        }
        Assert.True(s.R[^1] < 1 && s.R[^1] > 1 - 1.0 / s.Samples);
        // Equal spacing: consecutive samples away from the centre are π·n_wind/n_spls ≈ 1/n_wind apart.
        for (int i = s.Samples / 4; i < s.Samples; i++)
        {
            double d = Math.Sqrt(Math.Pow(s.X[i] - s.X[i - 1], 2) + Math.Pow(s.Y[i] - s.Y[i - 1], 2));
            Assert.True(Math.Abs(d - Math.PI * 8 / s.Samples) < 0.03 / 8, $"spacing {d} at {i}");
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public void RibbonRowsLieExactlyOnTheNeighbouringWindings(int rows)
    {
        var s = new SpiralSampling(6);
        var (x, y) = s.Ribbon(rows);
        Assert.Equal(rows * s.Samples, x.Length);
        int mid = rows / 2;
        for (int k = 0; k < rows; k++)
            for (int i = 0; i < s.Samples; i++)
            {
                double px = x[k * s.Samples + i], py = y[k * s.Samples + i];
                if (k == mid) { Assert.Equal(s.X[i], px, 12); Assert.Equal(s.Y[i], py, 12); continue; }
                double r = s.R[i] + (k - mid) / 6.0;                      // offset by multiples of the winding spacing
                Assert.Equal(r * Math.Cos(s.Theta[i]), px, 12);
                Assert.Equal(r * Math.Sin(s.Theta[i]), py, 12);
                // …which is exactly the spiral's own point at angle ϑ_i + 2π(k − mid): the neighbouring winding.
                double rr = s.R[i] + (k - mid) * s.WindingSpacing;
                if (rr > 0) Assert.Equal((s.Theta[i] + 2 * Math.PI * (k - mid)) / (2 * Math.PI * 6), rr, 12);
            }
        Assert.Throws<ArgumentException>(() => s.Ribbon(4));
    }

    [Fact]
    public void BarycentricResamplingReproducesLinearFunctionsAndIsAPartitionOfUnity()
    {
        var rng = new Random(1);
        int n = 400;
        var sx = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var sy = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var s = new SpiralSampling(10);
        var (tx, ty) = s.Ribbon(3);
        var w = BarycentricResampler.Build(sx, sy, tx, ty);
        Assert.True(w.Triangles > n, $"{w.Triangles} triangles");
        var f = Enumerable.Range(0, n).Select(i => 2 + 3 * sx[i] - 5 * sy[i]).ToArray();
        var g = w.Apply(f);
        var rowSums = new double[w.RowCount]; var nnz = new int[w.RowCount];
        for (int q = 0; q < w.Values.Length; q++) { rowSums[w.Rows[q]] += w.Values[q]; nnz[w.Rows[q]]++; Assert.True(w.Values[q] > 0); }
        int inside = 0;
        double hx = sx.Max() - 0.02, lx = sx.Min() + 0.02, hy = sy.Max() - 0.02, ly = sy.Min() + 0.02;
        for (int m = 0; m < w.RowCount; m++)
        {
            Assert.Equal(1, rowSums[m], 12);
            Assert.InRange(nnz[m], 1, 3);
            if (tx[m] > lx && tx[m] < hx && ty[m] > ly && ty[m] < hy && tx[m] * tx[m] + ty[m] * ty[m] < 0.81)
            {
                inside++;
                Assert.Equal(2 + 3 * tx[m] - 5 * ty[m], g[m], 10);
            }
        }
        Assert.True(inside > w.RowCount / 2);
        Assert.True(w.OutsideHull > 0, "the outer ribbon row leaves the hull of the random points");

        // The torch sparse product agrees with the reference.
        using var mat = w.ToTorch();
        using var v = tensor(f.Select(q => (float)q).ToArray()).view(1, 1, n);
        using var r = SparseResampling.Resample(mat, v);
        Assert.Equal([1L, 1, w.RowCount], r.shape);
        for (int m = 0; m < w.RowCount; m += 37) Assert.Equal(g[m], r[0, 0, m].item<float>(), 4);
    }

    [Fact]
    public void PixelGridResamplingIsExactOnLinearImages()
    {
        // The regular grid is a degenerate (co-circular) Delaunay input; interpolation must still be exact for linear functions.
        var (gx, gy) = SpiralDenoiser.PixelGrid(16);
        var s = SpiralSampling.ForImage(16);
        var w = BarycentricResampler.Build(gx, gy, s.X, s.Y);
        var g = w.Apply(gx.Select((x, i) => 1 - x + 0.5 * gy[i]).ToArray());
        for (int i = 0; i < s.Samples; i++)
            if (Math.Abs(s.X[i]) < 15.0 / 16 && Math.Abs(s.Y[i]) < 15.0 / 16) Assert.Equal(1 - s.X[i] + 0.5 * s.Y[i], g[i], 10);
        // Spiral points beyond the square of pixel centres (|x| or |y| > 15/16, near r = 1) are extrapolated: count them.
        int beyond = Enumerable.Range(0, s.Samples).Count(i => Math.Abs(s.X[i]) > 15.0 / 16 + 1e-12 || Math.Abs(s.Y[i]) > 15.0 / 16 + 1e-12);
        Assert.True(beyond > 0);
        Assert.Equal(beyond, w.OutsideHull);
    }

    [Fact]
    public void SpiralConvolutionIsNearlyRotationEquivariantWhereTheSameCartesianConvolutionIsNot()
    {
        // One convolution with an anisotropic (Sobel) kernel. On the pixel grid it is a fixed x-derivative, so it
        // cannot commute with rotations; on the spiral ribbon its axes are the local radial and angular directions,
        // which turn with the image. Inputs are smooth blobs rendered analytically at rotated positions, so the only
        // grid-rotation error is the bilinear rotation of the output (measured below as the floor).
        int n = 48, atoms = 6;
        var rng = new Random(3);
        var pts = Enumerable.Range(0, atoms).Select(_ => (x: rng.NextDouble() * 1.2 - 0.6, y: rng.NextDouble() * 1.2 - 0.6)).ToArray();
        Tensor Render(double th) => Projector.Render(
            tensor(pts.SelectMany(p => new[] { Math.Cos(th) * p.x - Math.Sin(th) * p.y, Math.Sin(th) * p.x + Math.Cos(th) * p.y }).ToArray(), dtype: float64).view(1, atoms, 2),
            full(1, atoms, 0.1, dtype: float64), ones(1, atoms, dtype: float64), n);
        var sobel = tensor(new float[] { -1, 0, 1, -2, 0, 2, -1, 0, 1 }).view(1, 1, 3, 3);
        using var spiral = new SpiralDenoiser(n, new DenoiserOptions { Depth = 1 });
        using var cartesian = new CartesianDenoiser(new DenoiserOptions { Depth = 1 });
        foreach (var m in new Module<Tensor, Tensor>[] { spiral, cartesian })
        {
            using var _ = no_grad();
            foreach (var (name, p) in m.named_parameters()) { if (name.EndsWith("weight")) p.copy_(sobel); else p.zero_(); }
            m.eval();
        }
        using var mask = ImageOps.DiscMask(n, 0.85);
        double Error(Module<Tensor, Tensor> m, double th)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var fx = m.forward(Render(0));
            var d = m.forward(Render(th)) - ImageOps.Rotate(fx, [th]);
            return (d.square() * mask).sum().item<float>() / (fx.square() * mask).sum().item<float>();
        }
        foreach (var th in new[] { 0.3, 0.7, Math.PI / 2, 2.0 })
        {
            double es = Error(spiral, th), ec = Error(cartesian, th);
            Assert.True(es < 0.01, $"θ={th}: spiral relative equivariance error {es}");
            Assert.True(ec > 0.05 && ec > 20 * es, $"θ={th}: Cartesian {ec} vs spiral {es}");
        }
    }
}
