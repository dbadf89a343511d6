using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>The outcome of the blurred-baseline search (§2.7.1, Eq 2.32).</summary>
/// <param name="Baseline">The blurred image <c>[C,H,W]</c>.</param>
/// <param name="Sigma">The σ used, in image pixels.</param>
/// <param name="ChangesClass">Whether the baseline's top class differs from the target's.</param>
/// <param name="BaselineClass">The baseline's top class.</param>
/// <param name="TargetClass">The target image's top class.</param>
public sealed record BlurredBaseline(Tensor Baseline, double Sigma, bool ChangesClass, int BaselineClass, int TargetClass) : IDisposable
{
    /// <summary>Disposes the blurred <see cref="Baseline"/> image.</summary>
    public void Dispose() => Baseline.Dispose();
}

/// <summary>Baselines for the linear path space (§2.7.1).</summary>
public static class Baselines
{
    /// <summary>
    /// Candidate σ (image pixels) of the automatic search: 4, 5, …, 20, then 22, 24, …, 40, then 45, 50, …, 100.
    /// The class change is not monotone in σ in general, so the search walks the grid upwards and stops at the
    /// first candidate that changes the top class — the smallest such σ on this grid.
    /// </summary>
    public static IReadOnlyList<double> CandidateSigmas { get; } =
        Enumerable.Range(4, 17).Select(i => (double)i)
            .Concat(Enumerable.Range(11, 10).Select(i => 2.0 * i))
            .Concat(Enumerable.Range(9, 12).Select(i => 5.0 * i)).ToArray();

    /// <summary>
    /// The blurred baseline <c>γ_σ ⋆ x_Tg</c> with the smallest σ on the candidate grid (default <see cref="CandidateSigmas"/>,
    /// [4,100] px) for which the top class changes (Eq 2.32). If none changes it, returns the largest candidate with
    /// <see cref="BlurredBaseline.ChangesClass"/> false — the caller must report it (the thesis treats a same-class
    /// baseline as invalid). Candidates are classified in batches of <paramref name="batchSize"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The candidates are empty, not finite and &gt; 0, or not ascending.</exception>
    public static BlurredBaseline AutoBlur(Classifier model, Tensor image, int batchSize = 8, IReadOnlyList<double>? candidates = null)
    {
        PathSpace.CheckImage(image, "Image");
        var sigmas = candidates ?? CandidateSigmas;
        CheckCandidates(sigmas, nameof(candidates));
        using var scope = NewDisposeScope();
        var x = image.detach().to(model.Device);
        int targetClass = model.Predict(x).Class;
        for (int start = 0; start < sigmas.Count; start += batchSize)
        {
            using var chunk = NewDisposeScope();
            var part = sigmas.Skip(start).Take(batchSize).ToArray();
            var blurred = cat(part.Select(s => Gaussian.Blur(x.unsqueeze(0), s)).ToArray(), 0);
            long[] top;
            using (no_grad()) top = model.Scores(blurred).argmax(1).cpu().data<long>().ToArray();
            for (int i = 0; i < part.Length; i++)
                if (top[i] != targetClass)
                    return new BlurredBaseline(blurred[i].clone().MoveToOuterDisposeScope().MoveToOuterDisposeScope(), part[i], true, (int)top[i], targetClass);
        }
        var last = sigmas[^1];
        var b = Gaussian.Blur(x, last);
        int bc = model.Predict(b).Class;
        return new BlurredBaseline(b.MoveToOuterDisposeScope(), last, bc != targetClass, bc, targetClass);
    }

    /// <summary>Checks a candidate σ grid: non-empty, finite, &gt; 0 and ascending.</summary>
    /// <exception cref="ArgumentException">Naming <paramref name="name"/> and what was expected.</exception>
    public static void CheckCandidates(IReadOnlyList<double>? sigmas, string name)
    {
        if (CandidateError(sigmas) is { } e) throw new ArgumentException($"{name}: {e}.", name);
    }

    internal static string? CandidateError(IReadOnlyList<double>? sigmas)
    {
        if (sigmas is null || sigmas.Count == 0) return "the blurred-baseline search needs at least one candidate σ";
        for (int i = 0; i < sigmas.Count; i++)
            if (!(sigmas[i] > 0) || !double.IsFinite(sigmas[i]) || (i > 0 && sigmas[i] <= sigmas[i - 1]))
                return $"candidate σ must be finite, > 0 and strictly ascending (image pixels); got [{string.Join(", ", sigmas)}]";
        return null;
    }

    /// <summary>The blurred baseline with a fixed σ (image pixels; 0 = the image itself, which no path can explain).</summary>
    public static BlurredBaseline FixedBlur(Classifier model, Tensor image, double sigma)
    {
        PathSpace.CheckImage(image, "Image");
        if (!double.IsFinite(sigma) || sigma < 0) throw new ArgumentException($"Baseline σ must be finite and ≥ 0; got {sigma}.", nameof(sigma));
        using var scope = NewDisposeScope();
        var x = image.detach().to(model.Device);
        var b = sigma > 0 ? Gaussian.Blur(x, sigma) : x.clone();
        int tc = model.Predict(x).Class, bc = model.Predict(b).Class;
        return new BlurredBaseline(b.MoveToOuterDisposeScope(), sigma, bc != tc, bc, tc);
    }
}
