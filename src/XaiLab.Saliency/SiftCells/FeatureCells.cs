using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Saliency.SiftCells;

/// <summary>
/// The smooth, sparsified cell masks of one scale-space band in COO form: entry e says that cell
/// <c>Cell[e]</c> owns the fraction <c>Value[e]</c> of grid pixel <c>Pixel[e]</c> (row-major on the band's h×w grid).
/// After redistribution the values at every pixel with m̃ ≥ guard sum to 1 (Lemma 10).
/// </summary>
/// <param name="UncoveredPixels">Pixels where the cut-off left less total mass m̃ than the guard 10⁻³ (Lemma 10's condition fails there).</param>
/// <param name="MinMass">Smallest m̃ over the band (before redistribution).</param>
/// <param name="Cell">Cell (keypoint) index of each entry.</param>
/// <param name="Pixel">Grid pixel of each entry, row-major index y·w + x on the band's h×w grid.</param>
/// <param name="Value">Fraction of the pixel the cell owns, in [0,1] (the smoothed, cut-off, redistributed indicator).</param>
/// <param name="Height">Grid rows h of the band.</param>
/// <param name="Width">Grid columns w of the band.</param>
public sealed record CellMasks(long[] Cell, long[] Pixel, float[] Value, int Height, int Width, int UncoveredPixels, double MinMass);

/// <summary>How the sparsity threshold s makes a smoothed cell compactly supported (§4.2.3, Fig 4.6).</summary>
public enum SparsityCutOff
{
    /// <summary>χ ↦ (χ − s)/(1 − s) above s, else 0 (Eq 4.37): continuous; the thesis' choice and the default.</summary>
    Soft,
    /// <summary>χ ↦ χ above s, else 0: a jump of height s at the support's edge (Fig 4.6, for comparison).</summary>
    Hard,
}

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
    /// The index of the d-nearest keypoint (Eq 4.18, ties → lowest index) for every pixel centre of an h×w grid covering
    /// the H×W image at scale σ. Returns <c>int[h·w]</c>, row-major.
    /// <para>
    /// Exact and O(h·(K + w)) instead of brute force's O(h·w·K): along one grid row y, the squared distance to keypoint k
    /// is the parabola (x − x_k)² + A_k with A_k = (y − y_k)² + η²(σ − σ_k)², all with the same curvature, so their lower
    /// envelope (Felzenszwalb and Huttenlocher's 1-D distance transform, with the keypoints sorted by x_k once) gives
    /// the nearest keypoint of every pixel of the row in one sweep. Each winner is re-checked against its envelope
    /// neighbours with the full distance, so float rounding at a cell boundary cannot pick a farther keypoint.
    /// </para>
    /// </summary>
    /// <exception cref="ArgumentException">No keypoints, or η not finite / negative.</exception>
    public static int[] Assign(IReadOnlyList<SiftKeypoint> keypoints, int imageHeight, int imageWidth, int height, int width, double sigma, double eta)
    {
        if (keypoints.Count == 0) throw new ArgumentException("Feature cells need at least one keypoint.", nameof(keypoints));
        if (!(eta >= 0) || double.IsInfinity(eta)) throw new ArgumentException($"η must be finite and ≥ 0; got {eta}.", nameof(eta));
        int k = keypoints.Count;
        // Keypoints sorted by x (then index, so that equal x keeps the lowest index first).
        var order = Enumerable.Range(0, k).OrderBy(i => (double)keypoints[i].X).ThenBy(i => i).ToArray();
        var vx = new double[k]; var vy = new double[k]; var off = new double[k];
        for (int j = 0; j < k; j++)
        {
            var p = keypoints[order[j]];
            vx[j] = p.X; vy[j] = p.Y;
            double ds = (double)p.Sigma - sigma;
            off[j] = eta * eta * ds * ds;
        }
        var xs = new double[width];
        for (int x = 0; x < width; x++) xs[x] = (x + 0.5) * ((double)imageWidth / width) - 0.5;
        var labels = new int[height * width];
        Parallel.For(0, height, () => (A: new double[k], Env: new int[k], Z: new double[k + 1]), (row, _, st) =>
        {
            double y = (row + 0.5) * ((double)imageHeight / height) - 0.5;
            var a = st.A; var env = st.Env; var z = st.Z;
            for (int j = 0; j < k; j++) { double dy = y - vy[j]; a[j] = dy * dy + off[j]; }
            // Lower envelope of f_j(x) = (x − vx_j)² + a_j; env[0..m) are the parabolas on it, z[q] where env[q] starts.
            int m = 0;
            for (int j = 0; j < k; j++)
            {
                if (m > 0 && vx[env[m - 1]] == vx[j])
                {
                    // Same vertex: the smaller offset dominates everywhere (equal: the lower index, already on the stack).
                    if (!(Better(a[j], order[j], a[env[m - 1]], order[env[m - 1]]))) continue;
                    m--;
                }
                double s = double.NegativeInfinity;
                while (m > 0)
                {
                    int q = env[m - 1];
                    s = ((a[j] + vx[j] * vx[j]) - (a[q] + vx[q] * vx[q])) / (2 * (vx[j] - vx[q]));
                    if (s <= z[m - 1]) m--; else break;
                }
                if (m == 0) s = double.NegativeInfinity;
                env[m] = j; z[m] = s; m++;
            }
            z[m] = double.PositiveInfinity;
            int at = 0, rowBase = row * width;
            for (int x = 0; x < width; x++)
            {
                double px = xs[x];
                while (z[at + 1] < px) at++;
                // Re-check against the envelope neighbours with the full distance (rounding at boundaries, ties → lowest index).
                int best = env[at];
                double bd = (px - vx[best]) * (px - vx[best]) + a[best];
                for (int q = Math.Max(0, at - 1); q <= Math.Min(m - 1, at + 1); q++)
                {
                    int c = env[q];
                    double d = (px - vx[c]) * (px - vx[c]) + a[c];
                    if (Better(d, order[c], bd, order[best])) { best = c; bd = d; }
                }
                labels[rowBase + x] = order[best];
            }
            return st;
        }, _ => { });
        return labels;
    }

    static bool Better(double d, int index, double bestD, int bestIndex) => d < bestD || (d == bestD && index < bestIndex);

    /// <summary>
    /// Smooth cells for one band: each cell's indicator on the h×w grid is blurred by γ_σ (σ in grid pixels,
    /// Eq 4.27, <see cref="XaiLab.Imaging.Filters.Gaussian"/>, half-sample reflected border, radius ⌈6σ⌉), cut off softly at <paramref name="sparsity"/> s
    /// (χ ↦ (χ − s)/(1 − s) above s, else 0; Eq 4.37) and the missing mass w̃ = 1 − m̃ is redistributed
    /// proportionally, χ ↦ χ + χ·w̃ / max(m̃, <paramref name="guard"/>) (Eq 4.38/4.39). s = 0 keeps the dense
    /// partition of unity. Small kernels blur each cell on its bounding box (managed, parallel over cells); kernels
    /// comparable to the grid blur 32 cells at a time as full-grid matrix products. Both are exact.
    /// </summary>
    /// <param name="labels">Hard cell index per grid pixel (from <see cref="Assign"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">s outside [0,1), σ &lt; 0, guard ≤ 0.</exception>
    /// <param name="height">Grid rows h of the band.</param>
    /// <param name="width">Grid columns w of the band.</param>
    /// <param name="sigmaPixels">Smoothing σ in grid pixels (≥ 0; 0 = hard Voronoi cells).</param>
    /// <param name="sparsity">Sparsity threshold s ∈ [0,1) of the soft cut-off (Eq 4.37).</param>
    /// <param name="guard">Lower bound on m̃ in the redistribution denominator (Eq 4.39); default 10⁻³.</param>
    public static CellMasks Smooth(int[] labels, int height, int width, double sigmaPixels, double sparsity, double guard = 1e-3)
        => Smooth(labels, height, width, sigmaPixels, sparsity, guard, SparsityCutOff.Soft, redistribute: true, forceFullGrid: false);

    /// <summary>
    /// <see cref="Smooth(int[], int, int, double, double, double)"/> with the variants the figures of §4.2.3 compare:
    /// <paramref name="cutOff"/> hard (χ kept where χ &gt; s, Fig 4.6 left) or soft (Eq 4.37), and the mass
    /// redistribution of Eq 4.39 on or off (off: the cut-off mass is simply lost, Fig 4.7(d)). σ = 0 gives the hard
    /// Voronoi partition (no smoothing, Fig 4.5 top).
    /// </summary>
    public static CellMasks Smooth(int[] labels, int height, int width, double sigmaPixels, double sparsity, double guard, SparsityCutOff cutOff, bool redistribute)
        => Smooth(labels, height, width, sigmaPixels, sparsity, guard, cutOff, redistribute, forceFullGrid: false);

    /// <summary><see cref="Smooth(int[], int, int, double, double, double)"/> always through full-grid matrix blurs (reference for tests).</summary>
    public static CellMasks SmoothFullGrid(int[] labels, int height, int width, double sigmaPixels, double sparsity, double guard = 1e-3)
        => Smooth(labels, height, width, sigmaPixels, sparsity, guard, SparsityCutOff.Soft, redistribute: true, forceFullGrid: true);

    static CellMasks Smooth(int[] labels, int height, int width, double sigmaPixels, double sparsity, double guard, SparsityCutOff cutOff, bool redistribute, bool forceFullGrid)
    {
        if (labels.Length != height * width) throw new ArgumentException($"labels has {labels.Length} entries, expected {height}×{width}.", nameof(labels));
        if (!(sparsity >= 0 && sparsity < 1)) throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "Sparsity threshold s must be in [0,1).");
        if (!(sigmaPixels >= 0)) throw new ArgumentOutOfRangeException(nameof(sigmaPixels), sigmaPixels, "σ must be ≥ 0.");
        if (!(guard > 0)) throw new ArgumentOutOfRangeException(nameof(guard), guard, "The mass guard must be > 0.");
        var cells = labels.Distinct().OrderBy(i => i).ToArray();
        int p = height * width;
        var perCell = new (int[] Pixel, float[] Value)[cells.Length];
        int radius = Gaussian.Radius(sigmaPixels, Gaussian.ScaleSpaceTruncate);
        if (!forceFullGrid && sigmaPixels > 0 && 2 * radius + 1 < Math.Min(height, width) / 2)
            SmoothCrops(labels, height, width, sigmaPixels, sparsity, cutOff, cells, perCell);
        else
            SmoothFull(labels, height, width, sigmaPixels, sparsity, cutOff, cells, perCell);
        long total = 0;
        foreach (var (pix, _) in perCell) total += pix.Length;
        var cellArr = new long[total]; var pixels = new long[total]; var values = new float[total];
        var mass = new double[p];
        long at = 0;
        for (int u = 0; u < cells.Length; u++)
        {
            var (pix, val) = perCell[u];
            for (int e = 0; e < pix.Length; e++, at++)
            {
                cellArr[at] = cells[u]; pixels[at] = pix[e]; values[at] = val[e];
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
            factor[i] = redistribute ? 1 + (1 - m) / Math.Max(m, guard) : 1;
        }
        for (long e = 0; e < values.LongLength; e++) values[e] = (float)(values[e] * factor[pixels[e]]);
        return new CellMasks(cellArr, pixels, values, height, width, uncovered, minMass);
    }

    static float Cut(float v, double s, SparsityCutOff mode) =>
        s <= 0 ? Math.Max(0, v) : mode == SparsityCutOff.Soft ? (float)Math.Max(0, (v - s) / (1 - s)) : v > s ? v : 0;

    /// <summary>
    /// Cells one at a time on the bounding box of their support grown by the kernel radius: exact (outside the box
    /// the blurred indicator is zero; the full-size 1-D matrices carry the reflection at the true image border).
    /// Used when the kernel is small compared with the grid.
    /// </summary>
    static void SmoothCrops(int[] labels, int h, int w, double sigma, double sparsity, SparsityCutOff cutOff, int[] cells, (int[], float[])[] perCell)
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
        var bh = Gaussian.AxisMatrixFloat(h, sigma, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate);
        var bw = h == w ? bh : Gaussian.AxisMatrixFloat(w, sigma, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate);
        int r = Gaussian.Radius(sigma, Gaussian.ScaleSpaceTruncate);
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
            var acc = new float[ow];
            for (int yo = oy0; yo <= oy1; yo++)
            {
                int brow = yo * h;
                Array.Clear(acc);
                // Row-wise accumulation (same summation order over yy as a per-pixel dot product, contiguous in xo).
                for (int yy = 0; yy < sh; yy++)
                {
                    float b = bh[brow + y0[u] + yy];
                    if (b == 0) continue;
                    int t0 = yy * ow;
                    for (int xo = 0; xo < ow; xo++) acc[xo] += b * tmp[t0 + xo];
                }
                for (int xo = 0; xo < ow; xo++)
                {
                    float v = Cut(acc[xo], sparsity, cutOff);
                    if (v > 0) { pix.Add(yo * w + ox0 + xo); val.Add(v); }
                }
            }
            perCell[u] = (pix.ToArray(), val.ToArray());
        });
    }

    /// <summary>Cells 32 at a time as full-grid blurs (two matrix products each): used for kernels comparable to the grid.</summary>
    static void SmoothFull(int[] labels, int height, int width, double sigma, double sparsity, SparsityCutOff cutOff, int[] cells, (int[], float[])[] perCell)
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
            var smooth = Gaussian.Blur(ind, sigma, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate).reshape(c1 - c0, p).contiguous();
            var data = smooth.data<float>().ToArray();
            for (int u = 0; u < c1 - c0; u++)
            {
                var pix = new List<int>(); var val = new List<float>();
                for (int q = 0; q < p; q++)
                {
                    float v = Cut(data[u * p + q], sparsity, cutOff);
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
