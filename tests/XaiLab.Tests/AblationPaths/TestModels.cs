using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Tests.AblationPaths;

/// <summary>
/// A hand-built smooth classifier whose decision depends on one known region R only: with the region mean
/// <c>r = mean_{R, channels} x</c>, the logits are <c>[gain·(r − threshold), 0, −1]</c> (three classes, so that
/// "ranks first" is a real multi-class question). Works in any floating dtype.
/// </summary>
public sealed class RegionNet : nn.Module<Tensor, Tensor>
{
    readonly Tensor _region; // [H,W] in {0,1}
    readonly double _gain, _threshold;

    public RegionNet(Tensor region, double gain = 20, double threshold = 0.5) : base("region-net")
    {
        _region = region.detach().to_type(ScalarType.Float64).clone();
        _gain = gain; _threshold = threshold;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var reg = _region.to(x.dtype, x.device);
        var r = (x.mean(new long[] { 1 }) * reg).sum(new long[] { 1, 2 }) / reg.sum();
        var l0 = (r - _threshold) * _gain;
        var l1 = zeros_like(l0);
        var l2 = zeros_like(l0) - 1;
        return stack(new[] { l0, l1, l2 }, 1);
    }

    /// <summary>A classifier over <c>[C,H,W]</c> images with region rows [r0,r1) × cols [c0,c1).</summary>
    public static Classifier Classifier(int channels, int h, int w, int r0, int r1, int c0, int c1, double gain = 20, double threshold = 0.5)
    {
        Devices.EnsureNativeLoaded();
        var region = zeros(h, w, dtype: ScalarType.Float64);
        region[TensorIndex.Slice(r0, r1), TensorIndex.Slice(c0, c1)] = 1;
        return new Classifier(new RegionNet(region, gain, threshold), new[] { "region", "other", "never" }, OutputActivation.Softmax,
            channels: channels, inputSize: (h, w), name: "region-net");
    }

    /// <summary>An image that is bright (1) inside the region and seeded noise in [0,0.3] elsewhere.</summary>
    public static Tensor Image(int channels, int h, int w, int r0, int r1, int c0, int c1, int seed = 3, ScalarType dtype = ScalarType.Float32)
    {
        var g = new Generator((ulong)seed, CPU);
        var x = rand(new long[] { channels, h, w }, generator: g, dtype: ScalarType.Float64) * 0.3;
        x[TensorIndex.Colon, TensorIndex.Slice(r0, r1), TensorIndex.Slice(c0, c1)] = 1;
        return x.to_type(dtype);
    }
}

/// <summary>A smooth nonlinear classifier with a nontrivial gradient everywhere (for Theorem 5): logits of a tanh layer.</summary>
public sealed class SmoothNet : nn.Module<Tensor, Tensor>
{
    readonly Tensor _w1, _w2;

    public SmoothNet(int inputs, int hidden, int classes, int seed) : base("smooth-net")
    {
        var g = new Generator((ulong)seed, CPU);
        _w1 = randn(new long[] { inputs, hidden }, dtype: ScalarType.Float64, generator: g) / Math.Sqrt(inputs) * 3;
        _w2 = randn(new long[] { hidden, classes }, dtype: ScalarType.Float64, generator: g);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => matmul(matmul(x.flatten(1), _w1.to(x.dtype)).tanh(), _w2.to(x.dtype));
}

/// <summary>A classifier returning NaN logits (bad input must not loop forever or pass silently).</summary>
public sealed class NanNet : nn.Module<Tensor, Tensor>
{
    public NanNet() : base("nan-net") { }
    public override Tensor forward(Tensor x) => stack(new[] { x.mean(new long[] { 1, 2, 3 }) * double.NaN, zeros(x.shape[0], dtype: x.dtype) }, 1);
}

/// <summary>A classifier that is always ~certain of class 0 whatever the image (scores of ~1 everywhere).</summary>
public sealed class ConstantNet : nn.Module<Tensor, Tensor>
{
    public ConstantNet() : base("constant-net") { }
    public override Tensor forward(Tensor x) => stack(new[] { x.mean(new long[] { 1, 2, 3 }) * 1e-3 + 10, zeros(x.shape[0], dtype: x.dtype) }, 1);
}
