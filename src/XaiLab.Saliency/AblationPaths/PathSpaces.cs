using TorchSharp;
using XaiLab.Imaging.Filters;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>
/// A <i>path space</i>: how masks turn into images (STYLE.md: path space ≠ optimiser ≠ reductions).
/// A mask value 0 keeps the target image, 1 ablates fully (§2.1.1). Masks have the shape <see cref="MaskShape"/>
/// (<c>[h,w]</c> for pixel bases, <c>[K]</c> for feature bases such as SIFT cells, §4.3); the optimiser works on
/// batches <c>[N, *MaskShape]</c> and never needs to know which basis it is in.
/// </summary>
public interface IPathSpace : IDisposable
{
    /// <summary>Short name for diagnostics (e.g. <c>linear</c>, <c>blur-pyramid</c>, <c>features</c>).</summary>
    string Name { get; }

    /// <summary>Shape of one mask (without the batch dimension).</summary>
    long[] MaskShape { get; }

    /// <summary>Whether masks are 2-D images, so that the Gaussian regularisation (Eq 2.24) applies.</summary>
    bool IsSpatial { get; }

    /// <summary>
    /// Mask pixels per image pixel: the factor that turns σ_reguBlur, given in image pixels, into the σ of the mask filter
    /// (Eq 2.24). The default is <c>sqrt(h·w/(H·W))</c> for spatial masks <c>[h,w]</c> on an image <c>[C,H,W]</c> and 0 for
    /// non-spatial spaces (no filter applies). A space with another mask geometry overrides it.
    /// </summary>
    double RegularisationScale => IsSpatial && MaskShape.Length == 2
        ? Math.Sqrt(MaskShape[0] * MaskShape[1] / ((double)Target.shape[^2] * Target.shape[^1])) : 0;

    /// <summary>The image explained (φ = 0), <c>[C,H,W]</c>.</summary>
    Tensor Target { get; }

    /// <summary>The fully ablated image (φ = 1), <c>[C,H,W]</c>.</summary>
    Tensor Baseline { get; }

    /// <summary>
    /// Optional mass weights (shape <see cref="MaskShape"/>, mean 1): the mass of a mask is <c>mean(W⊙φ)</c>
    /// (Eq 2.6; Eq 4.45 for feature bases). Null means uniform weights.
    /// </summary>
    Tensor? MassWeights { get; }

    /// <summary>Images <c>[N,C,H,W]</c> for masks <c>[N,*MaskShape]</c>; differentiable in the masks.</summary>
    Tensor Render(Tensor masks);

    /// <summary>
    /// The same space interpolating to another baseline (stochastic baselines, §2.4.3C). Spaces without a single
    /// baseline image throw <see cref="NotSupportedException"/> with the reason.
    /// </summary>
    IPathSpace WithBaseline(Tensor baseline);
}

/// <summary>Helpers shared by the path spaces.</summary>
public static class PathSpace
{
    /// <summary>Upsamples masks <c>[N,h,w]</c> bilinearly (align_corners = false) to <c>[N,1,H,W]</c>; identity when the sizes agree.</summary>
    public static Tensor Upsample(Tensor masks, long height, long width)
    {
        if (masks.dim() != 3) throw new ArgumentException($"Masks must be [N,h,w]; got [{string.Join(",", masks.shape)}].");
        var m = masks.unsqueeze(1);
        if (m.shape[2] == height && m.shape[3] == width) return m;
        return nn.functional.interpolate(m, new long[] { height, width }, mode: InterpolationMode.Bilinear, align_corners: false);
    }

    internal static void CheckImage(Tensor image, string what)
    {
        if (image.dim() != 3) throw new ArgumentException($"{what} must be one image [C,H,W]; got [{string.Join(",", image.shape)}].");
        if (!image.is_floating_point()) throw new ArgumentException($"{what} must be a floating-point tensor in [0,1]; got {image.dtype}.");
    }

    internal static void CheckMasks(Tensor masks, long[] maskShape, string space)
    {
        if (masks.dim() != maskShape.Length + 1 || !masks.shape.Skip(1).SequenceEqual(maskShape))
            throw new ArgumentException($"{space}: masks must be [N,{string.Join(",", maskShape)}]; got [{string.Join(",", masks.shape)}].");
    }
}

/// <summary>
/// Masked linear interpolation (Eq 1.12/2.2): <c>x(φ) = (1−up(φ))⊙x_Tg + up(φ)⊙x_BL</c>, φ broadcast over channels,
/// <c>up</c> the bilinear upsampling from mask resolution <c>h×w</c> to the image (align_corners = false).
/// </summary>
public sealed class LinearPathSpace : IPathSpace
{
    readonly Tensor _difference;

    /// <param name="target">The image <c>[C,H,W]</c> in [0,1].</param>
    /// <param name="baseline">The baseline <c>[C,H,W]</c> (same shape, dtype and device).</param>
    /// <param name="maskHeight">Mask rows h (1..H).</param>
    /// <param name="maskWidth">Mask columns w (1..W).</param>
    public LinearPathSpace(Tensor target, Tensor baseline, int maskHeight, int maskWidth)
    {
        PathSpace.CheckImage(target, "Target image");
        PathSpace.CheckImage(baseline, "Baseline image");
        if (!target.shape.SequenceEqual(baseline.shape))
            throw new ArgumentException($"Baseline [{string.Join(",", baseline.shape)}] must have the target's shape [{string.Join(",", target.shape)}].");
        if (maskHeight < 1 || maskWidth < 1)
            throw new ArgumentException($"Mask size must be at least 1×1; got {maskHeight}×{maskWidth}.");
        Target = target.detach().clone().DetachFromDisposeScope();
        Baseline = baseline.detach().to(target.dtype, target.device).clone().DetachFromDisposeScope();
        _difference = (Baseline - Target).DetachFromDisposeScope();
        MaskShape = new long[] { maskHeight, maskWidth };
    }

    /// <summary>Diagnostic name <c>linear</c>.</summary>
    public string Name => "linear";
    /// <summary>The mask resolution <c>[h,w]</c> given to the constructor (upsampled bilinearly to the image in <see cref="Render"/>).</summary>
    public long[] MaskShape { get; }
    /// <summary>Always true: masks are 2-D, so the Gaussian mask regularisation (Eq 2.24) applies.</summary>
    public bool IsSpatial => true;
    /// <summary>x_Tg, the image explained (φ = 0), <c>[C,H,W]</c>; a detached copy owned by this space.</summary>
    public Tensor Target { get; }
    /// <summary>x_BL, the fully ablated image (φ = 1), <c>[C,H,W]</c>, in the target's dtype and device; a copy owned by this space.</summary>
    public Tensor Baseline { get; }
    /// <summary>Always null: every mask pixel has the same mass weight (Eq 2.6 with W = 1).</summary>
    public Tensor? MassWeights => null;

    /// <summary>Eq 1.12/2.2 for masks <c>[N,h,w]</c>: <c>x_Tg + up(φ)⊙(x_BL − x_Tg)</c>, images <c>[N,C,H,W]</c>, differentiable in the masks.</summary>
    /// <param name="masks">Masks <c>[N,h,w]</c>, 0 = keep the target, 1 = ablate to the baseline.</param>
    public Tensor Render(Tensor masks)
    {
        PathSpace.CheckMasks(masks, MaskShape, Name);
        var up = PathSpace.Upsample(masks, Target.shape[1], Target.shape[2]);
        return Target.unsqueeze(0) + up * _difference.unsqueeze(0);
    }

    /// <summary>A new linear space with the same target and mask size interpolating to <paramref name="baseline"/> (stochastic baselines, §2.4.3C); the caller disposes it.</summary>
    /// <param name="baseline">The replacement baseline <c>[C,H,W]</c> (the target's shape).</param>
    public IPathSpace WithBaseline(Tensor baseline) => new LinearPathSpace(Target, baseline, (int)MaskShape[0], (int)MaskShape[1]);

    /// <summary>The same space with its images on <paramref name="device"/> (copies; this space is unchanged).</summary>
    public LinearPathSpace To(Device device)
    {
        using var scope = NewDisposeScope();
        return new LinearPathSpace(Target.to(device), Baseline.to(device), (int)MaskShape[0], (int)MaskShape[1]);
    }

    /// <summary>Disposes the copies of the target, the baseline and their difference.</summary>
    public void Dispose() { Target.Dispose(); Baseline.Dispose(); _difference.Dispose(); }
}

/// <summary>
/// The blur-pyramid path space (§2.8.5A, after Fong, Patrick and Vedaldi's extremal perturbations): L levels
/// <c>B_k = γ_{σ_k} ⋆ x_Tg</c> with σ_0 = 0 (the sharp image) up to σ_{L−1} = σ_max; the upsampled mask value
/// φ ∈ [0,1] chooses the blur level <c>s = φ·(L−1)</c> locally, interpolating linearly between the two nearest
/// levels: <c>x = Σ_k max(0, 1−|s−k|)·B_k</c>. Linear spacing σ_k = σ_max·k/(L−1); logarithmic spacing
/// σ_k = σ_max·2^{−(L−1−k)/2} for k ≥ 1 (half-octave steps down from σ_max), σ_0 = 0. Reference: 8 levels, σ_max 20 px.
/// The levels are <see cref="GaussianPyramid.Build"/> (ascending σ, replicate border, radius ⌈3σ⌉).
/// </summary>
public sealed class BlurPyramidPathSpace : IPathSpace
{
    readonly Tensor _levels; // [L,C,H,W]

    /// <summary>Builds the L blur levels of <paramref name="target"/> once (§2.8.5A); the baseline is the most blurred level.</summary>
    /// <param name="target">The image <c>[C,H,W]</c> in [0,1].</param>
    /// <param name="maskHeight">Mask rows h (≥ 1).</param>
    /// <param name="maskWidth">Mask columns w (≥ 1).</param>
    /// <param name="levels">Number of levels L (≥ 2), level 0 being the sharp image; reference 8.</param>
    /// <param name="maxSigma">σ_max of the last level, in image pixels (finite, &gt; 0); reference 20.</param>
    /// <param name="logSigma">Half-octave spacing of the σ_k (true) instead of linear spacing.</param>
    public BlurPyramidPathSpace(Tensor target, int maskHeight, int maskWidth, int levels = 8, double maxSigma = 20, bool logSigma = false)
    {
        PathSpace.CheckImage(target, "Target image");
        if (levels < 2) throw new ArgumentException($"The blur pyramid needs at least 2 levels; got {levels}.", nameof(levels));
        if (!(maxSigma > 0) || !double.IsFinite(maxSigma)) throw new ArgumentException($"Pyramid σ_max must be finite and > 0; got {maxSigma}.", nameof(maxSigma));
        if (maskHeight < 1 || maskWidth < 1) throw new ArgumentException($"Mask size must be at least 1×1; got {maskHeight}×{maskWidth}.");
        Sigmas = logSigma ? GaussianPyramid.HalfOctaveSigmas(levels, maxSigma) : GaussianPyramid.LinearSigmas(levels, maxSigma);
        LogSigma = logSigma;
        _levels = GaussianPyramid.Build(target.detach(), Sigmas).DetachFromDisposeScope();
        Target = target.detach().clone().DetachFromDisposeScope();
        Baseline = _levels[levels - 1].clone().DetachFromDisposeScope();
        MaskShape = new long[] { maskHeight, maskWidth };
    }

    BlurPyramidPathSpace(BlurPyramidPathSpace source, Device device)
    {
        Sigmas = source.Sigmas; LogSigma = source.LogSigma; MaskShape = (long[])source.MaskShape.Clone();
        _levels = source._levels.to(device).clone().DetachFromDisposeScope();
        Target = source.Target.to(device).clone().DetachFromDisposeScope();
        Baseline = source.Baseline.to(device).clone().DetachFromDisposeScope();
    }

    /// <summary>Whether the level σ are spaced in half octaves (true) or linearly.</summary>
    public bool LogSigma { get; }

    /// <summary>The same space with its levels on <paramref name="device"/> (copies, no re-blurring; this space is unchanged).</summary>
    public BlurPyramidPathSpace To(Device device) => new(this, device);

    /// <summary>σ of each level in image pixels (σ_0 = 0).</summary>
    public double[] Sigmas { get; }
    /// <summary>Diagnostic name <c>blur-pyramid</c>.</summary>
    public string Name => "blur-pyramid";
    /// <summary>The mask resolution <c>[h,w]</c> given to the constructor.</summary>
    public long[] MaskShape { get; }
    /// <summary>Always true: masks are 2-D, so the Gaussian mask regularisation (Eq 2.24) applies.</summary>
    public bool IsSpatial => true;
    /// <summary>The sharp image explained (φ = 0, level 0), <c>[C,H,W]</c>; a copy owned by this space.</summary>
    public Tensor Target { get; }
    /// <summary>The most blurred level B_{L−1} (σ = σ_max), the image at φ = 1, <c>[C,H,W]</c>.</summary>
    public Tensor Baseline { get; }
    /// <summary>Always null: uniform mass weights.</summary>
    public Tensor? MassWeights => null;

    /// <summary>Images <c>[N,C,H,W]</c> for masks <c>[N,h,w]</c>: per pixel the blur level s = up(φ)·(L−1), linearly interpolated between the two nearest levels, <c>Σ_k max(0, 1−|s−k|)·B_k</c>.</summary>
    /// <param name="masks">Masks <c>[N,h,w]</c> (clamped to [0,1]); 0 = sharp, 1 = most blurred.</param>
    public Tensor Render(Tensor masks)
    {
        PathSpace.CheckMasks(masks, MaskShape, Name);
        int L = Sigmas.Length;
        var s = PathSpace.Upsample(masks, Target.shape[1], Target.shape[2]).clamp(0, 1) * (L - 1); // [N,1,H,W]
        var ks = arange(L, dtype: masks.dtype, device: masks.device).reshape(1, L, 1, 1, 1);
        var w = (1 - (s.unsqueeze(1) - ks).abs()).clamp_min(0); // [N,L,1,H,W]
        return (w * _levels.unsqueeze(0)).sum(1);
    }

    /// <summary>Not supported: the pyramid has no single baseline image; always throws <see cref="NotSupportedException"/>.</summary>
    /// <param name="baseline">Ignored.</param>
    public IPathSpace WithBaseline(Tensor baseline) =>
        throw new NotSupportedException("The blur pyramid interpolates between its own blur levels; it has no single baseline to replace (use the linear path space for random baselines).");

    /// <summary>Disposes the blur levels, the target and the baseline.</summary>
    public void Dispose() { _levels.Dispose(); Target.Dispose(); Baseline.Dispose(); }
}

/// <summary>
/// The extension point for feature bases (§4.3, e.g. SIFT feature cells): masks live in R^K, the image of a mask
/// is <c>D(1 − φ)</c> for a decoder D from gains θ ∈ R^K to images, so θ = 1 (φ = 0) reproduces the target and the
/// baseline is implicit at θ = 0 (φ = 1). No spatial regulariser applies. Mass weights W_j (e.g. ‖D(e_j)‖₂, Eq 4.45)
/// are normalised to mean 1.
/// </summary>
public sealed class FeaturePathSpace : IPathSpace
{
    readonly Func<Tensor, Tensor> _decoder;

    /// <param name="decoder">Gains <c>[N,K]</c> → images <c>[N,C,H,W]</c>; must be differentiable (linear for SIFT cells).</param>
    /// <param name="features">K.</param>
    /// <param name="massWeights">Optional nonnegative weights <c>[K]</c> (not all zero).</param>
    /// <param name="dtype">Dtype of the gains (that of the decoder).</param>
    /// <param name="device">Device of the gains.</param>
    public FeaturePathSpace(Func<Tensor, Tensor> decoder, int features, Tensor? massWeights = null, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        if (features < 1) throw new ArgumentException($"A feature basis needs K ≥ 1 features; got {features}.", nameof(features));
        _decoder = decoder ?? throw new ArgumentNullException(nameof(decoder));
        MaskShape = new long[] { features };
        device ??= CPU;
        using (var scope = NewDisposeScope())
        {
            var t = decoder(ones(1, features, dtype: dtype, device: device));
            if (t.dim() != 4 || t.shape[0] != 1)
                throw new ArgumentException($"The decoder must map gains [N,K] to images [N,C,H,W]; for N = 1 it returned [{string.Join(",", t.shape)}].");
            Target = t[0].detach().MoveToOuterDisposeScope();
            Baseline = decoder(zeros(1, features, dtype: dtype, device: device))[0].detach().MoveToOuterDisposeScope();
        }
        Target.DetachFromDisposeScope(); Baseline.DetachFromDisposeScope();
        if (massWeights is not null)
        {
            if (massWeights.dim() != 1 || massWeights.shape[0] != features)
                throw new ArgumentException($"Mass weights must be [K] = [{features}]; got [{string.Join(",", massWeights.shape)}].");
            using var scope = NewDisposeScope();
            var w = massWeights.detach().to(dtype, device);
            if (w.lt(0).any().item<bool>() || !(w.sum().to_type(ScalarType.Float64).item<double>() > 0))
                throw new ArgumentException("Mass weights must be nonnegative and not all zero.");
            MassWeights = (w / w.mean()).MoveToOuterDisposeScope();
            MassWeights.DetachFromDisposeScope();
        }
    }

    /// <summary>Diagnostic name <c>features</c>.</summary>
    public string Name => "features";
    /// <summary><c>[K]</c>: one mask value per feature.</summary>
    public long[] MaskShape { get; }
    /// <summary>Always false: no spatial regulariser applies to feature masks.</summary>
    public bool IsSpatial => false;
    /// <summary>D(1), the decoded image at gains θ = 1 (φ = 0), <c>[C,H,W]</c>.</summary>
    public Tensor Target { get; }
    /// <summary>D(0), the decoded image at gains θ = 0 (φ = 1), <c>[C,H,W]</c> (the implicit baseline).</summary>
    public Tensor Baseline { get; }
    /// <summary>The mass weights W_j <c>[K]</c> normalised to mean 1 (Eq 4.45), or null for uniform weights.</summary>
    public Tensor? MassWeights { get; }

    /// <summary>Images <c>D(1 − φ)</c> <c>[N,C,H,W]</c> for masks <c>[N,K]</c>, differentiable through the decoder.</summary>
    /// <param name="masks">Feature masks <c>[N,K]</c>, 1 = feature fully removed.</param>
    public Tensor Render(Tensor masks)
    {
        PathSpace.CheckMasks(masks, MaskShape, Name);
        return _decoder(1 - masks);
    }

    /// <summary>Not supported: the baseline of a feature basis is the implicit θ = 0; always throws <see cref="NotSupportedException"/>.</summary>
    /// <param name="baseline">Ignored.</param>
    public IPathSpace WithBaseline(Tensor baseline) =>
        throw new NotSupportedException("A feature basis has the implicit baseline θ = 0; it cannot interpolate to another baseline image.");

    /// <summary>Disposes the decoded target and baseline and the mass weights (the decoder belongs to the caller).</summary>
    public void Dispose() { Target.Dispose(); Baseline.Dispose(); MassWeights?.Dispose(); }
}
