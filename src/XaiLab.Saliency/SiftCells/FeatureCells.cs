using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.SiftCells;

/// <summary>
/// The smooth, sparsified cell masks of one scale-space band in COO form: entry e says that cell
/// <c>Cell[e]</c> owns the fraction <c>Value[e]</c> of grid pixel <c>Pixel[e]</c> (row-major on the band's h×w grid).
/// After redistribution the values at every pixel with m̃ ≥ guard sum to 1 (Lemma 10).
/// </summary>
/// <param name="UncoveredPixels">Pixels where the cut-off left less total mass m̃ than the guard 10⁻³ (Lemma 10's condition fails there).</param>
/// <param name="MinMass">Smallest m̃ over the band (before redistribution).</param>
public sealed record CellMasks(long[] Cell, long[] Pixel, float[] Value, int Height, int Width, int UncoveredPixels, double MinMass);

/// <summary>
/// Feature cells (thesis §4.1.3, §4.2.3): Voronoi assignment of scale-space voxels to keypoints (Eq 4.18/4.19),
/// smoothing of each cell's indicator within its band (Eq 4.26/4.27), soft sparsity cut-off (Eq 4.37) and mass
/// redistribution (Eq 4.38/4.39).
/// <para>
/// Units: a voxel of a band stored on an h×w grid sits at the centre of its grid pixel expressed in original-image
/// pixel coordinates (<c>x = (j + ½)·W/w − ½</c>, the same convention as <see cref="SiftKeypoint"/>), at the band's
/// representative σ (<see cref="ScaleSpaceLayer.Sigma"/>). σ is in original pixels for voxels and keypoints alike,
/// so <c>d² = |r₁ − r₀|² + η²(σ₁ − σ₀)²</c> compares pixels with pixels; η = 1 weighs them equally. A keypoint's σ
/// is OpenCV's (the smaller σ of the DoG pair it was found in, refined), a band's σ the geometric mean of its bounds.
/// Ties (measure zero for refined keypoints, Remark 19) go to the lowest keypoint index.
/// </para>
/// </summary>
public static class FeatureCells
{
    /// <summary>
    /// The index of the d-nearest keypoint (Eq 4.18, brute force in chunks, ties → lowest index) for every pixel
    /// centre of an h×w grid covering the H×W image at scale σ. Returns <c>int[h·w]</c>, row-major.
    /// </summary>
    /// <exception cref="ArgumentException">No keypoints, or η not finite / negative.</exception>
    public static int[] Assign(IReadOnlyList<SiftKeypoint> keypoints, int imageHeight, int imageWidth, int height, int width, double sigma, double eta)
    {
        if (keypoints.Count == 0) throw new ArgumentException("Feature cells need at least one keypoint.", nameof(keypoints));
        if (!(eta >= 0) || double.IsInfinity(eta)) throw new ArgumentException($"η must be finite and ≥ 0; got {eta}.", nameof(eta));
        Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        int k = keypoints.Count;
        var kx = tensor(keypoints.Select(p => (double)p.X).ToArray());
        var ky = tensor(keypoints.Select(p => (double)p.Y).ToArray());
        var ks = tensor(keypoints.Select(p => eta * eta * ((double)p.Sigma - sigma) * ((double)p.Sigma - sigma)).ToArray());
        var ys = (arange(height, dtype: ScalarType.Float64) + 0.5) * ((double)imageHeight / height) - 0.5;
        var xs = (arange(width, dtype: ScalarType.Float64) + 0.5) * ((double)imageWidth / width) - 0.5;
        var labels = new int[height * width];
        // d² = (x − kx)² + (y − ky)² + η²(σ − kσ)²; (y − ky)² + η²(σ − kσ)² is shared by a row.
        var dx2 = (xs.unsqueeze(1) - kx.unsqueeze(0)).square(); // [w,K]
        int rowsPerChunk = Math.Max(1, 4_000_000 / Math.Max(1, width * k));
        for (int y0 = 0; y0 < height; y0 += rowsPerChunk)
        {
            using var inner = NewDisposeScope();
            int y1 = Math.Min(height, y0 + rowsPerChunk);
            var dy2 = (ys[y0..y1].unsqueeze(1) - ky.unsqueeze(0)).square() + ks.unsqueeze(0); // [r,K]
            var d2 = dy2.unsqueeze(1) + dx2.unsqueeze(0); // [r,w,K]
            var arg = d2.argmin(2).to(ScalarType.Int32).contiguous();
            arg.data<int>().CopyTo(labels, y0 * width);
        }
        return labels;
    }

    /// <summary>
    /// Smooth cells for one band: each cell's indicator on the h×w grid is blurred by γ_σ (σ in grid pixels,
    /// Eq 4.27, <see cref="GaussianFilter"/>), cut off softly at <paramref name="sparsity"/> s
    /// (χ ↦ (χ − s)/(1 − s) above s, else 0; Eq 4.37) and the missing mass w̃ = 1 − m̃ is redistributed
    /// proportionally, χ ↦ χ + χ·w̃ / max(m̃, <paramref name="guard"/>) (Eq 4.38/4.39). s = 0 keeps the dense
    /// partition of unity. Small kernels blur each cell on its bounding box (managed, parallel over cells); kernels
    /// comparable to the grid blur 32 cells at a time as full-grid matrix products. Both are exact.
    /// </summary>
    /// <param name="labels">Hard cell index per grid pixel (from <see cref="Assign"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">s outside [0,1), σ &lt; 0, guard ≤ 0.</exception>
    public static CellMasks Smooth(int[] labels, int height, int width, double sigmaPixels, double sparsity, double guard = 1e-3)
        => Smooth(labels, height, width, sigmaPixels, sparsity, guard, forceFullGrid: false);

    /// <summary><see cref="Smooth(int[], int, int, double, double, double)"/> always through full-grid matrix blurs (reference for tests).</summary>
    public static CellMasks SmoothFullGrid(int[] labels, int height, int width, double sigmaPixels, double sparsity, double guard = 1e-3)
        => Smooth(labels, height, width, sigmaPixels, sparsity, guard, forceFullGrid: true);

    static CellMasks Smooth(int[] labels, int height, int width, double sigmaPixels, double sparsity, double guard, bool forceFullGrid)
    {
        if (labels.Length != height * width) throw new ArgumentException($"labels has {labels.Length} entries, expected {height}×{width}.", nameof(labels));
        if (!(sparsity >= 0 && sparsity < 1)) throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "Sparsity threshold s must be in [0,1).");
        if (!(sigmaPixels >= 0)) throw new ArgumentOutOfRangeException(nameof(sigmaPixels), sigmaPixels, "σ must be ≥ 0.");
        if (!(guard > 0)) throw new ArgumentOutOfRangeException(nameof(guard), guard, "The mass guard must be > 0.");
        var cells = labels.Distinct().OrderBy(i => i).ToArray();
        int p = height * width;
        var perCell = new (int[] Pixel, float[] Value)[cells.Length];
        int radius = GaussianFilter.Radius(sigmaPixels);
        if (!forceFullGrid && sigmaPixels > 0 && 2 * radius + 1 < Math.Min(height, width) / 2)
            SmoothCrops(labels, height, width, sigmaPixels, sparsity, cells, perCell);
        else
            SmoothFull(labels, height, width, sigmaPixels, sparsity, cells, perCell);
        var cellList = new List<long>(); var pixList = new List<long>(); var valList = new List<float>();
        var mass = new double[p];
        for (int u = 0; u < cells.Length; u++)
        {
            var (pix, val) = perCell[u];
            for (int e = 0; e < pix.Length; e++)
            {
                cellList.Add(cells[u]); pixList.Add(pix[e]); valList.Add(val[e]);
                mass[pix[e]] += val[e];
            }
        }
        int uncovered = 0; double minMass = double.PositiveInfinity;
        var factor = new double[p];
        for (int i = 0; i < p; i++)
        {
            double m = mass[i];
            minMass = Math.Min(minMass, m);
            if (m < guard) uncovered++;
            factor[i] = 1 + (1 - m) / Math.Max(m, guard);
        }
        var values = valList.ToArray();
        var pixels = pixList.ToArray();
        for (int e = 0; e < values.Length; e++) values[e] = (float)(values[e] * factor[pixels[e]]);
        return new CellMasks(cellList.ToArray(), pixels, values, height, width, uncovered, minMass);
    }

    static float SoftCut(float v, double s) => s > 0 ? (float)Math.Max(0, (v - s) / (1 - s)) : Math.Max(0, v);

    /// <summary>
    /// Cells one at a time on the bounding box of their support grown by the kernel radius: exact (outside the box
    /// the blurred indicator is zero; the full-size 1-D matrices carry the reflection at the true image border).
    /// Used when the kernel is small compared with the grid.
    /// </summary>
    static void SmoothCrops(int[] labels, int h, int w, double sigma, double sparsity, int[] cells, (int[], float[])[] perCell)
    {
        int maxLabel = cells[^1];
        var index = new int[maxLabel + 1];
        for (int u = 0; u < cells.Length; u++) index[cells[u]] = u;
        int n = cells.Length;
        var y0 = Enumerable.Repeat(int.MaxValue, n).ToArray(); var y1 = new int[n];
        var x0 = Enumerable.Repeat(int.MaxValue, n).ToArray(); var x1 = new int[n];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int u = index[labels[y * w + x]];
                if (y < y0[u]) y0[u] = y; if (y > y1[u]) y1[u] = y;
                if (x < x0[u]) x0[u] = x; if (x > x1[u]) x1[u] = x;
            }
        var bh = GaussianFilter.MatrixFloat(h, sigma);
        var bw = GaussianFilter.MatrixFloat(w, sigma);
        int r = GaussianFilter.Radius(sigma);
        Parallel.For(0, n, u =>
        {
            int cell = cells[u];
            int oy0 = Math.Max(0, y0[u] - r), oy1 = Math.Min(h - 1, y1[u] + r);
            int ox0 = Math.Max(0, x0[u] - r), ox1 = Math.Min(w - 1, x1[u] + r);
            int sh = y1[u] - y0[u] + 1, ow = ox1 - ox0 + 1;
            var tmp = new float[sh * ow]; // horizontal pass on the support rows
            for (int yy = 0; yy < sh; yy++)
            {
                int row = (y0[u] + yy) * w;
                for (int xs = x0[u]; xs <= x1[u]; xs++)
                {
                    if (labels[row + xs] != cell) continue;
                    for (int xo = 0; xo < ow; xo++) tmp[yy * ow + xo] += bw[(ox0 + xo) * w + xs];
                }
            }
            var pix = new List<int>(); var val = new List<float>();
            for (int yo = oy0; yo <= oy1; yo++)
            {
                int brow = yo * h;
                for (int xo = 0; xo < ow; xo++)
                {
                    float acc = 0;
                    for (int yy = 0; yy < sh; yy++) acc += bh[brow + y0[u] + yy] * tmp[yy * ow + xo];
                    float v = SoftCut(acc, sparsity);
                    if (v > 0) { pix.Add(yo * w + ox0 + xo); val.Add(v); }
                }
            }
            perCell[u] = (pix.ToArray(), val.ToArray());
        });
    }

    /// <summary>Cells 32 at a time as full-grid blurs (two matrix products each): used for kernels comparable to the grid.</summary>
    static void SmoothFull(int[] labels, int height, int width, double sigma, double sparsity, int[] cells, (int[], float[])[] perCell)
    {
        Devices.EnsureNativeLoaded();
        int p = height * width;
        using var scope = NewDisposeScope();
        var lab = tensor(labels, new long[] { height, width });
        const int chunk = 32;
        for (int c0 = 0; c0 < cells.Length; c0 += chunk)
        {
            using var inner = NewDisposeScope();
            int c1 = Math.Min(cells.Length, c0 + chunk);
            var ids = tensor(cells[c0..c1]).view(-1, 1, 1);
            var ind = lab.unsqueeze(0).eq(ids).to(ScalarType.Float32); // [n,h,w]
            var smooth = GaussianFilter.Blur(ind, sigma).reshape(c1 - c0, p).contiguous();
            var data = smooth.data<float>().ToArray();
            for (int u = 0; u < c1 - c0; u++)
            {
                var pix = new List<int>(); var val = new List<float>();
                for (int q = 0; q < p; q++)
                {
                    float v = SoftCut(data[u * p + q], sparsity);
                    if (v > 0) { pix.Add(q); val.Add(v); }
                }
                perCell[c0 + u] = (pix.ToArray(), val.ToArray());
            }
        }
    }

    /// <summary>A fixed, well-separated colour per cell index (golden-ratio hue walk), RGB in [0,1].</summary>
    public static (float R, float G, float B) Colour(int cell)
    {
        double hue = (cell * 0.6180339887498949) % 1.0;
        double s = 0.55 + 0.35 * ((cell * 7919) % 3) / 2.0, v = 0.95 - 0.25 * ((cell * 104729) % 2);
        double hh = hue * 6; int i = (int)Math.Floor(hh); double f = hh - i;
        double pp = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        var (r, g, b) = (i % 6) switch { 0 => (v, t, pp), 1 => (q, v, pp), 2 => (pp, v, t), 3 => (pp, q, v), 4 => (t, pp, v), _ => (v, pp, q) };
        return ((float)r, (float)g, (float)b);
    }
}
