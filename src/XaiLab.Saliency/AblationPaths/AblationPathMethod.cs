using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>
/// Ablation-path saliency as an <see cref="ISaliencyMethod"/>: optimises a path (<see cref="AblationPath.Optimise(Classifier, Tensor, int, AblationPathOptions?, IProgress{AblationProgress}?, CancellationToken)"/>)
/// and reduces it (§2.7.2) to a map <c>[h,w]</c> at mask resolution, larger = more salient.
/// Names: <c>ablation-path-avg</c>, <c>ablation-path-clt</c>, <c>ablation-path-influence</c>,
/// <c>ablation-path-cav</c> (contrastive averaging; forces the straddling score), with <c>-window</c> appended when
/// Eq 2.37 is applied. Diagnostics (<see cref="SaliencyDiagnostics"/>) carry score, retaining score, saturation, iterations, stop reason,
/// baseline σ, the class-transition time and case and the warnings. Several classes of an image (<see cref="ExplainMany"/>) or pairs of several images
/// (<see cref="ExplainBatch"/>) are optimised together by <see cref="AblationPath.OptimiseMany(Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>.
/// </summary>
public sealed class AblationPathMethod : IBatchSaliencyMethod
{
    /// <param name="reduction">Path → heatmap reduction. Default class transition (the thesis' usual choice).</param>
    /// <param name="options">Optimisation options (thesis defaults when null).</param>
    /// <param name="window">Apply the window post-processing (Eq 2.37).</param>
    public AblationPathMethod(AblationReduction reduction = AblationReduction.ClassTransition, AblationPathOptions? options = null, bool window = false)
    {
        Reduction = reduction;
        Options = options ?? new AblationPathOptions();
        if (reduction == AblationReduction.ContrastiveAverage && Options.Score != AblationScore.Straddling)
            Options = Options with { Score = AblationScore.Straddling };
        Options.Validate();
        Window = window;
    }

    /// <summary>The path → heatmap reduction (§2.7.2: Eq 2.33 averaging, 2.34 class transition, 2.35 influence weighting, 2.36 contrastive averaging).</summary>
    public AblationReduction Reduction { get; }
    /// <summary>The optimisation options (Algorithm 2); the contrastive average forces the straddling score.</summary>
    public AblationPathOptions Options { get; }
    /// <summary>Whether the window Θ·√(sin πx · sin πy) of Eq 2.37 is applied to the reduced map.</summary>
    public bool Window { get; }

    /// <summary>The short name of a reduction as used in method names and on the command line.</summary>
    public static string ReductionName(AblationReduction r) => r switch
    {
        AblationReduction.Average => "avg",
        AblationReduction.ClassTransition => "clt",
        AblationReduction.InfluenceWeighted => "influence",
        _ => "cav",
    };

    /// <summary>
    /// The method name of a reduction with or without the window: <c>ablation-path-R</c> or <c>ablation-path-R-window</c>
    /// (R = <see cref="ReductionName"/>); the registry (<see cref="Methods.SaliencyMethods"/>) knows every combination.
    /// </summary>
    public static string MethodName(AblationReduction reduction, bool window) =>
        $"ablation-path-{ReductionName(reduction)}{(window ? "-window" : "")}";

    /// <summary>The method name, <c>ablation-path-R[-window]</c> (<see cref="MethodName"/>).</summary>
    public string Name => MethodName(Reduction, Window);

    /// <summary>Progress of the optimisation (optional).</summary>
    public IProgress<AblationProgress>? Progress { get; init; }

    /// <summary>
    /// A cache shared with other ablation-path methods (e.g. other reductions of the same options), so each (image, class)
    /// path is optimised once; null (default) = every call optimises. See <see cref="AblationPathCache"/>.
    /// </summary>
    public AblationPathCache? Cache { get; init; }

    /// <summary>This method with <paramref name="cache"/> shared (same reduction, options, window and progress).</summary>
    public AblationPathMethod WithCache(AblationPathCache? cache) => new(Reduction, Options, Window) { Progress = Progress, Cache = cache };

    /// <summary>Optimises the path of class <paramref name="classIndex"/> on <paramref name="image"/> <c>[C,H,W]</c> (or reads it from <see cref="Cache"/>) and reduces it to a map <c>[h,w]</c> at mask resolution.</summary>
    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
    {
        if (Cache is not null) return ExplainBatch(model, new[] { (image, classIndex) })[0];
        using var result = AblationPath.Optimise(model, image, classIndex, Options, Progress);
        return ToSaliencyMap(result, Reduction, Window);
    }

    /// <summary>The maps of several classes of one image <c>[C,H,W]</c>: their paths are optimised together (one batch).</summary>
    public IReadOnlyList<SaliencyMap> ExplainMany(Classifier model, Tensor image, IReadOnlyList<int> classes) =>
        ExplainBatch(model, classes.Select(c => (image, c)).ToArray());

    /// <summary>
    /// The maps of several (image, class) pairs, images of one shape, optimised together by
    /// <see cref="AblationPath.OptimiseMany(Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>
    /// (each path with its own stopping rule); equal to one-at-a-time <see cref="Explain"/> up to float rounding.
    /// <see cref="Progress"/> receives each path's iterations.
    /// </summary>
    public IReadOnlyList<SaliencyMap> ExplainBatch(Classifier model, IReadOnlyList<(Tensor Image, int ClassIndex)> items)
    {
        if (items.Count == 0) return Array.Empty<SaliencyMap>();
        var sink = Progress is { } p ? new AblationPath.SingleProgress(p) : null;
        if (Cache is { } cache)
            return cache.GetOrOptimise(model, items, Options, missing => AblationPath.OptimiseMany(model, missing, Options, sink))
                .Select(r => ToSaliencyMap(r, Reduction, Window)).ToArray();
        var results = AblationPath.OptimiseMany(model, items, Options, sink);
        try { return results.Select(r => ToSaliencyMap(r, Reduction, Window)).ToArray(); }
        finally { foreach (var r in results) r.Dispose(); }
    }

    /// <summary>Reduces an existing result to a <see cref="SaliencyMap"/> with the result's diagnostics.</summary>
    public static SaliencyMap ToSaliencyMap(AblationPathResult result, AblationReduction reduction, bool window = false)
    {
        var map = result.Saliency(reduction, window).to_type(ScalarType.Float32).cpu();
        var diag = new Dictionary<string, object>
        {
            [SaliencyDiagnostics.Key.Score] = result.Score,
            [SaliencyDiagnostics.Key.RetainingScore] = result.RetainingScore,
            [SaliencyDiagnostics.Key.Saturation] = result.Saturation,
            [SaliencyDiagnostics.Key.Iterations] = result.Iterations,
            [SaliencyDiagnostics.Key.StopReason] = result.StopReason.ToString(),
            [SaliencyDiagnostics.Key.Warnings] = result.Warnings.ToArray(),
        };
        if (result.BaselineSigma is { } s) diag[SaliencyDiagnostics.Key.BaselineSigma] = s;
        if (reduction == AblationReduction.ClassTransition)
        {
            var c = result.ClassTransition;
            diag[SaliencyDiagnostics.Key.ClassTransitionTime] = c.Time;
            diag[SaliencyDiagnostics.Key.ClassTransitionCase] = c.Case.ToString();
        }
        return new SaliencyMap(map, MethodName(reduction, window), result.ClassIndex, diag);
    }
}
