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
    /// The relative equivariance error on the disc (thesis Definition 5, Eq 7.1–7.3, Figs 7.7–7.9):
    /// <c>Σ_i ‖D·(F(R_θi x_i) − R_θi F(x_i))‖² / Σ_i ‖D·(F(x_i) − mean_D F(x_i))‖²</c>, with D the disc mask
    /// (<see cref="ImageOps.DiscMask"/>), R the band-limited <see cref="FourierRotation"/> and one angle per image; x is
    /// first projected onto the frequencies |f| ≤ ½ cycle/pixel (<see cref="BandLimit.ToDisc"/>, a no-op for the isotropic
    /// noise of the data but for the window's rim), the part of the spectrum a rotation maps onto itself.
    /// The denominator is the non-constant part of the output, so a filter that mostly returns a constant cannot look
    /// equivariant by being large. The inputs should vanish outside the disc (the data of <see cref="ProjectionDataset"/>
    /// do, <see cref="ProjectionDataOptions.MaskToDisc"/>, through the smooth window <see cref="ImageOps.InputWindow"/>). With this rotation an
    /// isotropic filter (a Gaussian low-pass) scores ≤ 1e-3 at any angle — the measured floor is
    /// <see cref="EquivarianceFloor"/>; the bilinear rotation with border padding (<see cref="BilinearEquivarianceError"/>)
    /// has a floor of 0.05–0.18 at SNR 1/64. <paramref name="denoiser"/> is evaluated as given (call <c>eval()</c> first).
    /// </summary>
    /// <param name="denoiser">F: <c>[B,1,n,n]</c> → <c>[B,1,n,n]</c>.</param>
    /// <param name="x">Inputs <c>[B,1,n,n]</c>.</param>
    /// <param name="angles">One angle (radians) per image.</param>
    public static double EquivarianceError(Func<Tensor, Tensor> denoiser, Tensor x, IReadOnlyList<double> angles)
    {
        if (angles.Count != x.shape[0]) throw new ArgumentException($"Expected {x.shape[0]} angles, got {angles.Count}.");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var mask = ImageOps.DiscMask((int)x.shape[^1], device: x.device);
        var xb = BandLimit.ToDisc(x);          // both branches see the band-limited input the rotation acts on
        var fx = denoiser(xb);
        var a = denoiser(FourierRotation.Rotate(xb, angles));
        var b = FourierRotation.Rotate(fx, angles);
        var num = ((a - b).square() * mask).to(float64).sum().item<double>();
        var mean = (fx * mask).sum([2, 3], keepdim: true) / mask.sum();
        var den = ((fx - mean).square() * mask).to(float64).sum().item<double>();
        return num / Math.Max(den, 1e-300);
    }

    /// <summary>
    /// <see cref="EquivarianceError(Func{Tensor, Tensor}, Tensor, IReadOnlyList{double})"/> with one uniformly random
    /// angle θ ∈ [0, 2π) per image drawn from <paramref name="rng"/>.
    /// </summary>
    public static double EquivarianceError(Func<Tensor, Tensor> denoiser, Tensor x, Random rng) =>
        EquivarianceError(denoiser, x, RandomAngles((int)x.shape[0], rng));

    /// <summary>B uniformly random angles in [0, 2π).</summary>
    public static double[] RandomAngles(int count, Random rng) => Enumerable.Range(0, count).Select(_ => 2 * Math.PI * rng.NextDouble()).ToArray();

    /// <summary>
    /// The floor of <see cref="EquivarianceError(Func{Tensor, Tensor}, Tensor, IReadOnlyList{double})"/>: its value for
    /// an exactly isotropic filter (a Gaussian low-pass of <paramref name="sigmaPixels"/>, which commutes with every
    /// rotation of the plane; applied as a linear, not circular, convolution: <see cref="LinearLowPass"/>) on the same inputs and angles. What remains is the rotation's own error (rim pixels of the
    /// disc, float rounding); an error close to it cannot be told from exact equivariance.
    /// </summary>
    public static double EquivarianceFloor(Tensor x, IReadOnlyList<double> angles, double sigmaPixels = 1.5) =>
        EquivarianceError(y => LinearLowPass(y, sigmaPixels), x, angles);

    /// <summary>
    /// The isotropic filter of <see cref="EquivarianceFloor"/>: <see cref="GaussianLowPass.Apply"/> on the images
    /// zero-padded by ⌈6σ⌉ pixels on every side, cropped back to n×n — a linear convolution with the Gaussian. The
    /// unpadded filter is circular: what lies within ~3σ of one edge of the square wraps into the opposite edge, and the
    /// disc touches all four edges at their midpoints, where a rotation does not map the square onto itself. That wrap
    /// was the floor's remaining error: at n = 32, SNR 1/64, 30° (16 images) the circular filter scores 2.2e-4, 7.5e-4 and
    /// 2.3e-3 at σ 1, 1.5 and 2 px, the linear one 8.5e-5, 1.1e-4 and 1.5e-4 (benchmarks/denoise-cpu.txt).
    /// </summary>
    public static Tensor LinearLowPass(Tensor images, double sigmaPixels)
    {
        if (images.dim() != 4) throw new ArgumentException($"Expected images [B,C,H,W], got [{string.Join(",", images.shape)}].");
        using var scope = NewDisposeScope();
        int pad = (int)Math.Ceiling(6 * sigmaPixels), h = (int)images.shape[2], w = (int)images.shape[3];
        if (pad == 0) return images.alias().MoveToOuterDisposeScope();
        var padded = nn.functional.pad(images, [pad, pad, pad, pad]);
        var blurred = GaussianLowPass.Apply(padded, sigmaPixels);
        return blurred[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(pad, pad + h), TensorIndex.Slice(pad, pad + w)].contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The earlier measure kept for comparison: <c>E‖F(R_θ x) − R_θ F(x)‖² / E‖F(x)‖²</c> inside the disc with the
    /// bilinear <see cref="ImageOps.Rotate"/> (border padding). Its floor — the value for an isotropic filter — is
    /// 0.05–0.18 at SNR 1/64 because bilinear interpolation smooths by an angle-dependent amount and the constant part
    /// of F(x) sits in the denominator; do not use it to compare nets.
    /// </summary>
    public static double BilinearEquivarianceError(Func<Tensor, Tensor> denoiser, Tensor x, Random rng)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var angles = RandomAngles((int)x.shape[0], rng);
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
    /// permutation), averaged over the three: <c>Σ_k ‖F(R_k x) − R_k F(x)‖² / (3·‖F(x) − mean_D F(x)‖²)</c> inside the disc (non-constant part in the denominator).
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
        var mean = (fx * mask).sum([2, 3], keepdim: true) / mask.sum();
        var den = ((fx - mean).square() * mask).sum().item<float>();
        return num / Math.Max(3 * den, 1e-30);
    }
}
