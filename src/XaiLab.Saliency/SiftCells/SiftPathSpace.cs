using TorchSharp;
using XaiLab.Saliency.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Saliency.SiftCells;

/// <summary>The metric on the mask space R^K of a SIFT ablation path (thesis §4.3.3).</summary>
public enum SiftMetric
{
    /// <summary>The standard isotropic L² metric: every feature weighs the same (Fig 4.9). Default.</summary>
    Euclidean,
    /// <summary>
    /// ⟨u, v⟩_W = Σ_j W_j u_j v_j with W_j = ‖D(e_j)‖₂ (Eq 4.45, mean 1): used both in the time normalisation (the mass
    /// of a mask is mean(W⊙φ)) and in the gradient step (the gradient in this metric is W⁻¹·∇, Fig 4.10).
    /// </summary>
    Weighted,
}

/// <summary>
/// A <see cref="SiftFeatureBasis"/> as an ablation-path space (§4.3): masks φ ∈ R^K, images D(1 − φ), target D(1) = x,
/// implicit baseline D(0) = 0. No spatial regulariser applies (<see cref="IsSpatial"/> = false).
/// <para>
/// With <see cref="SiftMetric.Weighted"/> the optimiser sees the metric in both places §4.3.3 names: <see cref="MassWeights"/>
/// (time normalisation, Eq 2.6 with Eq 4.45) and, in the backward pass, the gradient divided by W_j — the gradient of the
/// score with respect to ⟨·,·⟩_W, since ⟨W⁻¹∇F, v⟩_W = ⟨∇F, v⟩ for every v. The forward value is unchanged (the
/// rescaling is an identity with a scaled derivative). Features with W_j = 0 (empty cells) get a zero gradient.
/// With <see cref="SiftMetric.Euclidean"/> both are the identity.
/// </para>
/// The space borrows the basis: disposing it frees only its own tensors (a space made by <see cref="WithBaseline"/> owns
/// the basis it made and frees it too).
/// </summary>
public sealed class SiftPathSpace : IPathSpace
{
    readonly SiftFeatureBasis _basis;
    readonly Tensor? _inverseWeights; // 1/W_j (0 where W_j = 0), [K]
    readonly bool _ownsBasis;

    internal SiftPathSpace(SiftFeatureBasis basis, SiftMetric metric, bool ownsBasis = false)
    {
        _ownsBasis = ownsBasis;
        if (!Enum.IsDefined(metric)) throw new ArgumentOutOfRangeException(nameof(metric), metric, "Metric must be Euclidean or Weighted.");
        _basis = basis;
        Metric = metric;
        MaskShape = new long[] { basis.K };
        if (metric == SiftMetric.Weighted)
        {
            using var scope = NewDisposeScope();
            var w = basis.MassWeights.detach();
            MassWeights = w.clone().MoveToOuterDisposeScope();
            _inverseWeights = where(w.gt(0), 1 / w.clamp_min(1e-30), zeros_like(w)).MoveToOuterDisposeScope();
            MassWeights.DetachFromDisposeScope(); _inverseWeights.DetachFromDisposeScope();
        }
    }

    /// <summary>The metric this space was made with.</summary>
    public SiftMetric Metric { get; }
    /// <summary><c>sift</c> (Euclidean metric) or <c>sift-weighted</c>.</summary>
    public string Name => Metric == SiftMetric.Weighted ? "sift-weighted" : "sift";
    /// <summary><c>[K]</c>.</summary>
    public long[] MaskShape { get; }
    /// <summary>False: masks are gain vectors, not images.</summary>
    public bool IsSpatial => false;
    /// <summary>D(1) = x (up to float rounding).</summary>
    public Tensor Target => _basis.Target;
    /// <summary>D(0) (zeros, or the basis' baseline).</summary>
    public Tensor Baseline => _basis.Baseline;
    /// <summary>W (mean 1) for <see cref="SiftMetric.Weighted"/>, null (uniform) for <see cref="SiftMetric.Euclidean"/>.</summary>
    public Tensor? MassWeights { get; }

    /// <summary>Images D(1 − φ) <c>[N,C,H,W]</c> for masks <c>[N,K]</c>; with the weighted metric the derivative in φ is W⁻¹-scaled.</summary>
    /// <exception cref="ArgumentException">Masks are not <c>[N,K]</c>.</exception>
    public Tensor Render(Tensor masks)
    {
        PathSpace.CheckMasks(masks, MaskShape, Name);
        using var scope = NewDisposeScope();
        var m = masks;
        if (_inverseWeights is not null && masks.requires_grad)
        {
            var d = masks.detach();
            m = d + (masks - d) * _inverseWeights.to(masks.dtype, masks.device).unsqueeze(0); // value φ, derivative W⁻¹
        }
        return _basis.Render(1 - m).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same keypoints, cells and metric interpolating to <paramref name="baseline"/> instead (D(0) = b, §2.4.3C):
    /// <see cref="SiftFeatureBasis.WithBaseline"/> on the basis' device, as a space of the same metric that owns the new
    /// basis (disposing the space frees it). The mass weights are those of the new basis (they depend on x − b).
    /// </summary>
    /// <exception cref="ArgumentException">The baseline does not have the image's shape.</exception>
    public IPathSpace WithBaseline(Tensor baseline) => new SiftPathSpace(_basis.WithBaselineHere(baseline), Metric, ownsBasis: true);

    /// <summary>Frees the space's own tensors (and the basis only if this space made it, see <see cref="WithBaseline"/>).</summary>
    public void Dispose()
    {
        MassWeights?.Dispose(); _inverseWeights?.Dispose();
        if (_ownsBasis) _basis.Dispose();
    }
}
