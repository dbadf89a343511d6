using NetTopologySuite.Geometries;
using NetTopologySuite.Triangulate;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>
/// A linear resampling from N source points to M target points stored as a sparse matrix (COO: <see cref="Rows"/>,
/// <see cref="Cols"/>, <see cref="Values"/>): <c>f(target_m) = Σ_n W[m,n]·f(source_n)</c>. Built from the Delaunay
/// triangulation of the sources and barycentric (piecewise-linear) interpolation (thesis §7.3.2–7.3.3), so every
/// row has at most 3 non-zeros, non-negative weights summing to 1, and linear functions are reproduced exactly inside
/// the convex hull. Targets outside the hull take the barycentric weights of their nearest point on the hull
/// (constant extrapolation along the normal — "undefined behaviour" in the thesis' words, Remark 31); their number is
/// <see cref="OutsideHull"/>.
/// </summary>
public sealed record SparseResampling(int RowCount, int ColCount, int[] Rows, int[] Cols, double[] Values, int OutsideHull, int Triangles)
{
    /// <summary>The matrix as a torch sparse COO tensor <c>[M,N]</c> (float32), coalesced.</summary>
    public Tensor ToTorch(Device? device = null)
    {
        using var scope = NewDisposeScope();
        var idx = tensor(Rows.Select(r => (long)r).Concat(Cols.Select(c => (long)c)).ToArray()).view(2, -1);
        var val = tensor(Values.Select(v => (float)v).ToArray());
        var m = sparse_coo_tensor(idx, val, [RowCount, ColCount]);
        if (device is not null) m = m.to(device);
        return m.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The matrix as a gather: <c>(Index [3·M] int64, Weight [3,M] float32)</c>, row m's k-th non-zero at
    /// <c>Index[k·M + m]</c> (rows with fewer than 3 non-zeros padded with weight 0). <see cref="Gather"/> applies it with
    /// one <c>index_select</c>, whose backward is a scatter-add — on a CPU several times faster than a sparse
    /// matrix product and its transposed product in the backward pass.
    /// </summary>
    public (Tensor Index, Tensor Weight) ToGather(Device? device = null)
    {
        var idx = new long[3 * RowCount];
        var w = new float[3 * RowCount];
        var fill = new int[RowCount];
        for (int q = 0; q < Values.Length; q++)
        {
            int m = Rows[q], k = fill[m]++;
            if (k >= 3) throw new InvalidOperationException($"Row {m} has more than 3 non-zeros.");
            idx[k * RowCount + m] = Cols[q];
            w[k * RowCount + m] = (float)Values[q];
        }
        var ti = tensor(idx); var tw = tensor(w).view(3, RowCount);
        if (device is not null) { ti = ti.to(device); tw = tw.to(device); }
        return (ti, tw);
    }

    /// <summary>
    /// Resamples the last axis with a gather from <see cref="ToGather"/>: <c>[..., N]</c> → <c>[..., M]</c>. Differentiable in x.
    /// </summary>
    public static Tensor Gather(Tensor index, Tensor weight, Tensor x)
    {
        long m = weight.shape[1];
        using var scope = NewDisposeScope();
        var g = x.index_select(-1, index);                                  // [..., 3M]
        var lead = x.shape[..^1];
        var y = (g.view([.. lead, 3, m]) * weight).sum(-2);                 // Σ_k w_k·x[idx_k]
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Applies the matrix to a dense <c>[N]</c> vector (reference implementation in float64).</summary>
    public double[] Apply(IReadOnlyList<double> source)
    {
        if (source.Count != ColCount) throw new ArgumentException($"Expected {ColCount} source values, got {source.Count}.");
        var o = new double[RowCount];
        for (int q = 0; q < Values.Length; q++) o[Rows[q]] += Values[q] * source[Cols[q]];
        return o;
    }

    /// <summary>
    /// Resamples the last axis: <paramref name="x"/> <c>[..., N]</c> → <c>[..., M]</c> with the sparse matrix
    /// <paramref name="matrix"/> (<see cref="ToTorch"/>) via <c>torch.sparse.mm</c>. Differentiable in x.
    /// </summary>
    public static Tensor Resample(Tensor matrix, Tensor x)
    {
        long n = matrix.shape[1], m = matrix.shape[0];
        if (x.shape[^1] != n) throw new ArgumentException($"Last axis must have {n} samples, got [{string.Join(",", x.shape)}].");
        var lead = x.shape[..^1];
        using var scope = NewDisposeScope();
        var flat = x.reshape(-1, n).t();                    // [N, B]
        var y = matmul(matrix, flat).t();                   // sparse [M,N] × dense [N,B] → [M,B] → [B,M]
        return y.reshape([.. lead, m]).MoveToOuterDisposeScope();
    }
}

/// <summary>Builds <see cref="SparseResampling"/> matrices (Delaunay by NetTopologySuite's incremental triangulator).</summary>
public static class BarycentricResampler
{
    /// <summary>
    /// The barycentric resampling from the sources (<paramref name="srcX"/>, <paramref name="srcY"/>) to the targets.
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ, fewer than 3 sources, duplicate sources, or all sources collinear.</exception>
    public static SparseResampling Build(double[] srcX, double[] srcY, double[] dstX, double[] dstY)
    {
        if (srcX.Length != srcY.Length || dstX.Length != dstY.Length) throw new ArgumentException("x and y arrays must have equal lengths.");
        if (srcX.Length < 3) throw new ArgumentException($"Need at least 3 source points, got {srcX.Length}.");
        var index = new Dictionary<(double, double), int>();
        for (int i = 0; i < srcX.Length; i++)
            if (!index.TryAdd((srcX[i], srcY[i]), i)) throw new ArgumentException($"Duplicate source point ({srcX[i]}, {srcY[i]}) at {index[(srcX[i], srcY[i])]} and {i}.");

        var builder = new DelaunayTriangulationBuilder();
        builder.SetSites(Enumerable.Range(0, srcX.Length).Select(i => new Coordinate(srcX[i], srcY[i])).ToArray());
        var geo = builder.GetTriangles(new GeometryFactory());
        var tris = new List<(int A, int B, int C)>();
        for (int g = 0; g < geo.NumGeometries; g++)
        {
            var cs = geo.GetGeometryN(g).Coordinates;
            int a = index[(cs[0].X, cs[0].Y)], b = index[(cs[1].X, cs[1].Y)], c = index[(cs[2].X, cs[2].Y)];
            double area = (srcX[b] - srcX[a]) * (srcY[c] - srcY[a]) - (srcX[c] - srcX[a]) * (srcY[b] - srcY[a]);
            if (Math.Abs(area) > 1e-14) tris.Add((a, b, c));
        }
        if (tris.Count == 0) throw new ArgumentException("The source points are collinear: no triangles.");

        // Uniform bucket grid over the triangles' bounding boxes for point location.
        double minX = srcX.Min(), maxX = srcX.Max(), minY = srcY.Min(), maxY = srcY.Max();
        int nb = Math.Max(1, (int)Math.Sqrt(tris.Count / 2.0));
        double bw = (maxX - minX) / nb + 1e-12, bh = (maxY - minY) / nb + 1e-12;
        var buckets = new List<int>[nb * nb];
        for (int q = 0; q < buckets.Length; q++) buckets[q] = [];
        for (int t = 0; t < tris.Count; t++)
        {
            var (a, b, c) = tris[t];
            int x0 = Clamp((int)((Math.Min(srcX[a], Math.Min(srcX[b], srcX[c])) - minX) / bw), nb);
            int x1 = Clamp((int)((Math.Max(srcX[a], Math.Max(srcX[b], srcX[c])) - minX) / bw), nb);
            int y0 = Clamp((int)((Math.Min(srcY[a], Math.Min(srcY[b], srcY[c])) - minY) / bh), nb);
            int y1 = Clamp((int)((Math.Max(srcY[a], Math.Max(srcY[b], srcY[c])) - minY) / bh), nb);
            for (int by = y0; by <= y1; by++)
                for (int bx = x0; bx <= x1; bx++) buckets[by * nb + bx].Add(t);
        }

        // Hull boundary: the edges that belong to exactly one triangle.
        var edgeCount = new Dictionary<(int, int), int>();
        foreach (var (a, b, c) in tris)
            foreach (var (p, q) in new[] { (a, b), (b, c), (c, a) })
            {
                var key = p < q ? (p, q) : (q, p);
                edgeCount[key] = edgeCount.GetValueOrDefault(key) + 1;
            }
        var boundary = edgeCount.Where(e => e.Value == 1).Select(e => e.Key).ToArray();

        var rows = new List<int>(3 * dstX.Length); var cols = new List<int>(3 * dstX.Length); var vals = new List<double>(3 * dstX.Length);
        int outside = 0;
        for (int m = 0; m < dstX.Length; m++)
        {
            double px = dstX[m], py = dstY[m];
            (int, int, int)? hit = null; double wa = 0, wb = 0, wc = 0;
            if (px >= minX && px <= maxX && py >= minY && py <= maxY)
            {
                int bx = Clamp((int)((px - minX) / bw), nb), by = Clamp((int)((py - minY) / bh), nb);
                foreach (var t in buckets[by * nb + bx])
                {
                    var (a, b, c) = tris[t];
                    Barycentric(srcX, srcY, a, b, c, px, py, out var la, out var lb, out var lc);
                    const double eps = -1e-10;
                    if (la >= eps && lb >= eps && lc >= eps) { hit = tris[t]; wa = la; wb = lb; wc = lc; break; }
                }
            }
            if (hit is null)
            {
                // Outside the hull: the nearest point of the hull boundary (only boundary edges can be nearest).
                outside++;
                double best = double.PositiveInfinity;
                foreach (var (ea, eb) in boundary)
                {
                    double ex = srcX[eb] - srcX[ea], ey = srcY[eb] - srcY[ea];
                    double u = Math.Clamp(((px - srcX[ea]) * ex + (py - srcY[ea]) * ey) / (ex * ex + ey * ey), 0, 1);
                    double qx = srcX[ea] + u * ex - px, qy = srcY[ea] + u * ey - py;
                    double d = qx * qx + qy * qy;
                    if (d < best) { best = d; hit = (ea, eb, ea); wa = 1 - u; wb = u; wc = 0; }
                }
            }
            var (ia, ib, ic) = hit!.Value;
            // Clip rounding-level negatives and renormalise so rows are a partition of unity.
            wa = Math.Max(0, wa); wb = Math.Max(0, wb); wc = Math.Max(0, wc);
            double sum = wa + wb + wc;
            foreach (var (i, w) in new[] { (ia, wa / sum), (ib, wb / sum), (ic, wc / sum) })
                if (w > 0) { rows.Add(m); cols.Add(i); vals.Add(w); }
        }
        return new SparseResampling(dstX.Length, srcX.Length, rows.ToArray(), cols.ToArray(), vals.ToArray(), outside, tris.Count);
    }

    static int Clamp(int v, int n) => v < 0 ? 0 : v >= n ? n - 1 : v;

    static void Barycentric(double[] x, double[] y, int a, int b, int c, double px, double py, out double la, out double lb, out double lc)
    {
        double det = (y[b] - y[c]) * (x[a] - x[c]) + (x[c] - x[b]) * (y[a] - y[c]);
        la = ((y[b] - y[c]) * (px - x[c]) + (x[c] - x[b]) * (py - y[c])) / det;
        lb = ((y[c] - y[a]) * (px - x[c]) + (x[a] - x[c]) * (py - y[c])) / det;
        lc = 1 - la - lb;
    }

}
