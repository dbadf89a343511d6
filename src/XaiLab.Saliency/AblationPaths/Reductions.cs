using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>Which case of the class-transition reduction happened (§2.7.2B).</summary>
public enum ClassTransitionCase
{
    /// <summary>t* is the largest interior t where the class ranks first, and it lies at ≥ 25 % of the path.</summary>
    Transition,
    /// <summary>No such t at ≥ 25 % (or none at all): t* = argmax F over the interior t ≥ 25 % instead (the reference code's fallback).</summary>
    FallbackArgmax,
}

/// <summary>The chosen mask of the class-transition reduction.</summary>
/// <param name="Index">Index into the T interior masks (0-based).</param>
/// <param name="Time">t* = (Index+1)/(T+1).</param>
/// <param name="Case">Transition or fallback.</param>
public sealed record ClassTransitionChoice(int Index, double Time, ClassTransitionCase Case);

/// <summary>
/// Path → heatmap reductions (§2.7.2), each returned as a saliency <c>[*S]</c> with larger = more salient (SPEC
/// conventions; ablation masks have 1 = ablated, so the mask-valued reductions are complemented). Paths are
/// <c>[T,*S]</c> interior masks; score curves include the ends (length T+2).
/// </summary>
public static class Reductions
{
    /// <summary>Minimum fraction of the path at which a class transition counts (reference: 25 %).</summary>
    public const double MinimumTransitionFraction = 0.25;

    /// <summary>Averaging (Eq 2.33): saliency = 1 − mean_t φ(t).</summary>
    public static Tensor Average(Tensor path)
    {
        using var scope = NewDisposeScope();
        return (1 - path.detach().mean(new long[] { 0 })).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Chooses t* (§2.7.2B): the largest interior t_i at which the explained class ranks first among all classes,
    /// if that t_i ≥ 25 % of the path; otherwise the interior t_i ≥ 25 % with the largest F. Both follow the thesis' reference
    /// code; the thesis' text (§2.7.2B) states neither the 25 % nor the restriction of the fallback's argmax to it.
    /// </summary>
    /// <param name="scores">F along the path, ends included (T+2).</param>
    /// <param name="ranksFirst">Whether the class ranks first, ends included (T+2).</param>
    public static ClassTransitionChoice ChooseTransition(IReadOnlyList<double> scores, IReadOnlyList<bool> ranksFirst)
    {
        int n = scores.Count, T = n - 2;
        if (T < 1 || ranksFirst.Count != n) throw new ArgumentException($"Score curves must have T+2 ≥ 3 entries (ends included) of equal length; got {n} and {ranksFirst.Count}.");
        for (int i = T; i >= 1; i--)
        {
            if (!ranksFirst[i]) continue;
            double t = (double)i / (T + 1);
            if (t >= MinimumTransitionFraction) return new ClassTransitionChoice(i - 1, t, ClassTransitionCase.Transition);
            break;
        }
        // The fallback searches the same part of the path, t ≥ 25 %, as the reference code does (the thesis' text says argmax_t F
        // over all t; on a retaining path that is nearly always the first, least-ablated mask, a map of almost nothing).
        // The last interior time T/(T+1) ≥ ½ always qualifies.
        int first = Math.Max(1, (int)Math.Ceiling(MinimumTransitionFraction * (T + 1) - 1e-9));
        int best = first;
        for (int i = first + 1; i <= T; i++) if (scores[i] > scores[best]) best = i;
        return new ClassTransitionChoice(best - 1, (double)best / (T + 1), ClassTransitionCase.FallbackArgmax);
    }

    /// <summary>Class transition (Eq 2.34): saliency = 1 − φ(t*).</summary>
    public static Tensor ClassTransition(Tensor path, ClassTransitionChoice choice)
    {
        using var scope = NewDisposeScope();
        return (1 - path.detach()[choice.Index]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Influence-weighted averaging (Eq 2.35), discretised with the end masks: <c>T·Σ_{i=0}^{T} (F(t_i) − F(t_{i+1}))·(φ(t_{i+1}) − φ(t_i))</c>,
    /// φ(t_0) = 0, φ(t_{T+1}) = 1. Positive where ablating the pixel lowers F; negative where it raises F (features of other classes).
    /// </summary>
    public static Tensor InfluenceWeighted(Tensor path, IReadOnlyList<double> scores)
    {
        int T = (int)path.shape[0];
        if (scores.Count != T + 2) throw new ArgumentException($"Influence weighting needs F at the T+2 = {T + 2} path points (ends included); got {scores.Count}.");
        using var scope = NewDisposeScope();
        var p = path.detach();
        var ext = cat(new[] { zeros_like(p.narrow(0, 0, 1)), p, ones_like(p.narrow(0, 0, 1)) }, 0);
        var dphi = ext.narrow(0, 1, T + 1) - ext.narrow(0, 0, T + 1);
        var dF = Enumerable.Range(0, T + 1).Select(i => scores[i] - scores[i + 1]).ToArray();
        var bshape = new long[p.dim()]; Array.Fill(bshape, 1); bshape[0] = T + 1;
        var w = tensor(dF, device: p.device).to_type(p.dtype).reshape(bshape);
        return ((w * dphi).sum(new long[] { 0 }) * T).MoveToOuterDisposeScope();
    }

    /// <summary>Contrastive averaging (Eq 2.36) of the straddling pair: saliency = mean_t (φ↓(t) − φ↑(t)).</summary>
    public static Tensor ContrastiveAverage(Tensor up, Tensor down)
    {
        if (!up.shape.SequenceEqual(down.shape)) throw new ArgumentException("The straddling paths must have equal shapes.");
        using var scope = NewDisposeScope();
        return (down.detach() - up.detach()).mean(new long[] { 0 }).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Window post-processing (Eq 2.37): multiplies a saliency <c>[h,w]</c> by <c>sqrt(sin(πx)·sin(πy))</c> with
    /// x, y ∈ (0,1) at pixel centres, (j+½)/w and (i+½)/h, suppressing the boundary.
    /// </summary>
    public static Tensor Window(Tensor saliency)
    {
        if (saliency.dim() != 2) throw new ArgumentException($"The window applies to a 2-D saliency [h,w]; got [{string.Join(",", saliency.shape)}].");
        using var scope = NewDisposeScope();
        long h = saliency.shape[0], w = saliency.shape[1];
        var y = (arange(h, dtype: ScalarType.Float64) + 0.5) / h;
        var x = (arange(w, dtype: ScalarType.Float64) + 0.5) / w;
        var win = ((y * Math.PI).sin().unsqueeze(1) * (x * Math.PI).sin().unsqueeze(0)).sqrt();
        return (saliency * win.to(saliency.dtype, saliency.device)).MoveToOuterDisposeScope();
    }
}
