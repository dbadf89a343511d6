using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Tests.Foundation;

[Trait("Category", "Unit")]
public class TorchTests
{
    [Fact]
    public void AutogradThroughConvolutionMatchesFiniteDifferences()
    {
        Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        using var gen = new Generator(1, CPU);
        var conv = SeededInit.Apply(nn.Conv2d(3, 4, 3, padding: 1, dtype: ScalarType.Float64), gen);
        var x = rand(new long[] { 1, 3, 8, 8 }, dtype: ScalarType.Float64, generator: gen).requires_grad_(true);
        var y = conv.forward(x).tanh().pow(2).sum();
        y.backward();
        var g = x.grad!;
        // central difference on one entry
        double eps = 1e-6;
        var xp = x.detach().clone(); xp[0, 1, 3, 4] += eps;
        var xm = x.detach().clone(); xm[0, 1, 3, 4] -= eps;
        double fd = (conv.forward(xp).tanh().pow(2).sum().item<double>() - conv.forward(xm).tanh().pow(2).sum().item<double>()) / (2 * eps);
        Assert.Equal(fd, g[0, 1, 3, 4].item<double>(), 6);
        Assert.True(g.abs().sum().item<double>() > 0);
    }

    [Fact]
    public void UnknownDeviceIsAClearError()
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.Resolve("tpu"));
        Assert.Contains("expected 'cpu', 'cuda' or 'cuda:N'", e.Message);
        Assert.Equal(DeviceType.CPU, Devices.Resolve("cpu").type);
    }

    /// <summary>
    /// On every machine the CPU resolves; without CUDA, asking for it names the two ways to get it; with CUDA, "cuda" is
    /// device 0, an index past the last device is a clear error, and a float64 convolution there matches the CPU's.
    /// </summary>
    [Fact]
    public void CudaIsUsedWhenPresentAndOtherwiseNamesTheRecipe()
    {
        Assert.Equal(DeviceType.CPU, Devices.Resolve(null).type);
        Assert.Equal(DeviceType.CPU, Devices.Resolve(" CPU ").type);
        if (!cuda.is_available())
        {
            foreach (var name in new[] { "cuda", "cuda:1" })
            {
                var e = Assert.Throws<InvalidOperationException>(() => Devices.Resolve(name));
                Assert.Contains("TorchBackend=cuda", e.Message);
                Assert.Contains("with-torch-wheel.sh", e.Message);
            }
            return;
        }
        var d = Devices.Resolve("cuda");
        Assert.Equal(DeviceType.CUDA, d.type);
        Assert.Equal(0, d.index);
        int n = cuda.device_count();
        Assert.Contains($"has {n} CUDA device(s)", Assert.Throws<ArgumentException>(() => Devices.Resolve($"cuda:{n}")).Message);
        using var scope = NewDisposeScope();
        using var gen = new Generator(2, CPU);
        var conv = SeededInit.Apply(nn.Conv2d(3, 4, 3, padding: 1, dtype: ScalarType.Float64), gen);
        var x = rand(new long[] { 2, 3, 8, 8 }, dtype: ScalarType.Float64, generator: gen);
        var onCpu = conv.forward(x);
        conv.to(d);
        var onGpu = conv.forward(x.to(d)).cpu();
        Assert.True((onCpu - onGpu).abs().max().item<double>() < 1e-10, "float64 convolution on CUDA differs from the CPU's");
    }
}
