using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency;
using XaiLab.Saliency.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>
/// Builds the interactive <see cref="PathExplorer"/> of an optimised ablation path: the images x(t) and masks φ(t) at
/// every path time (the implicit ends t = 0 and t = 1 included), the classifier's top classes at each t, the score
/// curve, the diagnostics of SPEC §1.8 and the heatmap reductions. For the boundary-straddling pair both paths are
/// shown; for the contrastive score the complement 1 − φ is the second track.
/// </summary>
public static class AblationExplorer
{
    /// <param name="result">An optimised path.</param>
    /// <param name="model">The classifier it explains (for the top classes along the path).</param>
    /// <param name="space">The path space it was optimised in; null rebuilds the linear or blur-pyramid space from the
    /// result. Non-spatial spaces (feature bases) must be passed.</param>
    /// <param name="topK">How many classes to list at each t.</param>
    public static PathExplorer From(AblationPathResult result, Classifier model, IPathSpace? space = null, int topK = 3)
    {
        if (topK < 1) throw new ArgumentOutOfRangeException(nameof(topK), "topK must be at least 1.");
        using var scope = NewDisposeScope();
        IPathSpace? owned = null;
        if (space is null)
        {
            var x = result.Image.to(model.Device);
            int h = (int)result.Up.shape[1], w = (int)result.Up.shape[2];
            owned = result.PathSpace == "blur-pyramid"
                ? new BlurPyramidPathSpace(x, h, w, result.Options.PyramidLevels, result.Options.PyramidMaxSigma, result.Options.PyramidLogSigma)
                : new LinearPathSpace(x, result.Baseline.to(model.Device), h, w);
            space = owned;
        }
        try
        {
            var times = new[] { 0.0 }.Concat(result.Times).Append(1.0).ToArray();
            var tracks = new List<PathTrack>();
            if (result.IsPair)
            {
                tracks.Add(Track("φ↑ (retaining)", result.Up, result, model, space, topK));
                tracks.Add(Track("φ↓ (dissipating)", result.Down, result, model, space, topK));
            }
            else
            {
                tracks.Add(Track("φ", result.Up, result, model, space, topK));
                if (result.ScoreKind == AblationScore.Contrastive)
                    tracks.Add(Track("1 − φ (complement)", (1 - result.Up.flip(0)), result, model, space, topK));
            }
            var diagnostics = new List<KeyValuePair<string, string>>
            {
                new("score", $"{result.ScoreKind} {result.Score:F4} (P↑ {result.RetainingScore:F4})"),
                new("saturation", $"{result.Saturation:F3}"),
                new("iterations", $"{result.Iterations} ({result.StopReason})"),
                new("path space", result.PathSpace + (result.BaselineSigma is { } s ? $", blurred baseline σ = {s:G3} px" : "")),
                new("classes", $"image → {Name(model, result.TargetClass)}, baseline → {Name(model, result.BaselineClass)}"),
                new("time", $"{result.Timings.TotalMs / 1000:F2} s ({result.Timings.PerIterationMs:F1} ms/iteration)"),
            };
            foreach (var wmsg in result.Warnings) diagnostics.Add(new("warning", wmsg));
            var extras = new List<object>();
            if (space.IsSpatial)
            {
                var reductions = result.IsPair
                    ? new[] { AblationReduction.ContrastiveAverage, AblationReduction.Average, AblationReduction.ClassTransition }
                    : new[] { AblationReduction.Average, AblationReduction.ClassTransition, AblationReduction.InfluenceWeighted };
                foreach (var r in reductions)
                {
                    var sal = result.Saliency(r).DetachFromDisposeScope();
                    extras.Add(new Overlay(result.Image, sal, AblationPathMethod.ReductionName(r), 0.55, Width: 140));
                }
            }
            var ct = result.ClassTransition;
            diagnostics.Add(new("class transition", $"t* = {ct.Time:F3} ({ct.Case})"));
            return new PathExplorer($"Ablation path for class {Name(model, result.ClassIndex)}", times, tracks, diagnostics, extras,
                $"F(x(t)) of '{result.ClassName}'");
        }
        finally
        {
            owned?.Dispose();
        }
    }

    static PathTrack Track(string label, Tensor path, AblationPathResult r, Classifier model, IPathSpace space, int topK)
    {
        // Masks with the implicit ends: [T+2, *S].
        var shape = path.shape.Skip(1).ToArray();
        var masks = cat(new[] { zeros(new long[] { 1 }.Concat(shape).ToArray(), path.dtype, path.device), path,
                                ones(new long[] { 1 }.Concat(shape).ToArray(), path.dtype, path.device) }).to(model.Device).to(space.Target.dtype);
        Tensor frames;
        using (no_grad()) frames = space.Render(masks).clamp(0, 1);
        var scores = new double[masks.shape[0]];
        var top = new List<IReadOnlyList<(string, double)>>();
        using (no_grad())
        {
            var s = model.Scores(frames).to(CPU).to_type(ScalarType.Float64);
            var (vals, idx) = s.topk(Math.Min(topK, model.NumClasses), dim: 1);
            for (int i = 0; i < scores.Length; i++)
            {
                scores[i] = s[i, r.ClassIndex].item<double>();
                var list = new List<(string, double)>();
                for (int k = 0; k < vals.shape[1]; k++)
                    list.Add((model.ClassNames[(int)idx[i, k].item<long>()], vals[i, k].item<double>()));
                top.Add(list);
            }
        }
        var spatialMasks = space.IsSpatial ? masks.to(CPU).to_type(ScalarType.Float32).DetachFromDisposeScope() : null;
        return new PathTrack(label, frames.to(CPU).to_type(ScalarType.Float32).DetachFromDisposeScope(), spatialMasks, scores, top);
    }

    static string Name(Classifier model, int c) => c >= 0 && c < model.NumClasses ? $"{c} '{model.ClassNames[c]}'" : c.ToString();
}
