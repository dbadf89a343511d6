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
    /// <param name="space">The path space to render in; null = the result's own <see cref="AblationPathResult.Space"/>.</param>
    /// <param name="topK">How many classes to list at each t.</param>
    public static PathExplorer From(AblationPathResult result, Classifier model, IPathSpace? space = null, int topK = 3)
    {
        if (topK < 1) throw new ArgumentOutOfRangeException(nameof(topK), "topK must be at least 1.");
        using var scope = NewDisposeScope();
        space ??= result.Space;
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
    }

    /// <summary>
    /// The explorer of a result on its own, without its classifier (what the notebook formatter shows): it only reads the
    /// result — frames from <see cref="AblationPathResult.Frames"/> (rendered in the result's own <see cref="AblationPathResult.Space"/>),
    /// scores and top classes from the recorded <see cref="AblationPathResult.Curve"/> (and <see cref="AblationPathResult.SecondCurve"/>
    /// for φ↓). Nothing here runs the model or rebuilds a space. Null for non-spatial path spaces (feature bases), whose masks are not images.
    /// </summary>
    /// <param name="classNames">Names of the classifier's classes (null: class indices, the explained class by its name).</param>
    /// <param name="result">An optimised ablation path (its masks, recorded curves and top classes).</param>
    public static PathExplorer? FromResult(AblationPathResult result, IReadOnlyList<string>? classNames = null)
    {
        if (result.Up.dim() != 3 || !result.Space.IsSpatial) return null;
        using var scope = NewDisposeScope();
        var times = new[] { 0.0 }.Concat(result.Times).Append(1.0).ToArray();
        string Name(int c) => classNames is not null && c >= 0 && c < classNames.Count ? classNames[c] : c == result.ClassIndex ? result.ClassName : $"class {c}";
        PathTrack Recorded(string label, Tensor path, ScoreCurve? curve)
        {
            var masks = result.MasksWithEnds(path);
            var frames = result.Frames(path);
            var score = curve is { } cv && cv.Score.Length == times.Length ? cv.Score : Enumerable.Repeat(double.NaN, times.Length).ToArray();
            var top = Enumerable.Range(0, times.Length).Select(i => (IReadOnlyList<(string, double)>)(curve is { } cc && cc.TopClass.Length == times.Length
                ? new[] { ($"top: {Name(cc.TopClass[i])}", cc.TopClass[i] == result.ClassIndex ? score[i] : double.NaN) }
                : Array.Empty<(string, double)>())).ToList();
            return new PathTrack(label, frames.to(CPU).to_type(ScalarType.Float32).DetachFromDisposeScope(),
                masks.to(CPU).to_type(ScalarType.Float32).DetachFromDisposeScope(), score, top);
        }
        var tracks = new List<PathTrack>();
        if (result.IsPair)
        {
            tracks.Add(Recorded("φ↑ (retaining)", result.Up, result.Curve));
            tracks.Add(Recorded("φ↓ (dissipating)", result.Down, result.SecondCurve));
        }
        else tracks.Add(Recorded("φ", result.Up, result.Curve));
        var diagnostics = new List<KeyValuePair<string, string>>
        {
            new("score", $"{result.ScoreKind} {result.Score:F4} (P↑ {result.RetainingScore:F4})"),
            new("saturation", $"{result.Saturation:F3}"),
            new("iterations", $"{result.Iterations} ({result.StopReason})"),
            new("path space", result.PathSpace + (result.BaselineSigma is { } s ? $", blurred baseline σ = {s:G3} px" : "")),
            new("classes", $"image → {Name(result.TargetClass)}, baseline → {Name(result.BaselineClass)}"),
            new("time", $"{result.Timings.TotalMs / 1000:F2} s ({result.Timings.PerIterationMs:F1} ms/iteration)"),
        };
        foreach (var wmsg in result.Warnings) diagnostics.Add(new("warning", wmsg));
        var ct = result.ClassTransition;
        diagnostics.Add(new("class transition", $"t* = {ct.Time:F3} ({ct.Case})"));
        var reductions = result.IsPair
            ? new[] { AblationReduction.ContrastiveAverage, AblationReduction.Average, AblationReduction.ClassTransition }
            : new[] { AblationReduction.Average, AblationReduction.ClassTransition, AblationReduction.InfluenceWeighted };
        var extras = new List<object>();
        foreach (var r in reductions)
            extras.Add(new Overlay(result.Image, result.Saliency(r).DetachFromDisposeScope(), AblationPathMethod.ReductionName(r), 0.55, Width: 140));
        return new PathExplorer($"Ablation path for class {result.ClassIndex} '{result.ClassName}'", times, tracks, diagnostics, extras,
            $"F(x(t)) of '{result.ClassName}' (recorded)");
    }

    static Tensor WithEnds(Tensor path, IPathSpace space)
    {
        var shape = path.shape.Skip(1).ToArray();
        return cat(new[] { zeros(new long[] { 1 }.Concat(shape).ToArray(), path.dtype, path.device), path.detach(),
                           ones(new long[] { 1 }.Concat(shape).ToArray(), path.dtype, path.device) }).to(space.Target.device).to(space.Target.dtype);
    }

    static PathTrack Track(string label, Tensor path, AblationPathResult r, Classifier model, IPathSpace space, int topK)
    {
        // Masks with the implicit ends: [T+2, *S], rendered on the space's device, classified on the model's.
        var masks = WithEnds(path, space);
        Tensor frames;
        using (no_grad()) frames = space.Render(masks).clamp(0, 1);
        var scores = new double[masks.shape[0]];
        var top = new List<IReadOnlyList<(string, double)>>();
        using (no_grad())
        {
            var s = model.Scores(frames.to(model.Device)).to(CPU).to_type(ScalarType.Float64);
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
