using static TorchSharp.torch;

namespace XaiLab.Imaging.Filters;

/// <summary>
/// The blur pyramid (stack of blurred copies of one image at the same resolution) shared by the blur-pyramid path space
/// (§2.8.5A) and Extremal Perturbation (Fong, Patrick and Vedaldi 2019).
/// <para>
/// Level order, everywhere: <b>ascending σ</b> — level 0 has the smallest σ (σ₀ = 0 is the image itself), the last level
/// the largest. A reader that wants the opposite order (Extremal Perturbation reads level m·(L−1) with mask m = 1 meaning
/// "keep", i.e. the sharp image last) flips the stack itself and says so.
/// </para>
/// </summary>
public static class GaussianPyramid
{
    /// <summary>
    /// Levels <c>[L,…]</c> for an image <c>[…,H,W]</c> (e.g. <c>[C,H,W]</c> → <c>[L,C,H,W]</c>): level k = <c>γ_{σ_k} ⋆ image</c>
    /// (<see cref="Gaussian.Blur(Tensor, double, BlurBorder?, double)"/> with the given border and truncation; σ = 0 copies).
    /// The result is detached from autograd only if the image is.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than 2 levels, or the σ are not finite, ≥ 0 and ascending.</exception>
    public static Tensor Build(Tensor image, IReadOnlyList<double> sigmas, BlurBorder? border = null, double truncate = Gaussian.DefaultTruncate)
    {
        ArgumentNullException.ThrowIfNull(image); ArgumentNullException.ThrowIfNull(sigmas);
        if (sigmas.Count < 2) throw new ArgumentException($"A blur pyramid needs at least 2 levels; got {sigmas.Count}.", nameof(sigmas));
        for (int k = 0; k < sigmas.Count; k++)
        {
            if (!(sigmas[k] >= 0) || double.IsInfinity(sigmas[k])) throw new ArgumentException($"Pyramid σ must be finite and ≥ 0; level {k} has {sigmas[k]}.", nameof(sigmas));
            if (k > 0 && sigmas[k] < sigmas[k - 1]) throw new ArgumentException($"Pyramid levels must have ascending σ (level 0 = least blurred); got [{string.Join(", ", sigmas)}].", nameof(sigmas));
        }
        using var scope = NewDisposeScope();
        var levels = sigmas.Select(s => Gaussian.Blur(image, s, border, truncate)).ToArray();
        return stack(levels).MoveToOuterDisposeScope();
    }

    /// <summary>Linear spacing σ_k = σ_max·k/(L−1), k = 0..L−1 (σ₀ = 0: the sharp image; σ_{L−1} = σ_max).</summary>
    /// <exception cref="ArgumentException">L &lt; 2 or σ_max not finite and &gt; 0.</exception>
    public static double[] LinearSigmas(int levels, double maxSigma)
    {
        Check(levels, maxSigma);
        return Enumerable.Range(0, levels).Select(k => maxSigma * k / (levels - 1)).ToArray();
    }

    /// <summary>Half-octave spacing σ_k = σ_max·2^{−(L−1−k)/2} for k ≥ 1 (steps of √2 down from σ_max), σ₀ = 0.</summary>
    /// <exception cref="ArgumentException">L &lt; 2 or σ_max not finite and &gt; 0.</exception>
    public static double[] HalfOctaveSigmas(int levels, double maxSigma)
    {
        Check(levels, maxSigma);
        return Enumerable.Range(0, levels).Select(k => k == 0 ? 0.0 : maxSigma * Math.Pow(2, -(levels - 1 - k) / 2.0)).ToArray();
    }

    static void Check(int levels, double maxSigma)
    {
        if (levels < 2) throw new ArgumentException($"The blur pyramid needs at least 2 levels; got {levels}.", nameof(levels));
        if (!(maxSigma > 0) || !double.IsFinite(maxSigma)) throw new ArgumentException($"Pyramid σ_max must be finite and > 0; got {maxSigma}.", nameof(maxSigma));
    }
}
