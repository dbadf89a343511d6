using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>
/// Separable Gaussian convolution <c>γ_σ ⋆ x</c> (Eq 2.25) on <c>[N,C,H,W]</c> tensors, with replicate ("edge")
/// padding so that constant images — in particular the end masks 0 and 1 and the affine start path — are fixed
/// points (a zero padding would pull masks towards 0 at the border and break the mass of the path).
/// The kernel is truncated at 3σ (at least one tap each side) and renormalised to sum 1.
/// </summary>
public static class GaussianFilter
{
    /// <summary>The normalised 1-D kernel of radius ceil(3σ) (≥ 1).</summary>
    public static double[] Kernel(double sigma)
    {
        if (!(sigma > 0) || !double.IsFinite(sigma)) throw new ArgumentException($"Gaussian σ must be finite and > 0; got {sigma}.", nameof(sigma));
        int r = Math.Max(1, (int)Math.Ceiling(3 * sigma));
        var k = new double[2 * r + 1];
        double sum = 0;
        for (int i = -r; i <= r; i++) sum += k[i + r] = Math.Exp(-0.5 * i * i / (sigma * sigma));
        for (int i = 0; i < k.Length; i++) k[i] /= sum;
        return k;
    }

    /// <summary>Blurs <paramref name="x"/> <c>[N,C,H,W]</c> channel by channel with σ in pixels of <paramref name="x"/>; σ ≤ 0 returns a copy.</summary>
    /// <exception cref="ArgumentException">The tensor is not 4-D.</exception>
    public static Tensor Blur(Tensor x, double sigma)
    {
        if (x.dim() != 4) throw new ArgumentException($"GaussianFilter.Blur expects [N,C,H,W]; got [{string.Join(",", x.shape)}].");
        if (sigma <= 0) return x.clone();
        using var scope = NewDisposeScope();
        var k = Kernel(sigma);
        int r = k.Length / 2;
        long c = x.shape[1];
        var k1 = tensor(k, new long[] { 1, 1, 1, k.Length }).to(x.dtype, x.device);
        var kx = k1.expand(c, 1, 1, k.Length);
        var ky = k1.reshape(1, 1, k.Length, 1).expand(c, 1, k.Length, 1);
        // Replicate padding works for any pad width (unlike reflect), so σ may exceed the image size.
        var y = nn.functional.pad(x, new long[] { r, r, 0, 0 }, PaddingModes.Replicate);
        y = nn.functional.conv2d(y, kx, groups: c);
        y = nn.functional.pad(y, new long[] { 0, 0, r, r }, PaddingModes.Replicate);
        y = nn.functional.conv2d(y, ky, groups: c);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Blurs one image <c>[C,H,W]</c>.</summary>
    public static Tensor BlurImage(Tensor image, double sigma)
    {
        if (image.dim() != 3) throw new ArgumentException($"GaussianFilter.BlurImage expects [C,H,W]; got [{string.Join(",", image.shape)}].");
        using var scope = NewDisposeScope();
        return Blur(image.unsqueeze(0), sigma)[0].MoveToOuterDisposeScope();
    }
}
