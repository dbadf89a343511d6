using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Tests.Foundation;

public class TorchTests
{
    [Fact]
    public void AutogradThroughConvolutionMatchesFiniteDifferences()
    {
        Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        manual_seed(1);
        var conv = nn.Conv2d(3, 4, 3, padding: 1, dtype: ScalarType.Float64);
        var x = rand(new long[] { 1, 3, 8, 8 }, dtype: ScalarType.Float64).requires_grad_(true);
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

    [Fact]
    public void CudaWithoutCudaNamesTheRecipe()
    {
        if (cuda.is_available()) return; // on a GPU machine this path is exercised by the device script instead
        var e = Assert.Throws<InvalidOperationException>(() => Devices.Resolve("cuda"));
        Assert.Contains("TorchBackend=cuda", e.Message);
        Assert.Contains("with-torch-wheel.sh", e.Message);
    }
}
