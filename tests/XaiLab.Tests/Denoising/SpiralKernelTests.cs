using TorchSharp;
using XaiLab.Denoising;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Tests.Denoising;

/// <summary>
/// The spiral net's CPU kernels (<see cref="ResamplingKernel"/>, <see cref="RibbonConvolution"/>) against the
/// formulation they replaced: the gather of <see cref="SparseResampling.ToGather"/> and libtorch's conv2d on the ribbon.
/// </summary>
[Trait("Category", "Unit")]
public class SpiralKernelTests
{
    static double Rel(Tensor a, Tensor b) => (a.to(float64) - b.to(float64)).norm().item<double>() / Math.Max(1e-30, b.to(float64).norm().item<double>());

    [Theory]
    [InlineData(3, 4)]
    [InlineData(5, 3)]
    public void TheRibbonConvolutionEqualsConv2dValidAcrossTheRibbonAndItsGradients(int k, int channels)
    {
        var g = new Generator(21);
        int n = SpiralSampling.ForImage(16).Samples;
        using var ribbon = randn(new long[] { 3, channels, k, n }, generator: g).requires_grad_(true);
        using var weight = randn(new long[] { 1, channels, k, k }, generator: g).requires_grad_(true);
        using var bias = randn(new long[] { 1 }, generator: g).requires_grad_(true);
        using var a = nn.functional.conv2d(ribbon, weight, bias, padding: new long[] { 0, k / 2 });
        using var b = RibbonConvolution.Apply(ribbon, weight, bias);
        Assert.Equal(a.shape, b.shape);
        Assert.True(Rel(b, a) < 1e-6, $"forward: relative difference {Rel(b, a):E2}");
        using var probe = randn(a.shape, generator: g);
        var ga = autograd.grad([(a * probe).sum()], [ribbon, weight, bias]);
        var gb = autograd.grad([(b * probe).sum()], [ribbon, weight, bias]);
        string[] names = ["ribbon", "weight", "bias"];
        for (int i = 0; i < 3; i++) Assert.True(Rel(gb[i], ga[i]) < 1e-6, $"{names[i]} gradient: relative difference {Rel(gb[i], ga[i]):E2}");
        Assert.Throws<ArgumentException>(() => RibbonConvolution.Apply(ribbon, randn(2, channels, k, k), bias));
        Assert.Throws<ArgumentException>(() => RibbonConvolution.Apply(ribbon.to(float64), weight.to(float64), bias.to(float64)));
    }

    [Fact]
    public void TheResamplingKernelEqualsTheGatherOnEveryMatrixOfANetIncludingPaddedRows()
    {
        using var net = new SpiralDenoiser(16, new DenoiserOptions { KernelSize = 5, RadialPrior = false });
        var g = new Generator(22);
        foreach (var m in net.Resamplings)
        {
            Assert.Contains(Enumerable.Range(0, m.RowCount), r => m.Rows.Count(q => q == r) < 3);     // some rows are padded
            var kernel = new ResamplingKernel(m);
            var (idx, wt) = m.ToGather();
            using var _i = idx; using var _w = wt;
            using var x = randn(new long[] { 2, 3, m.ColCount }, generator: g).requires_grad_(true);
            using var a = SparseResampling.Gather(idx, wt, x);
            using var b = kernel.Apply(x);
            Assert.True(Rel(b, a) < 1e-6);
            using var probe = randn(a.shape, generator: g);
            var ga = autograd.grad([(a * probe).sum()], [x])[0];
            var gb = autograd.grad([(b * probe).sum()], [x])[0];
            Assert.True(Rel(gb, ga) < 1e-6, $"{m.RowCount}×{m.ColCount}: gradient relative difference {Rel(gb, ga):E2}");
        }
    }

    /// <summary>
    /// The net as it was computed before the CPU kernels: every resampling a gather, every layer libtorch's conv2d on the
    /// ribbon, batch norm in training mode with the net's own parameters (running statistics copied, not updated).
    /// </summary>
    static Tensor Reference(SpiralDenoiser net, Tensor x, int rows)
    {
        var p = net.named_parameters().ToDictionary(t => t.name, t => t.parameter);
        var buf = net.named_buffers().ToDictionary(t => t.name, t => t.buffer);
        var mats = net.Resamplings.Select(m => m.ToGather()).ToArray();
        int depth = p.Keys.Count(k => k.StartsWith("convs.") && k.EndsWith(".weight")), n = (int)x.shape[^1], ns = net.Spiral.Samples;
        long b = x.shape[0];
        var h = x.reshape(b, x.shape[1], n * n);
        for (int l = 0; l < depth; l++)
        {
            var (i, w) = mats[l == 0 ? 0 : 1];
            var ribbon = SparseResampling.Gather(i, w, h).view(b, h.shape[1], rows, ns);
            h = nn.functional.conv2d(ribbon, p[$"convs.{l}.weight"], p[$"convs.{l}.bias"], padding: new long[] { 0, rows / 2 }).squeeze(2);
            if (l < depth - 1)
                h = nn.functional.relu(nn.functional.batch_norm(h, buf[$"norms.{l}.running_mean"].clone(), buf[$"norms.{l}.running_var"].clone(),
                    p[$"norms.{l}.weight"], p[$"norms.{l}.bias"], training: true));
        }
        var (gi, gw) = mats[2];
        return SparseResampling.Gather(gi, gw, h).view(b, 1, n, n);
    }

    [Theory]
    [InlineData(3, 2)]
    [InlineData(5, 1)]
    public void TheSpiralNetOnTheCpuKernelsEqualsTheGatherAndConv2dFormulationInOutputAndAllGradients(int k, int inputs)
    {
        var init = new Generator(23);
        using var net = new SpiralDenoiser(16, new DenoiserOptions { Depth = 4, Width = 6, KernelSize = k, RadialPrior = false }, inputs);
        SeededInit.Apply(net, init);
        net.train();
        var g = new Generator(24);
        using var x = randn(new long[] { 3, inputs, 16, 16 }, generator: g).requires_grad_(true);
        using var yNew = net.forward(x);
        using var yRef = Reference(net, x, k);
        Assert.Equal(yRef.shape, yNew.shape);
        Assert.True(Rel(yNew, yRef) <= 1e-5, $"forward: relative difference {Rel(yNew, yRef):E2}");
        using var probe = randn(yRef.shape, generator: g);
        var wrt = net.parameters().Cast<Tensor>().Append(x).ToArray();
        var gNew = autograd.grad([(yNew * probe).sum()], wrt);
        var gRef = autograd.grad([(yRef * probe).sum()], wrt);
        var names = net.named_parameters().Select(t => t.name).Append("input").ToArray();
        int depth = 4;
        for (int i = 0; i < wrt.Length; i++)
        {
            if (Enumerable.Range(0, depth - 1).Any(l => names[i] == $"convs.{l}.bias"))
            {
                // A bias followed by training-mode batch norm has gradient exactly 0 (the norm removes the channel mean):
                // both formulations must give rounding noise only, far below the layer's weight gradient.
                double scale = gRef[Array.IndexOf(names, names[i].Replace("bias", "weight"))].norm().item<float>();
                Assert.True(gNew[i].norm().item<float>() <= 1e-4 * scale && gRef[i].norm().item<float>() <= 1e-4 * scale, $"{names[i]}: expected ≈ 0");
                continue;
            }
            Assert.True(Rel(gNew[i], gRef[i]) <= 1e-5, $"{names[i]}: gradient relative difference {Rel(gNew[i], gRef[i]):E2}");
        }
    }
}
