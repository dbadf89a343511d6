using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>
/// The Wiener filter (thesis §6.3, [110]) as a yardstick: per spatial frequency k the estimate is
/// <c>Ŝ(k)/(Ŝ(k) + σ²)·X̂(k)</c>, with X̂ the unitary 2-D DFT of the noisy image (so white noise of variance σ² has
/// power σ² at every frequency), σ² the known per-image noise variance, and Ŝ the signal power spectrum estimated
/// from *noisy* training images: <c>Ŝ(k) = max(0, mean_i |X̂_i(k)|² − mean_i σ_i²)</c>, averaged over rings of equal
/// |k| (the data is rotation-invariant in distribution, and the ring average lowers the estimator's variance).
/// Linear, shift-invariant (periodic) and — up to the grid — rotation-equivariant.
/// </summary>
public sealed class WienerFilter : IDisposable
{
    /// <summary>The estimated signal power spectrum <c>[n,n]</c> (unitary DFT, unshifted: k = 0 at [0,0]).</summary>
    public Tensor SignalSpectrum { get; }
    /// <summary>The side n of the images the filter was fitted for (it applies only to <c>[…,n,n]</c> images).</summary>
    public int ImageSize { get; }

    WienerFilter(Tensor s, int n) { SignalSpectrum = s; ImageSize = n; }

    /// <summary>Fits Ŝ from noisy images <c>[N,1,n,n]</c> and their noise standard deviations (length N).</summary>
    public static WienerFilter FitFromNoisy(Tensor noisy, IReadOnlyList<double> noiseStd)
    {
        Check(noisy, noiseStd);
        using var scope = NewDisposeScope();
        int n = (int)noisy.shape[^1];
        var power = Power(noisy);
        double noise = noiseStd.Average(s => s * s);
        var s = RingAverage(power - noise, n).clamp_min(0);
        return new WienerFilter(s.DetachFromDisposeScope(), n);
    }

    /// <summary>Fits Ŝ from clean images (an oracle spectrum, for comparison).</summary>
    public static WienerFilter FitFromClean(Tensor clean)
    {
        Check(clean, null);
        using var scope = NewDisposeScope();
        int n = (int)clean.shape[^1];
        return new WienerFilter(RingAverage(Power(clean), n).DetachFromDisposeScope(), n);
    }

    /// <summary>Filters noisy images <c>[B,1,n,n]</c> given each one's noise standard deviation.</summary>
    public Tensor Apply(Tensor noisy, IReadOnlyList<double> noiseStd)
    {
        Check(noisy, noiseStd);
        if (noisy.shape[^1] != ImageSize) throw new ArgumentException($"Filter was fitted for {ImageSize}×{ImageSize} images, got [{string.Join(",", noisy.shape)}].");
        using var scope = NewDisposeScope();
        var s = SignalSpectrum.to(float64).to(noisy.device);
        var v = tensor(noiseStd.Select(x => x * x).ToArray(), dtype: float64, device: noisy.device).view(-1, 1, 1, 1);
        var total = s + v;
        var gain = where(total > 0, s / total.clamp_min(1e-300), ones_like(total)); // no signal and no noise: pass through
        var X = fft.fft2(noisy.to(float64), norm: FFTNormType.Ortho);
        return fft.ifft2(X * gain, norm: FFTNormType.Ortho).real.to(noisy.dtype).MoveToOuterDisposeScope();
    }

    static void Check(Tensor x, IReadOnlyList<double>? std)
    {
        if (x.dim() != 4 || x.shape[1] != 1 || x.shape[2] != x.shape[3]) throw new ArgumentException($"Expected images [N,1,n,n], got [{string.Join(",", x.shape)}].");
        if (std is not null && std.Count != x.shape[0]) throw new ArgumentException($"Expected {x.shape[0]} noise levels, got {std.Count}.");
    }

    // Mean over images of |unitary DFT|², [n,n] float64.
    static Tensor Power(Tensor x) => fft.fft2(x.to(float64), norm: FFTNormType.Ortho).abs().square().mean([0, 1]);

    /// <summary>Averages a spectrum <c>[n,n]</c> over rings of equal integer-rounded |k| (DFT frequencies).</summary>
    static Tensor RingAverage(Tensor p, int n)
    {
        var f = fft.fftfreq(n, 1.0 / n, dtype: float64);              // integer frequencies
        var radius = (f.view(-1, 1).square() + f.view(1, -1).square()).sqrt().round().to(int64).flatten();
        long bins = radius.max().item<long>() + 1;
        var sums = zeros(bins, dtype: float64).index_add(0, radius, p.flatten(), 1.0);
        var counts = zeros(bins, dtype: float64).index_add(0, radius, ones_like(p.flatten()), 1.0);
        return (sums / counts).index_select(0, radius).view(n, n);
    }

    /// <summary>Disposes <see cref="SignalSpectrum"/>.</summary>
    public void Dispose() => SignalSpectrum.Dispose();
}

/// <summary>A Gaussian low-pass filter (the "plain low-pass" yardstick of §6.3), σ in pixels, applied in Fourier space (periodic).</summary>
public static class GaussianLowPass
{
    /// <summary>Blurs images <c>[B,C,n,n]</c> with a Gaussian of standard deviation <paramref name="sigmaPixels"/> (0 = identity).</summary>
    public static Tensor Apply(Tensor images, double sigmaPixels)
    {
        if (images.dim() != 4) throw new ArgumentException($"Expected images [B,C,H,W], got [{string.Join(",", images.shape)}].");
        if (!(sigmaPixels >= 0)) throw new ArgumentException($"sigma must be ≥ 0, got {sigmaPixels}.");
        using var scope = NewDisposeScope();
        int h = (int)images.shape[2], w = (int)images.shape[3];
        var fy = fft.fftfreq(h, dtype: float64).view(-1, 1);
        var fx = fft.fftfreq(w, dtype: float64).view(1, -1);
        // The Fourier transform of a unit-mass Gaussian of std σ is exp(−2π²σ²|f|²) (f in cycles per pixel).
        var gain = (-2 * Math.PI * Math.PI * sigmaPixels * sigmaPixels * (fx.square() + fy.square())).exp().to(images.device);
        var X = fft.fft2(images.to(float64));
        return fft.ifft2(X * gain).real.to(images.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Chooses σ from <paramref name="candidates"/> (default 0.25…4 px) minimising the disc MSE against
    /// <paramref name="clean"/> on validation data. Returns the best σ and the MSE of every candidate.
    /// </summary>
    public static (double Sigma, double Mse, IReadOnlyList<(double Sigma, double Mse)> Scan) SelectSigma(Tensor noisy, Tensor clean, IEnumerable<double>? candidates = null)
    {
        var c = (candidates ?? [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4]).ToArray();
        if (c.Length == 0) throw new ArgumentException("At least one σ candidate is needed.");
        var scan = new List<(double, double)>();
        foreach (var s in c)
        {
            using var y = Apply(noisy, s);
            scan.Add((s, DenoisingMetrics.DiscMse(y, clean)));
        }
        var best = scan.MinBy(t => t.Item2);
        return (best.Item1, best.Item2, scan);
    }
}
