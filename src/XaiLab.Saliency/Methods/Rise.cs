using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Methods;

/// <summary>Options of <see cref="Rise"/> (defaults: TorchRay's <c>rise</c>, the settings of its benchmark).</summary>
public sealed record RiseOptions
{
    /// <summary>Number of random masks N; default 8000.</summary>
    public int Masks { get; init; } = 8000;
    /// <summary>Cells per side of the low-resolution binary grid; default 7 (7×7).</summary>
    public int Cells { get; init; } = 7;
    /// <summary>Probability p that a cell is kept (shows the image); default 0.5.</summary>
    public double KeepProbability { get; init; } = 0.5;
    /// <summary>Masks per forward pass (memory knob); default 32 as in TorchRay.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Seed of the mask generator (a private generator: the global torch seed is untouched); default 0.</summary>
    public long Seed { get; init; }
    /// <summary>
    /// What masked-out pixels become, <c>[C,H,W]</c> in image space; null = black. (TorchRay multiplies the
    /// <em>normalised</em> image by the mask, i.e. its baseline is the dataset mean colour; pass that colour here to match.)
    /// </summary>
    public Tensor? Baseline { get; init; }
}

/// <summary>
/// RISE (Petsiuk, Das &amp; Saenko 2018; thesis §1.2.3D, Eq 1.9): N random binary grids of c×c cells, each cell kept with
/// probability p, upsampled bilinearly to (H + cell)×(W + cell) with cell = ⌈H/c⌉ (TorchRay pads the grid by reflection
/// before upsampling) and cropped at a random shift in [0, cell) per axis. The map <c>[H,W]</c> is the Monte-Carlo estimate
/// of E[F(x ⊙ M) | M(r) = 1] from the paper, <c>S = Σ_i F(x ⊙ M_i + x_BL ⊙ (1 − M_i)) · M_i / (N·p)</c>.
/// TorchRay divides by N only and always applies a sigmoid; a constant factor changes no ranking or argmax, and we use
/// the classifier's own activation (F of Eq 1.3). Same seed → same masks → identical map on the CPU.
/// Diagnostics: <c>masks</c>, <c>seed</c>, <c>mean_score</c> (mean F over the masked images).
/// </summary>
public sealed class Rise(RiseOptions? options = null) : ISaliencyMethod
{
    public RiseOptions Options { get; } = options ?? new RiseOptions();
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

    /// <summary>The random draws: binary grids <c>[N,1,c,c]</c> (1 = keep, probability p) and the shifts in [0, cell) per axis.</summary>
    static (Tensor Grid, long[] ShiftY, long[] ShiftX) Draw(int count, int height, int width, int cells, double p, Generator generator)
    {
        int cellH = (int)Math.Ceiling((double)height / cells), cellW = (int)Math.Ceiling((double)width / cells);
        var grid = (rand(new long[] { count, 1, cells, cells }, generator: generator) < p).to_type(ScalarType.Float32);
        var sy = randint(0, cellH, new long[] { count }, generator: generator).data<long>().ToArray();
        var sx = randint(0, cellW, new long[] { count }, generator: generator).data<long>().ToArray();
        return (grid, sy, sx);
    }

    /// <summary>Upsamples grids <c>[n,1,c,c]</c> to masks <c>[n,1,H,W]</c> with the given shifts.</summary>
    static Tensor Upsample(Tensor grid, ReadOnlySpan<long> sy, ReadOnlySpan<long> sx, int height, int width)
    {
        using var scope = NewDisposeScope();
        long count = grid.shape[0], cells = grid.shape[2];
        int cellH = (int)Math.Ceiling((double)height / cells), cellW = (int)Math.Ceiling((double)width / cells);
        // Reflection padding by one cell, upsampling, then cutting the padding off: the grid is stretched to
        // (cells+2)·cell pixels so that a shift of up to one cell never runs off the end (as TorchRay).
        var padded = nn.functional.pad(grid, new long[] { 1, 1, 1, 1 }, PaddingModes.Reflect);
        var up = nn.functional.interpolate(padded, new long[] { cellH * (cells + 2), cellW * (cells + 2) },
            mode: InterpolationMode.Bilinear, align_corners: false);
        up = up[.., .., TensorIndex.Slice(cellH, cellH + height + cellH), TensorIndex.Slice(cellW, cellW + width + cellW)];
        var masks = empty(new long[] { count, 1, height, width }, device: grid.device);
        for (int i = 0; i < count; i++)
            masks[i] = up[i, .., TensorIndex.Slice(sy[i], sy[i] + height), TensorIndex.Slice(sx[i], sx[i] + width)];
        return masks.MoveToOuterDisposeScope();
    }

    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
    {
        MethodSupport.CheckPositive(Options.Masks, nameof(Options.Masks), Name);
        if (Options.Cells < 2) throw new ArgumentOutOfRangeException(nameof(Options.Cells), $"{Name}: cells per side must be at least 2; got {Options.Cells}.");
        MethodSupport.CheckPositive(Options.BatchSize, nameof(Options.BatchSize), Name);
        if (!(Options.KeepProbability > 0 && Options.KeepProbability < 1))
            throw new ArgumentOutOfRangeException(nameof(Options.KeepProbability), $"{Name}: keep probability must lie in (0,1); got {Options.KeepProbability}.");
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classIndex, Name).to_type(ScalarType.Float32);
        int h = (int)x.shape[1], w = (int)x.shape[2];
        if (Options.Cells > Math.Min(h, w))
            throw new ArgumentOutOfRangeException(nameof(Options.Cells), $"{Name}: {Options.Cells} cells per side exceed the image size {h}×{w}.");
        var baseline = Options.Baseline is { } b
            ? (b.shape.SequenceEqual(x.shape) ? b.detach().to(x.device).to_type(ScalarType.Float32)
               : throw new ArgumentException($"{Name}: baseline must have the image's shape [{string.Join(",", x.shape)}]; got [{string.Join(",", b.shape)}]."))
            : zeros_like(x);
        // All random draws first, in one fixed order, so that the batch size does not change the result.
        using var gen = new Generator((ulong)Options.Seed, CPU);
        var (grids, shiftY, shiftX) = Draw(Options.Masks, h, w, Options.Cells, Options.KeepProbability, gen);
        grids = grids.to(x.device);
        var sal = zeros(new long[] { h * w }, device: x.device);
        double scoreSum = 0;
        using var _ = no_grad();
        for (int start = 0; start < Options.Masks; start += Options.BatchSize)
        {
            using var inner = NewDisposeScope();
            int n = Math.Min(Options.BatchSize, Options.Masks - start);
            var m = Upsample(grids[TensorIndex.Slice(start, start + n)], shiftY.AsSpan(start, n), shiftX.AsSpan(start, n), h, w);
            var batch = x.unsqueeze(0) * m + baseline.unsqueeze(0) * (1 - m);
            var f = model.Scores(batch)[.., classIndex].to_type(ScalarType.Float32);
            scoreSum += f.sum().item<float>();
            sal.add_(matmul(f.unsqueeze(0), m.view(n, h * w))[0]);
        }
        var map = sal.view(h, w) / (Options.Masks * Options.KeepProbability);
        return new SaliencyMap(MethodSupport.Finish(map), Name, classIndex,
            new Dictionary<string, object> { ["masks"] = Options.Masks, ["seed"] = Options.Seed, ["mean_score"] = scoreSum / Options.Masks });
    }
}
