using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Saliency.Evaluation;

/// <summary>Which pixel-ablation curve (thesis §1.2.4C).</summary>
public enum AblationMode
{
    /// <summary>Start from the baseline and insert the most salient pixels first (higher AUC = better).</summary>
    Insertion,
    /// <summary>Start from the image and replace the most salient pixels by the baseline first (lower AUC = better).</summary>
    Deletion,
}

/// <summary>What ablated pixels become.</summary>
public enum AblationBaseline
{
    /// <summary>The mode's default: blurred image for insertion, black for deletion (Petsiuk et al. 2018).</summary>
    Default,
    /// <summary>Black (zeros in image space).</summary>
    Black,
    /// <summary>The image blurred with <see cref="PixelAblationOptions.BlurSigma"/>.</summary>
    Blur,
}

/// <summary>Options of <see cref="PixelAblation"/>.</summary>
public sealed record PixelAblationOptions
{
    /// <summary>Number of steps S: after step k the ⌊k·H·W/S⌋ most salient pixels are inserted/deleted (k = 0..S); default 224
    /// (RISE removes 224 pixels per step on 224×224 images, i.e. 224 steps).</summary>
    public int Steps { get; init; } = 224;
    /// <summary>Baseline; default per mode (insertion: blur, deletion: black, as in the RISE paper).</summary>
    public AblationBaseline Baseline { get; init; } = AblationBaseline.Default;
    /// <summary>σ (pixels) of the blur baseline; default 5 (RISE: 11×11 Gaussian kernel, σ 5).</summary>
    public double BlurSigma { get; init; } = 5;
    /// <summary>A custom baseline image <c>[C,H,W]</c>; overrides <see cref="Baseline"/>.</summary>
    public Tensor? CustomBaseline { get; init; }
    /// <summary>Images per forward pass; default 32.</summary>
    public int BatchSize { get; init; } = 32;
}

/// <summary>An insertion or deletion curve: F at t_k = k/S (fraction of pixels ablated) and its area by the trapezoid rule.</summary>
public sealed record PixelAblationResult(AblationMode Mode, double[] T, double[] Scores, double Auc, string Baseline);

/// <summary>
/// Ranked pixel ablation (Petsiuk, Das &amp; Saenko 2018; thesis §1.2.4C, Eq 2.3/2.4): pixels are ordered by saliency
/// (the map resized bilinearly to the image; ties broken by row-major position), and for t_k = k/S the top ⌊t_k·H·W⌋
/// pixels are inserted into the baseline (insertion) or replaced by it (deletion). The AUC is
/// <c>∫₀¹ F dt</c> by the trapezoid rule over the S + 1 points. F is the classifier's activated class score.
/// </summary>
public static class PixelAblation
{
    /// <summary>The insertion or deletion curve (per <paramref name="mode"/>) of <paramref name="saliency"/> for class <paramref name="classIndex"/> of <paramref name="image"/> <c>[C,H,W]</c>, and its AUC (Eq 2.3/2.4).</summary>
    public static PixelAblationResult Evaluate(Classifier model, Tensor image, SaliencyMap saliency, int classIndex, AblationMode mode, PixelAblationOptions? options = null)
    {
        using var scope = NewDisposeScope();
        return Evaluate(model, image, saliency.Resized((int)image.shape[^2], (int)image.shape[^1]), classIndex, mode, options);
    }

    /// <param name="saliency">Saliency <c>[H,W]</c> at image resolution; larger = more salient.</param>
    /// <param name="model">The classifier; F is its activated score of <paramref name="classIndex"/>.</param>
    /// <param name="image">The image <c>[C,H,W]</c> in [0,1].</param>
    /// <param name="classIndex">The explained class.</param>
    /// <param name="mode">Insertion (pixels enter the baseline) or deletion (pixels are replaced by it).</param>
    /// <param name="options">Steps S, baseline and batch size; default <see cref="PixelAblationOptions"/>' defaults.</param>
    public static PixelAblationResult Evaluate(Classifier model, Tensor image, Tensor saliency, int classIndex, AblationMode mode, PixelAblationOptions? options = null)
    {
        var o = options ?? new PixelAblationOptions();
        if (o.Steps <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"Pixel ablation: Steps must be positive; got {o.Steps}.");
        if (o.BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"Pixel ablation: BatchSize must be positive; got {o.BatchSize}.");
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classIndex, "pixel ablation");
        long c = x.shape[0], h = x.shape[1], w = x.shape[2], n = h * w;
        if (saliency.dim() != 2 || saliency.shape[0] != h || saliency.shape[1] != w)
            throw new ArgumentException($"Pixel ablation: saliency must be [{h},{w}] like the image; got [{string.Join(",", saliency.shape)}].", nameof(saliency));
        var kind = o.CustomBaseline is not null ? AblationBaseline.Default
            : o.Baseline != AblationBaseline.Default ? o.Baseline
            : mode == AblationMode.Insertion ? AblationBaseline.Blur : AblationBaseline.Black;
        Tensor baseline;
        string baselineName;
        if (o.CustomBaseline is { } cb)
        {
            if (!cb.shape.SequenceEqual(x.shape)) throw new ArgumentException($"Pixel ablation: baseline must be [{c},{h},{w}]; got [{string.Join(",", cb.shape)}].");
            baseline = cb.detach().to(x.device).to_type(x.dtype); baselineName = "custom";
        }
        else if (kind == AblationBaseline.Blur) { baseline = Gaussian.Blur(x, o.BlurSigma); baselineName = $"blur σ={o.BlurSigma}"; }
        else { baseline = zeros_like(x); baselineName = "black"; }

        // Rank of each pixel in the descending saliency order (stable: ties by row-major index).
        var order = saliency.detach().cpu().to_type(ScalarType.Float64).flatten().data<double>().ToArray()
            .Select((v, i) => (v, i)).OrderByDescending(p => p.v).ThenBy(p => p.i).Select(p => p.i).ToArray();
        var rankArr = new long[n];
        for (int r = 0; r < order.Length; r++) rankArr[order[r]] = r;
        var rank = tensor(rankArr, device: x.device).view(1, 1, h, w);

        var scores = new double[o.Steps + 1];
        var ts = Enumerable.Range(0, o.Steps + 1).Select(k => (double)k / o.Steps).ToArray();
        using var _ = no_grad();
        for (int start = 0; start <= o.Steps; start += o.BatchSize)
        {
            using var inner = NewDisposeScope();
            int b = Math.Min(o.BatchSize, o.Steps + 1 - start);
            var counts = Enumerable.Range(start, b).Select(k => (long)Math.Floor((double)k * n / o.Steps)).ToArray();
            var top = (rank < tensor(counts, device: x.device).view(-1, 1, 1, 1)).to_type(x.dtype); // 1 = among the top
            var batch = mode == AblationMode.Insertion
                ? x.unsqueeze(0) * top + baseline.unsqueeze(0) * (1 - top)
                : x.unsqueeze(0) * (1 - top) + baseline.unsqueeze(0) * top;
            var f = model.Scores(batch)[.., classIndex].to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            Array.Copy(f, 0, scores, start, b);
        }
        double auc = 0;
        for (int k = 0; k < o.Steps; k++) auc += 0.5 * (scores[k] + scores[k + 1]) * (ts[k + 1] - ts[k]);
        return new PixelAblationResult(mode, ts, scores, auc, baselineName);
    }
}
