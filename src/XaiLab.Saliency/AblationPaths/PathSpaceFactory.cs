using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>A path space built from options, with what building it found out.</summary>
/// <param name="Space">The space (owned by the caller: dispose it).</param>
/// <param name="BaselineSigma">σ (image pixels) of the blurred baseline; null for a user, random or pyramid baseline.</param>
/// <param name="Warnings">Problems with the baseline, e.g. a blur that keeps the class (§2.7.1).</param>
public sealed record BuiltPathSpace(IPathSpace Space, double? BaselineSigma, IReadOnlyList<string> Warnings) : IDisposable
{
    /// <summary>Disposes the space.</summary>
    public void Dispose() => Space.Dispose();
}

/// <summary>
/// The one place where <see cref="AblationPathOptions"/> become a path space: masks of
/// <c>min(MaskSize,H) × min(MaskSize,W)</c>, and either the blur pyramid (§2.8.5A) or the linear space with a user
/// baseline, the first draw of a random baseline (§2.4.3C), a blurred baseline of fixed σ or the automatic blurred
/// baseline (Eq 2.32, §2.7.1). Only the options of <see cref="AblationPathOptions.SpaceBuildingOptions"/> (and the first
/// <see cref="AblationPathOptions.RandomBaseline"/> draw) are read here.
/// </summary>
public static class PathSpaceFactory
{
    /// <summary>Builds the space for <paramref name="image"/> <c>[C,H,W]</c> on the classifier's device.</summary>
    /// <param name="model">Classifies the baselines (the blurred-baseline search, Eq 2.32).</param>
    /// <param name="image">The target image in [0,1].</param>
    /// <param name="options">The options (validated here).</param>
    /// <param name="rng">The generator a random baseline draws its first sample from (the optimiser's own, seeded by <see cref="AblationPathOptions.Seed"/>).</param>
    /// <exception cref="ArgumentException">Bad image or options, or a baseline that does not fit the image.</exception>
    public static BuiltPathSpace Build(Classifier model, Tensor image, AblationPathOptions options, Random rng)
    {
        ArgumentNullException.ThrowIfNull(model); ArgumentNullException.ThrowIfNull(options); ArgumentNullException.ThrowIfNull(rng);
        options.Validate();
        PathSpace.CheckImage(image, "Image");
        var o = options;
        using var scope = NewDisposeScope();
        var x = image.detach().to(model.Device);
        int H = (int)x.shape[1], W = (int)x.shape[2];
        int h = Math.Min(o.MaskSize, H), w = Math.Min(o.MaskSize, W);
        var warnings = new List<string>();
        if (o.PathSpace == PathSpaceKind.BlurPyramid)
            return new BuiltPathSpace(new BlurPyramidPathSpace(x, h, w, o.PyramidLevels, o.PyramidMaxSigma, o.PyramidLogSigma), null, warnings);
        if (o.Baseline is not null)
            return new BuiltPathSpace(new LinearPathSpace(x, CheckBaseline(o.Baseline, x, "Baseline"), h, w), null, warnings);
        if (o.RandomBaseline is not null)
            // The first draw is also the baseline reported with the result; every iteration draws anew.
            return new BuiltPathSpace(new LinearPathSpace(x, CheckBaseline(o.RandomBaseline(rng), x, "RandomBaseline"), h, w), null, warnings);
        using var bb = o.BaselineSigma is { } s ? Baselines.FixedBlur(model, x, s) : Baselines.AutoBlur(model, x, candidates: o.BaselineSigmaCandidates);
        if (!bb.ChangesClass)
        {
            var c = o.BaselineSigmaCandidates;
            warnings.Add(o.BaselineSigma is null
                ? $"No blur σ in [{c[0]:G4},{c[^1]:G4}] px changes the top class ({Describe(model, bb.TargetClass)}); using σ = {bb.Sigma} px, a baseline of the same class, which the thesis treats as invalid (§2.7.1)."
                : $"The blurred baseline (σ = {bb.Sigma} px) keeps the top class {Describe(model, bb.TargetClass)}; the thesis treats a same-class baseline as invalid (§2.7.1).");
        }
        return new BuiltPathSpace(new LinearPathSpace(x, bb.Baseline, h, w), bb.Sigma, warnings);
    }

    /// <summary>A baseline image checked against the target <paramref name="x"/> and moved to its dtype and device.</summary>
    /// <exception cref="ArgumentException">Not an image, or not the target's shape.</exception>
    internal static Tensor CheckBaseline(Tensor b, Tensor x, string what)
    {
        PathSpace.CheckImage(b, what);
        if (!b.shape.SequenceEqual(x.shape))
            throw new ArgumentException($"{what} must have the image's shape [{string.Join(",", x.shape)}]; got [{string.Join(",", b.shape)}].");
        return b.detach().to(x.dtype, x.device);
    }

    internal static string Describe(Classifier model, int c) => c >= 0 && c < model.NumClasses ? $"{c} '{model.ClassNames[c]}'" : c.ToString();
}
