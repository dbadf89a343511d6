using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Tests.Methods;

/// <summary>Hand-built classifiers with known behaviour for the method and evaluation tests.</summary>
public static class TestModels
{
    /// <summary>A smooth float64 net: conv 3→4 (3×3), tanh, flatten, linear → 3 logits; sigmoid scores. Weights: <see cref="SeededInit"/> with <paramref name="seed"/>.</summary>
    public static Classifier SmoothFloat64(int size = 8, long seed = 3)
    {
        Devices.EnsureNativeLoaded();
        var net = SeededInit.Apply(nn.Sequential(("conv", nn.Conv2d(3, 4, 3, padding: 1, dtype: ScalarType.Float64)), ("tanh", nn.Tanh()),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(4 * size * size, 3, dtype: ScalarType.Float64))), (ulong)seed);
        return new Classifier(net, new[] { "a", "b", "c" }, OutputActivation.Sigmoid, inputSize: (size, size), name: "smooth64");
    }

    /// <summary>
    /// A linear single-channel model: logit 0 = Σ v_i x_i over the flattened <c>[1,h,w]</c> image, logit 1 = 0; sigmoid scores,
    /// so F_0 = sigmoid(v·x).
    /// </summary>
    public static Classifier LinearSigmoid(double[] v, int h, int w, ScalarType dtype = ScalarType.Float32)
    {
        Devices.EnsureNativeLoaded();
        var lin = nn.Linear(h * w, 2, hasBias: false, dtype: dtype);
        using (no_grad())
        {
            var wt = zeros(2, h * w, dtype: dtype);
            wt[0] = tensor(v, dtype: dtype);
            lin.weight!.copy_(wt);
        }
        var net = nn.Sequential(("flatten", nn.Flatten()), ("fc", lin));
        return new Classifier(net, new[] { "pos", "zero" }, OutputActivation.Sigmoid, channels: 1, inputSize: (h, w), name: "linear");
    }

    /// <summary>A seeded random small conv net on 3×size×size images with <paramref name="classes"/> softmax classes (<see cref="SeededInit"/>).</summary>
    public static Classifier SmallConv(int classes = 3, int size = 16, long seed = 1)
    {
        Devices.EnsureNativeLoaded();
        var net = SeededInit.Apply(nn.Sequential(("conv1", nn.Conv2d(3, 6, 3, padding: 1)), ("relu1", nn.ReLU()), ("conv2", nn.Conv2d(6, 8, 3, padding: 1)), ("relu2", nn.ReLU()),
            ("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(8, classes))), (ulong)seed);
        return new Classifier(net, Enumerable.Range(0, classes).Select(i => $"c{i}").ToArray(), OutputActivation.Softmax, inputSize: (size, size), name: "smallconv");
    }
}
