using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>Why the optimisation stopped (§2.6.3).</summary>
public enum StopReason
{
    /// <summary>Saturation reached the target after at least the minimum number of iterations.</summary>
    Saturated,
    /// <summary>The iteration cap was hit before saturation: the path is <i>unsaturated</i> (use with care).</summary>
    Unsaturated,
    /// <summary>The classifier produced a NaN/∞ score or gradient; the last finite path is returned.</summary>
    NonFiniteScore,
}

/// <summary>Progress of a running optimisation, reported once per iteration.</summary>
/// <param name="Iteration">1-based iteration just finished.</param>
/// <param name="MaxIterations">The cap.</param>
/// <param name="Score">Score of the path evaluated in this iteration (before its update).</param>
/// <param name="Saturation">Saturation S after the iteration's repair.</param>
public readonly record struct AblationProgress(int Iteration, int MaxIterations, double Score, double Saturation);

/// <summary>Wall-clock split of the optimisation, in milliseconds summed over iterations. In a batched run
/// (<see cref="AblationPath.OptimiseMany(XaiLab.Imaging.Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>)
/// each path's figures are those of the shared batched iterations it took part in. On a GPU the split is exact only
/// with <see cref="AblationPathOptions.SynchronisedTimings"/>.</summary>
/// <param name="ForwardBackwardMs">Classifier forward and backward passes (rendering the images included).</param>
/// <param name="RepairMs">Monotonisation, clamping and constant-speed reparametrisation.</param>
/// <param name="OtherMs">Everything else inside the iterations (step, filter, saturation, pinching, bookkeeping).</param>
/// <param name="TotalMs">The whole call, baseline search and final curves included.</param>
/// <param name="Iterations">Optimisation iterations the figures are summed over (the result's <see cref="AblationPathResult.Iterations"/>).</param>
public sealed record AblationTimings(double ForwardBackwardMs, double RepairMs, double OtherMs, double TotalMs, int Iterations)
{
    /// <summary>Mean milliseconds per iteration, (forward/backward + repair + other) / <see cref="Iterations"/>; 0 when no iteration ran.</summary>
    public double PerIterationMs => Iterations == 0 ? 0 : (ForwardBackwardMs + RepairMs + OtherMs) / Iterations;
}

/// <summary>
/// An optimised ablation path with the diagnostics of SPEC §1.8. <see cref="Path"/> is <c>[T,h,w]</c> (or
/// <c>[T,*S]</c> in a feature basis) and <c>[T,2,h,w]</c> for the straddling pair (index 0 = φ↑, 1 = φ↓);
/// the ends φ(0) = 0, φ(1) = 1 are implicit. 1 = ablated. Dispose it to free the tensors.
/// </summary>
public sealed record AblationPathResult : IDisposable
{
    /// <summary>The path, CPU. Shape <c>[T,*S]</c> or <c>[T,2,*S]</c> (straddling).</summary>
    public required Tensor Path { get; init; }
    /// <summary>The target image <c>[C,H,W]</c> (CPU).</summary>
    public required Tensor Image { get; init; }
    /// <summary>The image at φ = 1 <c>[C,H,W]</c> (CPU): the baseline, or the last pyramid level.</summary>
    public required Tensor Baseline { get; init; }
    /// <summary>Index of the explained class c whose score F = softmax_c (or the chosen score) is optimised along the path.</summary>
    public required int ClassIndex { get; init; }
    /// <summary>Name of <see cref="ClassIndex"/> in the classifier's class list.</summary>
    public required string ClassName { get; init; }
    /// <summary>The path score that was optimised (retaining, dissipating, contrastive or straddling; Eq 2.13–2.16).</summary>
    public required AblationScore ScoreKind { get; init; }
    /// <summary>Name of the path space (<see cref="IPathSpace.Name"/> of <see cref="Space"/>), e.g. <c>linear</c>.</summary>
    public required string PathSpace { get; init; }
    /// <summary>
    /// The path space the path lives in, for rendering its images without the classifier (<see cref="Frames"/>):
    /// for the pixel spaces (linear, blur pyramid) a CPU copy owned by this result; for other spaces (feature bases) the
    /// caller's space itself, valid as long as the caller keeps it.
    /// </summary>
    public required IPathSpace Space { get; init; }
    /// <summary>Whether <see cref="Dispose"/> disposes <see cref="Space"/> (true for the result's own copies).</summary>
    public bool OwnsSpace { get; init; }
    /// <summary>Interior times t_i = i/(T+1).</summary>
    public required double[] Times { get; init; }
    /// <summary>Score of the final path (§2.3).</summary>
    public required double Score { get; init; }
    /// <summary>P↑ of the (first) final path, mean F over the interior masks.</summary>
    public required double RetainingScore { get; init; }
    /// <summary>Saturation S of the final path (Eq 2.31).</summary>
    public required double Saturation { get; init; }
    /// <summary>Number of optimisation iterations of Algorithm 1/2 that ran (§2.6.2).</summary>
    public required int Iterations { get; init; }
    /// <summary>Why the optimisation stopped: saturated, iteration cap reached (unsaturated) or a non-finite score (§2.6.3).</summary>
    public required StopReason StopReason { get; init; }
    /// <summary>Score at each iteration (of the path the iteration started from).</summary>
    public required double[] ScoreHistory { get; init; }
    /// <summary>Saturation after each iteration's repair.</summary>
    public required double[] SaturationHistory { get; init; }
    /// <summary>F(x(t)) along the final (first) path, ends included (T+2 values), with the top class per point.</summary>
    public required ScoreCurve Curve { get; init; }
    /// <summary>The curve of the second path: the complement 1−φ (contrastive) or φ↓ (straddling); null otherwise.</summary>
    public ScoreCurve? SecondCurve { get; init; }
    /// <summary>σ (image pixels) of the blurred baseline, or null for a user/random baseline or the pyramid.</summary>
    public double? BaselineSigma { get; init; }
    /// <summary>Top class of the baseline image (φ = 1).</summary>
    public required int BaselineClass { get; init; }
    /// <summary>Top class of the target image (φ = 0).</summary>
    public required int TargetClass { get; init; }
    /// <summary>Human-readable warnings, e.g. a baseline of the same class as the image (invalid per §2.7.1), an explained class that is not the top class, or a non-finite score.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }
    /// <summary>Wall-clock split of the run (forward/backward, repair, other, total).</summary>
    public required AblationTimings Timings { get; init; }
    /// <summary>The options the path was optimised with, defaults filled in.</summary>
    public required AblationPathOptions Options { get; init; }

    /// <summary>Number of interior masks T.</summary>
    public int Steps => (int)Path.shape[0];
    /// <summary>True for a boundary-straddling result (Eq 2.16): <see cref="Path"/> holds the pair φ↑, φ↓ along dimension 1.</summary>
    public bool IsPair => ScoreKind == AblationScore.Straddling;

    /// <summary>The first path <c>[T,*S]</c> (φ, or φ↑ of the pair).</summary>
    public Tensor Up => IsPair ? Path.select(1, 0) : Path;
    /// <summary>φ↓ <c>[T,*S]</c> of the straddling pair.</summary>
    public Tensor Down => IsPair ? Path.select(1, 1) : throw new InvalidOperationException("Only a straddling result has a second path φ↓.");

    /// <summary>
    /// A path <c>[T,*S]</c> (e.g. <see cref="Up"/>, <see cref="Down"/>) with its implicit ends φ(0) = 0 and φ(1) = 1:
    /// <c>[T+2,*S]</c> on <see cref="Space"/>'s device and dtype — the masks of the trajectory at 0, <see cref="Times"/>, 1.
    /// </summary>
    public Tensor MasksWithEnds(Tensor path)
    {
        using var scope = NewDisposeScope();
        var shape = new long[] { 1 }.Concat(path.shape.Skip(1)).ToArray();
        var device = Space.Target.device; var dtype = Space.Target.dtype;
        return cat(new[] { zeros(shape, dtype, device), path.detach().to(dtype, device), ones(shape, dtype, device) }).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The images x(φ(t)) along a path with its ends (<see cref="MasksWithEnds"/>), rendered in <see cref="Space"/> without
    /// the classifier: <c>[T+2,C,H,W]</c>, clamped to [0,1], float32 on the CPU. The matching scores are <see cref="Curve"/>
    /// (first path) and <see cref="SecondCurve"/>.
    /// </summary>
    public Tensor Frames(Tensor path)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var frames = Space.Render(MasksWithEnds(path)).clamp(0, 1);
        return frames.to(CPU).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>The class-transition choice on the (first) path's curve (§2.7.2B).</summary>
    public ClassTransitionChoice ClassTransition => Reductions.ChooseTransition(Curve.Score, Curve.RanksFirst(ClassIndex));

    /// <summary>
    /// Reduces the path to a saliency <c>[*S]</c>, larger = more salient (§2.7.2). Averaging, class transition and
    /// influence weighting use the first path (φ↑ for the pair); contrastive averaging needs the pair.
    /// <paramref name="window"/> applies Eq 2.37 (2-D masks only).
    /// </summary>
    public Tensor Saliency(AblationReduction reduction, bool window = false)
    {
        using var scope = NewDisposeScope();
        var s = reduction switch
        {
            AblationReduction.Average => Reductions.Average(Up),
            AblationReduction.ClassTransition => Reductions.ClassTransition(Up, ClassTransition),
            AblationReduction.InfluenceWeighted => Reductions.InfluenceWeighted(Up, Curve.Score),
            AblationReduction.ContrastiveAverage => IsPair ? Reductions.ContrastiveAverage(Up, Down)
                : throw new ArgumentException("Contrastive averaging (Eq 2.36) needs a boundary-straddling pair: optimise with Score = Straddling."),
            _ => throw new ArgumentOutOfRangeException(nameof(reduction)),
        };
        if (window) s = Reductions.Window(s);
        return s.MoveToOuterDisposeScope();
    }

    /// <summary>One line: score, saturation, iterations, stop reason, shape, baseline σ, warnings.</summary>
    public override string ToString() =>
        $"AblationPathResult {{ {ScoreKind} score {Score:F4} (P↑ {RetainingScore:F4}), saturation {Saturation:F3}, {Iterations} iterations, " +
        $"{StopReason}, path [{string.Join(",", Path.shape)}] in {PathSpace}, class {ClassIndex} '{ClassName}'" +
        (BaselineSigma is { } s ? $", baseline σ {s} px" : "") + $", {Warnings.Count} warning(s) }}";

    /// <summary>Disposes <see cref="Path"/>, <see cref="Image"/>, <see cref="Baseline"/> and, when <see cref="OwnsSpace"/>, <see cref="Space"/>.</summary>
    public void Dispose()
    {
        Path.Dispose(); Image.Dispose(); Baseline.Dispose();
        if (OwnsSpace) Space.Dispose();
    }
}
