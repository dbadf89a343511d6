using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Saliency.Evaluation;

/// <summary>How the marker is taken out of an image to test whether the model relies on it.</summary>
public enum MarkerRemoval
{
    /// <summary>Marker pixels take the mean colour of the image outside the marker (default: no trace of the marker remains).</summary>
    FillMean,
    /// <summary>Marker pixels take the image blurred with <see cref="MarkerFaithfulnessOptions.BlurSigma"/>.</summary>
    Blur,
    /// <summary>Marker pixels become black.</summary>
    Black,
}

/// <summary>Options of <see cref="MarkerFaithfulness"/>.</summary>
public sealed record MarkerFaithfulnessOptions
{
    /// <summary>The model relies on the marker when removing it lowers the class score F by more than this; default 0.1.</summary>
    public double ScoreDropThreshold { get; init; } = 0.1;
    /// <summary>… or when removing it changes the top-1 prediction; default true.</summary>
    public bool CountPredictionChange { get; init; } = true;
    /// <summary>How the marker is removed to test the model's reliance on it; default <see cref="MarkerRemoval.FillMean"/>.</summary>
    public MarkerRemoval Removal { get; init; } = MarkerRemoval.FillMean;
    /// <summary>σ (pixels) for <see cref="MarkerRemoval.Blur"/>; default 10.</summary>
    public double BlurSigma { get; init; } = 10;
    /// <summary>The method "points at the marker" when its argmax lies at distance &lt; this from a marker pixel (the pointing game's rule); default 15; 0 = inside only.</summary>
    public double Tolerance { get; init; } = PointingGame.DefaultTolerance;
}

/// <summary>One scene with a planted marker: the image <c>[C,H,W]</c>, the explained class and the marker region (bool <c>[H,W]</c>).</summary>
public sealed record MarkerCase(string Id, Tensor Image, int ClassIndex, Tensor MarkerMask);

/// <summary>Per-scene figures; <see cref="PointsAtMarker"/> is null where the model does not rely on the marker (method not run).</summary>
public sealed record MarkerCaseResult(string Id, double Score, double ScoreWithoutMarker, bool PredictionChanged, bool ReliesOnMarker,
    (int X, int Y)? Point, bool? PointsAtMarker);

/// <summary>Scenes seen, scenes where the model demonstrably relies on the marker, and how often the method points at it there.</summary>
public sealed record MarkerFaithfulnessResult(string Method, int Scenes, int Reliant, int PointsAtMarker, IReadOnlyList<MarkerCaseResult> Cases)
{
    /// <summary>PointsAtMarker / Reliant (NaN when no scene relies on the marker).</summary>
    public double Rate => Reliant == 0 ? double.NaN : (double)PointsAtMarker / Reliant;
}

/// <summary>
/// Faithfulness on a planted-bias model (thesis §1.2.4B: a faithful method must show a bias the classifier really uses,
/// even where the pointing game would punish it). For each scene the marker is removed; if the class score drops by more
/// than the threshold (or the prediction changes), the model relies on the marker there, and the method is run: it scores
/// when its argmax lies in or near the marker.
/// </summary>
public static class MarkerFaithfulness
{
    /// <summary>Runs the check on every case: removes the marker, decides reliance (score drop or prediction change), and where the model relies on it, explains the class with <paramref name="method"/> and tests whether the map's argmax points at the marker.</summary>
    public static MarkerFaithfulnessResult Evaluate(Classifier model, ISaliencyMethod method, IEnumerable<MarkerCase> cases, MarkerFaithfulnessOptions? options = null)
    {
        var o = options ?? new MarkerFaithfulnessOptions();
        var results = new List<MarkerCaseResult>();
        foreach (var c in cases)
        {
            using var scope = NewDisposeScope();
            var x = MethodSupport.PrepareImage(model, c.Image, c.ClassIndex, "marker faithfulness");
            long h = x.shape[1], w = x.shape[2];
            if (c.MarkerMask.dim() != 2 || c.MarkerMask.shape[0] != h || c.MarkerMask.shape[1] != w)
                throw new ArgumentException($"Marker faithfulness: scene '{c.Id}': marker mask must be bool [{h},{w}]; got [{string.Join(",", c.MarkerMask.shape)}].");
            var marker = c.MarkerMask.to_type(ScalarType.Bool).to(x.device);
            if (!marker.any().item<bool>()) throw new ArgumentException($"Marker faithfulness: scene '{c.Id}' has an empty marker mask.");
            var removed = RemoveMarker(x, marker, o);
            double s0, s1; int p0, p1;
            using (no_grad())
            {
                var f = model.Scores(stack(new[] { x, removed })).to_type(ScalarType.Float64).cpu();
                s0 = f[0, c.ClassIndex].item<double>(); s1 = f[1, c.ClassIndex].item<double>();
                p0 = (int)f[0].argmax().item<long>(); p1 = (int)f[1].argmax().item<long>();
            }
            bool changed = p0 != p1;
            bool relies = s0 - s1 > o.ScoreDropThreshold || (o.CountPredictionChange && changed);
            (int X, int Y)? point = null; bool? at = null;
            if (relies)
            {
                using var map = method.Explain(model, c.Image, c.ClassIndex);
                var pt = PointingGame.Point(map, (int)h, (int)w);
                point = pt;
                at = o.Tolerance > 0 ? PointingGame.IsHit(marker, pt, o.Tolerance) : marker.cpu()[pt.Y, pt.X].item<bool>();
            }
            results.Add(new MarkerCaseResult(c.Id, s0, s1, changed, relies, point, at));
        }
        return new MarkerFaithfulnessResult(method.Name, results.Count, results.Count(r => r.ReliesOnMarker), results.Count(r => r.PointsAtMarker == true), results);
    }

    /// <summary>
    /// Convenience form over annotated scenes: scene i is explained for <paramref name="classOf"/>(scene) (default: its
    /// first annotated class, the label of a single-label scene) with marker mask <paramref name="markers"/>[i] (bool <c>[H,W]</c>).
    /// </summary>
    public static MarkerFaithfulnessResult Evaluate(Classifier model, ISaliencyMethod method, IReadOnlyList<XaiLab.Imaging.Data.Scene> scenes,
        IReadOnlyList<Tensor> markers, Func<XaiLab.Imaging.Data.Scene, int>? classOf = null, MarkerFaithfulnessOptions? options = null)
    {
        if (scenes.Count != markers.Count) throw new ArgumentException($"Marker faithfulness: {scenes.Count} scenes but {markers.Count} marker masks.");
        classOf ??= s => s.Classes.Count > 0 ? s.Classes[0]
            : throw new ArgumentException($"Marker faithfulness: scene '{s.Id}' has no annotated class; pass classOf.");
        return Evaluate(model, method, scenes.Select((s, i) => new MarkerCase(s.Id, s.Image, classOf(s), markers[i])), options);
    }

    /// <summary>The image <c>[C,H,W]</c> with the marker pixels replaced as <paramref name="options"/> says.</summary>
    public static Tensor RemoveMarker(Tensor image, Tensor marker, MarkerFaithfulnessOptions options)
    {
        using var scope = NewDisposeScope();
        var m = marker.to_type(image.dtype).unsqueeze(0);
        Tensor fill = options.Removal switch
        {
            MarkerRemoval.Black => zeros_like(image),
            MarkerRemoval.Blur => Gaussian.Blur(image, options.BlurSigma),
            _ => ((image * (1 - m)).sum(new long[] { 1, 2 }, keepdim: true) / (1 - m).sum().clamp_min(1)).expand_as(image),
        };
        return (image * (1 - m) + fill * m).MoveToOuterDisposeScope();
    }
}
