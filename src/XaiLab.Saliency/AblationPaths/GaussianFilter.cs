using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>
/// Separable Gaussian convolution <c>γ_σ ⋆ x</c> (Eq 2.25) on <c>[N,C,H,W]</c> tensors, with replicate ("edge")
/// padding so that constant images — in particular the end masks 0 and 1 and the affine start path — are fixed
/// points (a zero padding would pull masks towards 0 at the border and break the mass of the path).
/// Implemented as two small matrix products per image (one per axis), so the cost does not grow with σ.
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

    /// <summary>
    /// The blur along one axis of length <paramref name="n"/> as a matrix <c>[n,n]</c>: row i holds the kernel taps
    /// of output i, with taps beyond the border added to the border sample (replicate padding). Applying it is
    /// exactly the padded convolution, at a cost independent of σ (a 601-tap kernel for σ = 100 px costs the same
    /// as 7 taps), which keeps the baseline σ search and the mask regulariser cheap.
    /// </summary>
    public static double[,] AxisMatrix(int n, double sigma)
    {
        var k = Kernel(sigma);
        int r = k.Length / 2;
        var m = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int d = -r; d <= r; d++)
                m[i, Math.Clamp(i + d, 0, n - 1)] += k[d + r];
        return m;
    }

    /// <summary>
    /// Blurs <paramref name="x"/> <c>[N,C,H,W]</c> channel by channel with σ in pixels of <paramref name="x"/>
    /// (<c>G_H · x · G_Wᵀ</c> with the replicate-padded axis matrices of <see cref="AxisMatrix"/>); σ ≤ 0 returns a copy.
    /// Differentiable in <paramref name="x"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is not 4-D.</exception>
    public static Tensor Blur(Tensor x, double sigma)
    {
        if (x.dim() != 4) throw new ArgumentException($"GaussianFilter.Blur expects [N,C,H,W]; got [{string.Join(",", x.shape)}].");
        if (sigma <= 0) return x.clone();
        using var scope = NewDisposeScope();
        int h = (int)x.shape[2], w = (int)x.shape[3];
        var gh = tensor(AxisMatrix(h, sigma)).to(x.dtype, x.device);
        var gw = h == w ? gh : tensor(AxisMatrix(w, sigma)).to(x.dtype, x.device);
        var y = matmul(matmul(gh, x), gw.t());
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
