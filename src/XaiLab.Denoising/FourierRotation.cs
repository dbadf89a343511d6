using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>
/// Band-limited ("Fourier") rotation of images: each image is zero-padded to <c>pad·n</c>, its trigonometric
/// interpolant <c>f(p) = Re Σ_k X̂(k)·exp(2πi k·p / L) / L²</c> (the sinc interpolation of the padded samples) is
/// evaluated exactly at the rotated pixel centres <c>R_−θ p</c>. Unlike bilinear interpolation it neither smooths nor
/// depends on the sub-pixel offset; frequencies beyond ½ cycle/pixel in radius are dropped first (see bandLimit), so a smooth image rotates to within float precision, quarter turns are exact pixel
/// permutations, and an isotropic filter commutes with it to ≈ 1e-6 on the disc (<c>DenoisingMetrics.EquivarianceError</c>).
/// The padding keeps the periodic copies of the interpolant away from the image. Cost per image: two complex matrix
/// products of <c>L×L</c> by <c>L×n²</c> (evaluated in chunks of 16 images).
/// </summary>
public static class FourierRotation
{
    /// <summary>
    /// Rotates each image about the image centre by its angle (radians, counter-clockwise in (x, y), as
    /// <see cref="ImageOps.Rotate"/>: the content at p moves to R_θ p).
    /// </summary>
    /// <param name="images"><c>[B,C,n,n]</c> real (float32 or float64).</param>
    /// <param name="angles">B angles in radians.</param>
    /// <param name="pad">Zero-padding factor ≥ 1 (default 2).</param>
    /// <param name="bandLimit">Drop the frequencies beyond the inscribed disc |f| ≤ ½ cycle/pixel before rotating
    /// (default true). Those corners of the square spectrum would rotate out of the grid and alias to mid frequencies;
    /// the disc is the part of the grid's spectrum that a rotation maps onto itself.</param>
    /// <returns><c>[B,C,n,n]</c> in the dtype and on the device of <paramref name="images"/>.</returns>
    public static Tensor Rotate(Tensor images, IReadOnlyList<double> angles, int pad = 2, bool bandLimit = true)
    {
        if (images.dim() != 4 || images.shape[2] != images.shape[3])
            throw new ArgumentException($"images must be [B,C,n,n], got [{string.Join(",", images.shape)}].");
        if (angles.Count != images.shape[0]) throw new ArgumentException($"Expected {images.shape[0]} angles, got {angles.Count}.");
        if (pad < 1) throw new ArgumentException($"pad must be ≥ 1, got {pad}.");
        int b = (int)images.shape[0], c = (int)images.shape[1], n = (int)images.shape[2];
        int L = pad * n; if ((L - n) % 2 == 1) L++;
        int o = (L - n) / 2;
        double centre = (L - 1) / 2.0;
        var outputs = new List<Tensor>();
        using var scope = NewDisposeScope();
        var dev = images.device;
        var k = fft.fftfreq(L, 1.0 / L, dtype: float64, device: dev);                 // integer frequencies [L]
        var keep = bandLimit ? ((k.view(-1, 1).square() + k.view(1, -1).square()) <= (L / 2.0) * (L / 2.0)).to(float64) : ones(L, L, dtype: float64, device: dev);
        var jj = arange(n, dtype: float64, device: dev) + o - centre;                 // offsets of the output pixels
        var dx = jj.view(1, n).expand(n, n).reshape(-1);                              // column offset of pixel P
        var dy = jj.view(n, 1).expand(n, n).reshape(-1);                              // row offset
        for (int s = 0; s < b; s += 16)
        {
            int m = Math.Min(16, b - s);
            var part = images[s..(s + m)].to(float64);
            var padded = nn.functional.pad(part, [o, L - n - o, o, L - n - o]);
            var X = fft.fft2(padded) * keep;                                          // [m,C,L,L] (ky, kx)
            var cos = tensor(angles.Skip(s).Take(m).Select(Math.Cos).ToArray(), dtype: float64, device: dev).view(m, 1);
            var sin = tensor(angles.Skip(s).Take(m).Select(Math.Sin).ToArray(), dtype: float64, device: dev).view(m, 1);
            // (R_θ f)(p) = f(R_−θ p): source column u = centre + c·dx + s·dy, source row v = centre − s·dx + c·dy.
            var u = centre + cos * dx + sin * dy;                                     // [m,P]
            var v = centre - sin * dx + cos * dy;
            var eu = polar(ones(m, n * n, L, dtype: float64, device: dev), 2 * Math.PI / L * u.unsqueeze(-1) * k).to(complex128); // [m,P,kx]
            var ev = polar(ones(m, L, n * n, dtype: float64, device: dev), 2 * Math.PI / L * k.view(1, L, 1) * v.unsqueeze(1)).to(complex128); // [m,ky,P]
            var a = matmul(X.reshape(m, c * L, L), eu.transpose(1, 2)).view(m, c, L, n * n); // Σ_kx → [m,C,ky,P]
            var f = (a * ev.unsqueeze(1)).sum(2).real / ((double)L * L);              // Σ_ky → [m,C,P]
            outputs.Add(f.view(m, c, n, n).to(images.dtype));
        }
        return cat(outputs, 0).MoveToOuterDisposeScope();
    }
}

/// <summary>The isotropic part of the grid's spectrum.</summary>
public static class BandLimit
{
    /// <summary>
    /// Keeps the spatial frequencies with |f| ≤ ½ cycle/pixel (the disc inscribed in the square DFT spectrum) of images
    /// <c>[B,C,n,n]</c> (periodic, unitary DFT). White noise projected so is isotropic: its distribution is invariant
    /// under every rotation, not only quarter turns.
    /// </summary>
    public static Tensor ToDisc(Tensor images)
    {
        if (images.dim() != 4 || images.shape[2] != images.shape[3]) throw new ArgumentException($"Expected images [B,C,n,n], got [{string.Join(",", images.shape)}].");
        using var scope = NewDisposeScope();
        int n = (int)images.shape[^1];
        var f = fft.fftfreq(n, dtype: float64, device: images.device);
        var keep = ((f.view(-1, 1).square() + f.view(1, -1).square()) <= 0.25).to(float64);
        return fft.ifft2(fft.fft2(images.to(float64)) * keep).real.to(images.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The fraction of DFT frequencies inside the disc (≈ π/4): the variance white noise keeps under <see cref="ToDisc"/>.</summary>
    public static double KeptFraction(int n)
    {
        var f = Enumerable.Range(0, n).Select(i => (i < (n + 1) / 2 ? i : i - n) / (double)n).ToArray();
        int kept = 0;
        foreach (var a in f) foreach (var b in f) if (a * a + b * b <= 0.25) kept++;
        return kept / (double)(n * n);
    }
}
