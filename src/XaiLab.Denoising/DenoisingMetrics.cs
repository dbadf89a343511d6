using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>
/// Fidelity and equivariance measures (thesis §7.4, Figs 7.7–7.9). All are measured inside the unit disc
/// (Eq 7.2, <see cref="ImageOps.DiscMask"/>), the domain the denoising problem is posed on.
/// </summary>
public static class DenoisingMetrics
{
    /// <summary>Mean squared error over the disc pixels of all images; <paramref name="estimate"/>, <paramref name="clean"/> <c>[B,1,n,n]</c>.</summary>
    public static double DiscMse(Tensor estimate, Tensor clean)
    {
        if (!estimate.shape.SequenceEqual(clean.shape)) throw new ArgumentException($"Shapes differ: [{string.Join(",", estimate.shape)}] vs [{string.Join(",", clean.shape)}].");
        using var scope = NewDisposeScope();
        var mask = ImageOps.DiscMask((int)clean.shape[^1], device: clean.device);
        var d = (estimate - clean).square() * mask;
        return d.sum().item<float>() / (mask.sum().item<float>() * clean.shape[0] * clean.shape[1]);
    }

    /// <summary>PSNR in dB for a peak value of 1 (clean projections are scaled to peak 1): <c>10·log10(1/MSE)</c>.</summary>
    public static double Psnr(double mse) => 10 * Math.Log10(1.0 / mse);

    /// <summary>
    /// The relative equivariance error <c>E‖F(R_θ x) − R_θ F(x)‖² / E‖F(x)‖²</c> (norms inside the disc), with one
    /// uniformly random angle θ ∈ [0, 2π) per image drawn from <paramref name="rng"/> and R_θ the bilinear image
    /// rotation <see cref="ImageOps.Rotate"/>. 0 for an exactly equivariant F (up to interpolation error).
    /// <paramref name="denoiser"/> is evaluated as given (call <c>eval()</c> first for batch norm's running statistics).
    /// </summary>
    public static double EquivarianceError(Func<Tensor, Tensor> denoiser, Tensor x, Random rng)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var angles = Enumerable.Range(0, (int)x.shape[0]).Select(_ => 2 * Math.PI * rng.NextDouble()).ToArray();
        var mask = ImageOps.DiscMask((int)x.shape[^1], device: x.device);
        var fx = denoiser(x);
        var a = denoiser(ImageOps.Rotate(x, angles));
        var b = ImageOps.Rotate(fx, angles);
        var num = ((a - b).square() * mask).sum().item<float>();
        var den = (fx.square() * mask).sum().item<float>();
        return num / Math.Max(den, 1e-30);
    }

    /// <summary>
    /// The same relative error for the exact grid rotations by 90°, 180° and 270° (<c>torch.rot90</c>, a pixel
    /// permutation), averaged over the three: <c>Σ_k ‖F(R_k x) − R_k F(x)‖² / (3·‖F(x)‖²)</c> inside the disc.
    /// Free of interpolation error, so it isolates the network's own non-equivariance: a Cartesian CNN is
    /// quarter-turn-equivariant only if its kernels are, while the spiral sampling is not symmetric under any
    /// rotation (an Archimedean spiral turned by θ is the spiral shifted radially by θ/(2π·n_wind)).
    /// </summary>
    public static double QuarterTurnEquivarianceError(Func<Tensor, Tensor> denoiser, Tensor x)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var mask = ImageOps.DiscMask((int)x.shape[^1], device: x.device);
        var fx = denoiser(x);
        double num = 0;
        for (int k = 1; k <= 3; k++)
        {
            var a = denoiser(x.rot90(k, (2, 3)));
            var b = fx.rot90(k, (2, 3));
            num += ((a - b).square() * mask).sum().item<float>();
        }
        var den = (fx.square() * mask).sum().item<float>();
        return num / Math.Max(3 * den, 1e-30);
    }
}
