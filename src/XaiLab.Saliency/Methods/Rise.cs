using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Methods;

/// <summary>Which score RISE weights its masks with.</summary>
public enum RiseScore
{
    /// <summary>sigmoid(logit), whatever the model's activation — TorchRay's <c>rise</c> (its benchmark models are multi-label).</summary>
    Sigmoid,
    /// <summary>The classifier's own activated score F (softmax or sigmoid, thesis Eq 1.3).</summary>
    Model,
}

/// <summary>Options of <see cref="Rise"/> (defaults: TorchRay's <c>rise</c>, the settings of its benchmark).</summary>
public sealed record RiseOptions
{
    /// <summary>Number of random masks N; default 8000.</summary>
    public int Masks { get; init; } = 8000;
    /// <summary>Cells per side of the low-resolution binary grid; default 7 (7×7).</summary>
    public int Cells { get; init; } = 7;
    /// <summary>Probability p that a cell is kept (shows the image); default 0.5.</summary>
    public double KeepProbability { get; init; } = 0.5;
    /// <summary>Masks per forward pass (memory knob: the batch holds this many masked images); default 32 as in TorchRay.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Seed of the mask generator (a private generator: the global torch seed is untouched); default 0.</summary>
    public long Seed { get; init; }
    /// <summary>
    /// What masked-out pixels become, <c>[C,H,W]</c> in image space; null = the model's mean colour
    /// (<see cref="Classifier.Mean"/>), which is TorchRay's choice: it multiplies the <em>normalised</em> image by the mask.
    /// </summary>
    public Tensor? Baseline { get; init; }
    /// <summary>The score that weights the masks; default <see cref="RiseScore.Sigmoid"/> (TorchRay).</summary>
    public RiseScore Score { get; init; } = RiseScore.Sigmoid;
}

/// <summary>
/// RISE (Petsiuk, Das &amp; Saenko 2018; thesis §1.2.3D, Eq 1.9) with TorchRay's mask geometry. N random binary grids of
/// c×c cells, each cell kept with probability p, are stretched to masks with a random shift: with s = ⌈H/c⌉ (the shift
/// range) and the buffered size H + s, the grid is padded by one cell on each side by reflection, upsampled bilinearly
/// (align_corners = false) to (c+2)·s' pixels with s' = ⌈(H + s)/c⌉ — so a cell covers s' pixels, 37 px at 224 and
/// 21 px at 128 — cut to rows and columns [s', s' + H + s), and cropped at a shift in [0, s) per axis.
/// The map <c>[H,W]</c> of class k is the Monte-Carlo estimate of E[F_k(x ⊙ M) | M(r) = 1],
/// <c>S_k = Σ_i F_k(x ⊙ M_i + x_BL ⊙ (1 − M_i)) · M_i / (N·p)</c>, with F = sigmoid of the logit and x_BL the model's
/// mean colour by default (both as TorchRay). All classes are scored from the same masked forward passes
/// (<see cref="ExplainMany(Classifier, Tensor, IReadOnlyList{int})"/>); the masks are made batch by batch, so memory is
/// bounded by <see cref="RiseOptions.BatchSize"/> masked images plus one <c>[K,H,W]</c> accumulator.
/// Deviations kept: TorchRay divides by N only (ours by N·p, the paper's estimator: a constant factor that changes no
/// ranking or argmax), and it draws grids and shifts chunk by chunk from the global generator (ours: all draws first from
/// a private generator, so that the batch size does not change the masks). Same seed → same masks → identical map on the CPU.
/// Diagnostics: <c>masks</c>, <c>seed</c>, <c>mean_score</c> (mean F over the masked images).
/// </summary>
public sealed class Rise(RiseOptions? options = null) : IMultiClassSaliencyMethod
{
    /// <summary>Masks N, grid cells c, keep probability p, baseline, score, batch size and seed (TorchRay's benchmark settings by default).</summary>
    public RiseOptions Options { get; } = options ?? new RiseOptions();
    /// <summary>Registry name <c>rise</c>.</summary>
    public string Name => "rise";

    /// <summary>
    /// Generates <paramref name="count"/> RISE masks <c>[count,1,H,W]</c> in [0,1] from <paramref name="generator"/>
    /// (first all grids, then all row shifts, then all column shifts).
    /// </summary>
    public static Tensor GenerateMasks(int count, int height, int width, int cells, double p, Generator generator, Device device)
    {
        using var scope = NewDisposeScope();
        var (grid, sy, sx) = Draw(count, height, width, cells, p, generator);
        return Upsample(grid, sy, sx, height, width).to(device).MoveToOuterDisposeScope();
    }

    /// <summary>The shift range s = ⌈size/cells⌉ (pixels) of one axis.</summary>
    public static int ShiftRange(int size, int cells) => (int)Math.Ceiling((double)size / cells);

    /// <summary>The cell size s' = ⌈(size + s)/cells⌉ (pixels) of the upsampled grid along one axis (TorchRay's geometry).</summary>
    public static int CellSize(int size, int cells) => (int)Math.Ceiling((double)(size + ShiftRange(size, cells)) / cells);

    /// <summary>The random draws: binary grids <c>[N,1,c,c]</c> (1 = keep, probability p) and the shifts in [0, s) per axis.</summary>
    static (Tensor Grid, long[] ShiftY, long[] ShiftX) Draw(int count, int height, int width, int cells, double p, Generator generator)
    {
        int sH = ShiftRange(height, cells), sW = ShiftRange(width, cells);
        using var u = rand(new long[] { count, 1, cells, cells }, generator: generator);
        using var keep = u < p;
        var grid = keep.to_type(ScalarType.Float32);
        using var ty = randint(0, sH, new long[] { count }, generator: generator);
        using var tx = randint(0, sW, new long[] { count }, generator: generator);
        return (grid, ty.data<long>().ToArray(), tx.data<long>().ToArray());
    }

    /// <summary>
    /// RISE masks <c>[n,1,H,W]</c> from given binary grids <c>[n,1,c,c]</c> and shifts (row, column) in [0, ⌈H/c⌉) —
    /// the deterministic half of <see cref="GenerateMasks"/>, with TorchRay's geometry (see the class summary).
    /// </summary>
    /// <exception cref="ArgumentException">Grids not <c>[n,1,c,c]</c>, or shift arrays of another length than n.</exception>
    public static Tensor MasksFromGrids(Tensor grids, long[] shiftY, long[] shiftX, int height, int width)
    {
        if (grids.dim() != 4 || grids.shape[1] != 1 || grids.shape[2] != grids.shape[3])
            throw new ArgumentException($"rise: grids must be [n,1,c,c]; got [{string.Join(",", grids.shape)}].", nameof(grids));
        if (shiftY.Length != grids.shape[0] || shiftX.Length != grids.shape[0])
            throw new ArgumentException($"rise: need one row and one column shift per grid ({grids.shape[0]}); got {shiftY.Length} and {shiftX.Length}.");
        int sH = ShiftRange(height, (int)grids.shape[2]), sW = ShiftRange(width, (int)grids.shape[2]);
        if (shiftY.Any(s => s < 0 || s >= sH) || shiftX.Any(s => s < 0 || s >= sW))
            throw new ArgumentOutOfRangeException(nameof(shiftY), $"rise: shifts must lie in [0,{sH}) (rows) and [0,{sW}) (columns).");
        return Upsample(grids.to_type(ScalarType.Float32), shiftY, shiftX, height, width);
    }

    /// <summary>Upsamples grids <c>[n,1,c,c]</c> to masks <c>[n,1,H,W]</c> with the given shifts.</summary>
    static Tensor Upsample(Tensor grid, ReadOnlySpan<long> sy, ReadOnlySpan<long> sx, int height, int width)
    {
        using var scope = NewDisposeScope();
        long count = grid.shape[0];
        int cells = (int)grid.shape[2];
        int sH = ShiftRange(height, cells), sW = ShiftRange(width, cells);
        int cH = CellSize(height, cells), cW = CellSize(width, cells);
        var padded = nn.functional.pad(grid, new long[] { 1, 1, 1, 1 }, PaddingModes.Reflect);
        var up = nn.functional.interpolate(padded, new long[] { cH * (cells + 2), cW * (cells + 2) },
            mode: InterpolationMode.Bilinear, align_corners: false);
        up = up[.., .., TensorIndex.Slice(cH, cH + height + sH), TensorIndex.Slice(cW, cW + width + sW)];
        var masks = empty(new long[] { count, 1, height, width }, device: grid.device);
        for (int i = 0; i < count; i++)
            masks[i] = up[i, .., TensorIndex.Slice(sy[i], sy[i] + height), TensorIndex.Slice(sx[i], sx[i] + width)];
        return masks.MoveToOuterDisposeScope();
    }

    void CheckOptions()
    {
        MethodSupport.CheckPositive(Options.Masks, nameof(Options.Masks), Name);
        if (Options.Cells < 2) throw new ArgumentOutOfRangeException(nameof(Options.Cells), $"{Name}: cells per side must be at least 2; got {Options.Cells}.");
        MethodSupport.CheckPositive(Options.BatchSize, nameof(Options.BatchSize), Name);
        if (!(Options.KeepProbability > 0 && Options.KeepProbability < 1))
            throw new ArgumentOutOfRangeException(nameof(Options.KeepProbability), $"{Name}: keep probability must lie in (0,1); got {Options.KeepProbability}.");
    }

    /// <summary>The RISE map <c>[H,W]</c> (Eq 1.9) of one class; <see cref="ExplainMany(Classifier, Tensor, IReadOnlyList{int})"/> does several classes from the same masked passes.</summary>
    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex) => ExplainMany(model, image, new[] { classIndex })[0];

    /// <summary>
    /// Maps for several classes of one image <c>[C,H,W]</c> from one set of N masked forward passes (as TorchRay's
    /// benchmark, which scores all classes at once); each map equals <see cref="Explain"/>'s for that class.
    /// </summary>
    /// <exception cref="ArgumentException">The image does not fit the model, or no class is given.</exception>
    public IReadOnlyList<SaliencyMap> ExplainMany(Classifier model, Tensor image, IReadOnlyList<int> classes)
    {
        CheckOptions();
        if (image is null) throw new ArgumentNullException(nameof(image));
        if (image.dim() != 3) throw new ArgumentException($"{Name}: expected one image [C,H,W]; got shape [{string.Join(",", image.shape)}].", nameof(image));
        int h = (int)image.shape[1], w = (int)image.shape[2];
        if (Options.Cells > Math.Min(h, w))
            throw new ArgumentOutOfRangeException(nameof(Options.Cells), $"{Name}: {Options.Cells} cells per side exceed the image size {h}×{w}.");
        // All random draws first, in one fixed order, so that the batch size does not change the result.
        // No dispose scope here: the maps must reach the caller's scope (Accumulate moves them one scope out).
        using var gen = new Generator((ulong)Options.Seed, CPU);
        var (drawn, shiftY, shiftX) = Draw(Options.Masks, h, w, Options.Cells, Options.KeepProbability, gen);
        using var grids = drawn;
        Tensor Batch(int start, int n) => Upsample(grids[TensorIndex.Slice(start, start + n)], shiftY.AsSpan(start, n), shiftX.AsSpan(start, n), h, w);
        return Accumulate(model, image, classes, Options.Masks, Batch, Options.KeepProbability);
    }

    /// <summary>
    /// RISE with given masks <c>[N,1,H,W]</c> in [0,1] (TorchRay's <c>filter_masks</c>): the maps of
    /// <paramref name="classes"/>, <c>S_k = Σ_i F_k(x ⊙ M_i + x_BL ⊙ (1 − M_i)) · M_i / (N·p)</c> with p = <see cref="RiseOptions.KeepProbability"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The masks do not have the image's size.</exception>
    public IReadOnlyList<SaliencyMap> ExplainMany(Classifier model, Tensor image, IReadOnlyList<int> classes, Tensor masks)
    {
        CheckOptions();
        if (masks is null) throw new ArgumentNullException(nameof(masks));
        if (masks.dim() != 4 || masks.shape[1] != 1 || masks.shape[2] != image.shape[^2] || masks.shape[3] != image.shape[^1])
            throw new ArgumentException($"{Name}: masks must be [N,1,{image.shape[^2]},{image.shape[^1]}]; got [{string.Join(",", masks.shape)}].", nameof(masks));
        using var m = masks.detach().to_type(ScalarType.Float32);
        return Accumulate(model, image, classes, (int)m.shape[0], (start, n) => m[TensorIndex.Slice(start, start + n)], Options.KeepProbability);
    }

    IReadOnlyList<SaliencyMap> Accumulate(Classifier model, Tensor image, IReadOnlyList<int> classes, int count, Func<int, int, Tensor> batchMasks, double p)
    {
        if (classes is null || classes.Count == 0) throw new ArgumentException($"{Name}: give at least one class to explain.", nameof(classes));
        foreach (var c in classes) model.CheckClass(c);
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classes[0], Name).to_type(ScalarType.Float32);
        int h = (int)x.shape[1], w = (int)x.shape[2];
        var baseline = Options.Baseline is { } b
            ? (b.shape.SequenceEqual(x.shape) ? b.detach().to(x.device).to_type(ScalarType.Float32)
               : throw new ArgumentException($"{Name}: baseline must have the image's shape [{string.Join(",", x.shape)}]; got [{string.Join(",", b.shape)}]."))
            : MethodSupport.MeanImage(model, x);
        var index = tensor(classes.Select(c => (long)c).ToArray(), device: x.device);
        var sal = zeros(new long[] { classes.Count, h * w }, device: x.device);
        var scoreSum = new double[classes.Count];
        using var _ = no_grad();
        for (int start = 0; start < count; start += Options.BatchSize)
        {
            using var inner = NewDisposeScope();
            int n = Math.Min(Options.BatchSize, count - start);
            var m = batchMasks(start, n).to(x.device);
            var batch = x.unsqueeze(0) * m + baseline.unsqueeze(0) * (1 - m);
            var logits = model.Logits(batch);
            var f = (Options.Score == RiseScore.Sigmoid ? logits.sigmoid() : model.Activation == OutputActivation.Softmax ? logits.softmax(-1) : logits.sigmoid())
                .index_select(1, index).to_type(ScalarType.Float32);          // [n, K]
            var fs = f.sum(new long[] { 0 }).cpu().data<float>().ToArray();
            for (int k = 0; k < classes.Count; k++) scoreSum[k] += fs[k];
            sal.add_(matmul(f.t(), m.view(n, h * w)));                       // [K, H·W]
        }
        var maps = (sal / (count * p)).view(classes.Count, h, w);
        var result = new SaliencyMap[classes.Count];
        for (int k = 0; k < classes.Count; k++)
            result[k] = new SaliencyMap(MethodSupport.Finish(maps[k]), Name, classes[k],
                new Dictionary<string, object> { [SaliencyDiagnostics.Key.Masks] = count, [SaliencyDiagnostics.Key.Seed] = Options.Seed, [SaliencyDiagnostics.Key.MeanScore] = scoreSum[k] / count });
        return result;
    }
}

/// <summary>A saliency method that explains several classes of one image more cheaply together than one by one.</summary>
public interface IMultiClassSaliencyMethod : ISaliencyMethod
{
    /// <summary>
    /// The maps of <paramref name="classes"/> for one image <c>[C,H,W]</c>, in the order given; each equals
    /// <see cref="ISaliencyMethod.Explain"/>'s map for that class.
    /// </summary>
    IReadOnlyList<SaliencyMap> ExplainMany(Classifier model, Tensor image, IReadOnlyList<int> classes);
}

/// <summary>
/// A saliency method that explains several (image, class) pairs — of several images — more cheaply together than one by one
/// (the ablation paths: one forward/backward over the masks of every unfinished path, <c>AblationPath.OptimiseMany</c>).
/// The pointing-game runner and <c>explain</c> over a folder hand it batches of images.
/// </summary>
public interface IBatchSaliencyMethod : IMultiClassSaliencyMethod
{
    /// <summary>
    /// The maps of <paramref name="items"/> (images <c>[C,H,W]</c> of one shape, each with a class), in the order given; each
    /// equals <see cref="ISaliencyMethod.Explain"/>'s map for that pair up to float rounding of the batched network.
    /// </summary>
    IReadOnlyList<SaliencyMap> ExplainBatch(Classifier model, IReadOnlyList<(Tensor Image, int ClassIndex)> items);
}
