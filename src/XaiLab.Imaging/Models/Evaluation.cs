using TorchSharp;
using XaiLab.Imaging.Data;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models;

/// <summary>Held-out figures of a classifier on a dataset.</summary>
/// <param name="Metric">"accuracy" (single-label: argmax equals the scene's label) or "mAP" (multi-label: mean over classes of average precision).</param>
/// <param name="Value">The metric in [0,1].</param>
/// <param name="Images">Number of scenes evaluated.</param>
/// <param name="PerClass">Per class: accuracy among scenes of that class (single-label) or average precision (multi-label); NaN where a class never occurs.</param>
/// <param name="Model">The model's registry name.</param>
/// <param name="Dataset">The dataset's registry name.</param>
/// <param name="Split">The split evaluated (e.g. test).</param>
/// <param name="Duration">Wall time of the evaluation.</param>
public sealed record EvaluationResult(string Model, string Dataset, string Split, string Metric, double Value, int Images, IReadOnlyList<double> PerClass, TimeSpan Duration);

/// <summary>
/// Effect of the planted marker (biased Fashion scenes) on a model: over test scenes whose class is not the marker class,
/// the fraction predicted as the marker class with the marker painted in, and without it (same scenes otherwise).
/// A model that uses the shortcut shows <see cref="WithMarker"/> ≫ <see cref="WithoutMarker"/>.
/// </summary>
public sealed record MarkerEffect(string Model, int MarkerClass, int Images, double WithMarker, double WithoutMarker)
{
    /// <summary>The marker's effect, <see cref="WithMarker"/> − <see cref="WithoutMarker"/> (a fraction of scenes; ≈ 0 for a model that ignores it).</summary>
    public double Increase => WithMarker - WithoutMarker;
}

/// <summary>Accuracy / mAP of classifiers on scene datasets, and the planted-marker check.</summary>
public static class Evaluation
{
    /// <summary>
    /// Evaluates <paramref name="model"/> on the first <paramref name="limit"/> scenes of <paramref name="dataset"/> (all by default),
    /// in batches of <paramref name="batchSize"/>. Single-label datasets: accuracy of the argmax against the first object's class.
    /// Multi-label datasets: mAP, the mean over classes that occur of the non-interpolated average precision
    /// (mean of the precision at the rank of each positive) of the activated scores; a class is positive where any object has it.
    /// </summary>
    public static EvaluationResult Evaluate(Classifier model, ISceneDataset dataset, string split = "test", int? limit = null, int batchSize = 64)
    {
        if (model.NumClasses != dataset.ClassNames.Count)
            throw new ArgumentException($"Model '{model.Name}' has {model.NumClasses} classes but dataset '{dataset.Name}' has {dataset.ClassNames.Count}.");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int n = Math.Min(limit ?? dataset.Count, dataset.Count), k = model.NumClasses;
        var scores = new float[n * k];
        var labels = new bool[n * k];
        var first = new int[n];
        for (int start = 0; start < n; start += batchSize)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            int m = Math.Min(batchSize, n - start);
            var images = new List<Tensor>();
            for (int i = 0; i < m; i++)
            {
                var scene = dataset.Get(start + i);
                images.Add(scene.Image);
                if (scene.Objects.Count == 0) throw new InvalidDataException($"Scene {scene.Id} has no objects: it cannot be scored.");
                first[start + i] = scene.Objects[0].ClassIndex;
                foreach (var c in scene.Classes) labels[(start + i) * k + c] = true;
                scene.ObjectMasks?.Dispose();
            }
            var s = model.Scores(stack(images)).to(CPU).contiguous().data<float>().ToArray();
            Array.Copy(s, 0, scores, start * k, m * k);
        }
        var perClass = new double[k];
        double value;
        string metric;
        if (!dataset.MultiLabel)
        {
            metric = "accuracy";
            int correct = 0;
            var hit = new int[k]; var tot = new int[k];
            for (int i = 0; i < n; i++)
            {
                int arg = 0;
                for (int c = 1; c < k; c++) if (scores[i * k + c] > scores[i * k + arg]) arg = c;
                tot[first[i]]++;
                if (arg == first[i]) { correct++; hit[first[i]]++; }
            }
            for (int c = 0; c < k; c++) perClass[c] = tot[c] == 0 ? double.NaN : (double)hit[c] / tot[c];
            value = n == 0 ? double.NaN : (double)correct / n;
        }
        else
        {
            metric = "mAP";
            for (int c = 0; c < k; c++)
                perClass[c] = AveragePrecision(Enumerable.Range(0, n).Select(i => scores[i * k + c]).ToArray(), Enumerable.Range(0, n).Select(i => labels[i * k + c]).ToArray());
            var present = perClass.Where(v => !double.IsNaN(v)).ToArray();
            value = present.Length == 0 ? double.NaN : present.Average();
        }
        var splitName = dataset is FashionScenes fs ? fs.Split : split;
        return new EvaluationResult(model.Name, dataset.Name, splitName, metric, value, n, perClass, sw.Elapsed);
    }

    /// <summary>
    /// Non-interpolated average precision: sort by score (descending; ties keep input order), then the mean of
    /// precision@rank over the ranks of the positives. NaN when there is no positive.
    /// </summary>
    public static double AveragePrecision(IReadOnlyList<float> scores, IReadOnlyList<bool> positive)
    {
        if (scores.Count != positive.Count) throw new ArgumentException($"{scores.Count} scores but {positive.Count} labels.");
        var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
        int tp = 0; double sum = 0;
        for (int r = 0; r < order.Length; r++)
            if (positive[order[r]]) { tp++; sum += (double)tp / (r + 1); }
        return tp == 0 ? double.NaN : sum / tp;
    }

    /// <summary>
    /// The planted-marker check on the test split of <c>fashion-scenes-biased</c> (or any <see cref="FashionScenes"/>):
    /// the first <paramref name="limit"/> scenes whose class is not the marker class, each rendered with and without the marker.
    /// </summary>
    public static MarkerEffect MeasureMarkerEffect(Classifier model, FashionScenes scenes, int limit = 500, int batchSize = 50)
    {
        int target = scenes.Options.MarkerClass;
        var indices = Enumerable.Range(0, scenes.Count).Where(i => scenes.Layout(i).Items[0].ClassIndex != target).Take(limit).ToArray();
        double Rate(bool marker)
        {
            int hits = 0;
            for (int start = 0; start < indices.Length; start += batchSize)
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var imgs = indices.Skip(start).Take(batchSize).Select(i => { var s = scenes.Get(i, marker); s.ObjectMasks?.Dispose(); return s.Image; }).ToList();
                var pred = model.Logits(stack(imgs)).argmax(1).to(CPU).data<long>().ToArray();
                hits += pred.Count(p => p == target);
            }
            return indices.Length == 0 ? double.NaN : (double)hits / indices.Length;
        }
        return new MarkerEffect(model.Name, target, indices.Length, Rate(true), Rate(false));
    }
}
