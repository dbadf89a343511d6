using TorchSharp;
using XaiLab.Imaging.Data;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Evaluation;

/// <summary>The result of one pointing trial. Values as TorchRay: +1 hit, −1 miss, 0 skipped.</summary>
public enum PointingOutcome
{
    /// <summary>No pixel of the class lies within the tolerance of the map's maximum.</summary>
    Miss = -1,
    /// <summary>Not counted: the class is absent, or all its objects are "difficult".</summary>
    Skip = 0,
    /// <summary>A pixel of the class lies strictly within the tolerance (15 px) of the map's maximum.</summary>
    Hit = 1,
}

/// <summary>
/// The pointing game (Zhang et al. 2016; thesis §1.2.4B, §2.7.3) with TorchRay's protocol: the saliency map is resized
/// bilinearly to the image, the point is its argmax (first maximum in row-major order), and a trial is a hit when some
/// ground-truth pixel of the class lies at Euclidean distance strictly below the tolerance (15 px) from the point.
/// Classes whose annotated objects are all VOC-"difficult" are skipped for that image. The "difficult" subset
/// (Zhang et al.) keeps the image/class pairs whose class region covers less than a quarter of the image and whose
/// image has at least one other class.
/// </summary>
public static class PointingGame
{
    /// <summary>TorchRay's tolerance in pixels.</summary>
    public const int DefaultTolerance = 15;

    /// <summary>The point (X = column, Y = row) of <paramref name="saliency"/> resized to <paramref name="height"/>×<paramref name="width"/>.</summary>
    public static (int X, int Y) Point(SaliencyMap saliency, int height, int width)
    {
        using var scope = NewDisposeScope();
        return Point(saliency.Resized(height, width));
    }

    /// <summary>The argmax (X = column, Y = row) of a map <c>[H,W]</c>; the first maximum in row-major order.</summary>
    /// <exception cref="ArgumentException">The map is not 2-D or contains NaN.</exception>
    public static (int X, int Y) Point(Tensor map)
    {
        if (map.dim() != 2) throw new ArgumentException($"Pointing game: expected a map [H,W]; got [{string.Join(",", map.shape)}].", nameof(map));
        using var scope = NewDisposeScope();
        var flat = map.detach().cpu().to_type(ScalarType.Float64).flatten();
        if (flat.isnan().any().item<bool>()) throw new ArgumentException("Pointing game: the saliency map contains NaN.", nameof(map));
        var v = flat.data<double>().ToArray();
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        int w = (int)map.shape[1];
        return (best % w, best / w);
    }

    /// <summary>
    /// True when a pixel of <paramref name="classMask"/> (bool <c>[H,W]</c>) lies at distance &lt; <paramref name="tolerance"/>
    /// from <paramref name="point"/> (strict, as TorchRay's <c>(dy² + dx²) &lt; tolerance²</c>).
    /// </summary>
    public static bool IsHit(Tensor classMask, (int X, int Y) point, double tolerance = DefaultTolerance)
    {
        if (classMask.dim() != 2) throw new ArgumentException($"Pointing game: expected a class mask [H,W]; got [{string.Join(",", classMask.shape)}].", nameof(classMask));
        using var scope = NewDisposeScope();
        var idx = classMask.to_type(ScalarType.Bool).cpu().nonzero();
        if (idx.shape[0] == 0) return false;
        var d2 = (idx[.., 0] - point.Y).to_type(ScalarType.Float64).pow(2) + (idx[.., 1] - point.X).to_type(ScalarType.Float64).pow(2);
        return (d2 < tolerance * tolerance).any().item<bool>();
    }

    /// <summary>True when every object of class <paramref name="classIndex"/> in the scene is flagged VOC-difficult (the trial is skipped).</summary>
    public static bool AllObjectsDifficult(Scene scene, int classIndex)
    {
        var objs = scene.Objects.Where(o => o.ClassIndex == classIndex).ToArray();
        return objs.Length > 0 && objs.All(o => o.Difficult);
    }

    /// <summary>
    /// The difficult-subset rule (Zhang et al. 2016): the class region (union of the class's boxes/masks, difficult ones
    /// included) covers less than 1/4 of the image, and at least one other class is present in the image.
    /// </summary>
    public static bool InDifficultSubset(Scene scene, int classIndex)
    {
        if (!scene.Classes.Any(c => c != classIndex)) return false;
        using var scope = NewDisposeScope();
        using var mask = scene.ClassMask(classIndex, includeDifficult: true);
        long covered = mask.sum().item<long>();
        return covered * 4 < (long)scene.Height * scene.Width;
    }

    /// <summary>One trial: skipped when all the class's objects are difficult, else hit or miss of <paramref name="point"/>.</summary>
    public static PointingOutcome Evaluate(Scene scene, int classIndex, (int X, int Y) point, double tolerance = DefaultTolerance)
    {
        if (!scene.Classes.Contains(classIndex))
            throw new ArgumentException($"Pointing game: class {classIndex} is not annotated in scene '{scene.Id}' (classes: {string.Join(", ", scene.Classes)}).");
        if (AllObjectsDifficult(scene, classIndex)) return PointingOutcome.Skip;
        using var mask = scene.ClassMask(classIndex, includeDifficult: true);
        return IsHit(mask, point, tolerance) ? PointingOutcome.Hit : PointingOutcome.Miss;
    }
}

/// <summary>
/// Per-class hit/miss counts and the two averages: TorchRay's (mean over <em>all</em> classes of hits/(hits+misses),
/// a class without trials counting 0 %, thesis Remark 10) and the mean over the classes that had trials.
/// </summary>
public sealed class PointingGameScore
{
    /// <summary>Empty counts for <paramref name="numClasses"/> classes.</summary>
    public PointingGameScore(int numClasses)
    {
        if (numClasses <= 0) throw new ArgumentOutOfRangeException(nameof(numClasses), $"Pointing game: need at least one class; got {numClasses}.");
        Hits = new long[numClasses];
        Misses = new long[numClasses];
    }

    /// <summary>Hits per class.</summary>
    public long[] Hits { get; }
    /// <summary>Misses per class.</summary>
    public long[] Misses { get; }
    /// <summary>Number of classes counted.</summary>
    public int NumClasses => Hits.Length;

    /// <summary>Counts one trial of class <paramref name="classIndex"/>; <see cref="PointingOutcome.Skip"/> counts nothing.</summary>
    public void Add(int classIndex, PointingOutcome outcome)
    {
        if (classIndex < 0 || classIndex >= NumClasses) throw new ArgumentOutOfRangeException(nameof(classIndex), $"Pointing game: class {classIndex} outside 0..{NumClasses - 1}.");
        if (outcome == PointingOutcome.Hit) Hits[classIndex]++;
        else if (outcome == PointingOutcome.Miss) Misses[classIndex]++;
    }

    /// <summary>hits/(hits+misses) per class; 0 where a class had no trials (TorchRay's clamp(min=1)).</summary>
    public double[] ClassAccuracies => Hits.Select((h, c) => h / (double)Math.Max(1, h + Misses[c])).ToArray();

    /// <summary>TorchRay's number: mean over all classes, absent classes counted as 0.</summary>
    public double TorchRayAccuracy => ClassAccuracies.Average();

    /// <summary>Mean over the classes with at least one trial (NaN when none).</summary>
    public double PresentClassAccuracy
    {
        get
        {
            var acc = ClassAccuracies.Where((_, c) => Hits[c] + Misses[c] > 0).ToArray();
            return acc.Length == 0 ? double.NaN : acc.Average();
        }
    }

    /// <summary>Classes with at least one trial.</summary>
    public int PresentClasses => Enumerable.Range(0, NumClasses).Count(c => Hits[c] + Misses[c] > 0);

    /// <summary>Trials counted (hits + misses).</summary>
    public long Trials => Hits.Sum() + Misses.Sum();
}
