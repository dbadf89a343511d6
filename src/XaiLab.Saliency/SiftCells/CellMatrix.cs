using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Saliency.SiftCells;

/// <summary>
/// One resolution level of the decoder as a compressed-sparse-row matrix over grid pixels (Eq 4.40):
/// row p (a pixel of the h×w grid, row-major) holds entries (cell <c>Col[j]</c>, values <c>Val[j·S … j·S+S−1]</c>)
/// for RowPtr[p] ≤ j &lt; RowPtr[p+1]. The S = C+1 values of an entry are the C colour channels of
/// Z̄^ρ (Σ over the level's bands of Ỹ_{i,l}·S_l) followed by the cell-field weight Σ_l Ỹ_{i,l}/(M+1) used by the
/// Voronoi-field heatmap (Eq 4.46). Sharing one index per pixel and cell between all channels makes this
/// ≈ (4 + 4S) bytes per (pixel, cell) pair, against 3·20 bytes for torch's int64 COO of the three channels.
/// Products run on managed arrays (CPU, parallel over rows); see <see cref="CellMatrixProduct"/> for autograd.
/// </summary>
public sealed class CellMatrix
{
    /// <summary>Rows h of the level's pixel grid.</summary>
    public int Height { get; }
    /// <summary>Columns w of the level's pixel grid.</summary>
    public int Width { get; }
    /// <summary>Number of columns (keypoints).</summary>
    public int K { get; }
    /// <summary>Values per entry: C colour channels + 1 field weight.</summary>
    public int Stride { get; }
    /// <summary>CSR row pointers, h·w + 1 entries: the entries of grid pixel p are j ∈ [RowPtr[p], RowPtr[p+1]).</summary>
    public int[] RowPtr { get; }
    /// <summary>Cell (keypoint) index i ∈ [0,K) of each entry.</summary>
    public int[] Col { get; }
    /// <summary>The <see cref="Stride"/> values of each entry, entry-major: C colour values of Z̄^ρ, then the cell-field weight (Eq 4.40, 4.46).</summary>
    public float[] Val { get; }
    /// <summary>Number of stored (pixel, cell) entries.</summary>
    public long Entries => Col.Length;
    /// <summary>Memory held by <see cref="RowPtr"/>, <see cref="Col"/> and <see cref="Val"/>, in bytes (4 per int or float).</summary>
    public long Bytes => (long)RowPtr.Length * 4 + (long)Col.Length * 4 + (long)Val.Length * 4;

    /// <summary>Wraps existing CSR arrays (not copied); checks their lengths against the grid and the stride.</summary>
    /// <param name="height">Grid rows h.</param>
    /// <param name="width">Grid columns w.</param>
    /// <param name="k">Number of cells K (columns).</param>
    /// <param name="stride">Values per entry S = C + 1.</param>
    /// <param name="rowPtr">Row pointers, h·w + 1 entries, nondecreasing, last = number of entries.</param>
    /// <param name="col">Cell index per entry.</param>
    /// <param name="val">S values per entry (length = entries·S).</param>
    public CellMatrix(int height, int width, int k, int stride, int[] rowPtr, int[] col, float[] val)
    {
        if (rowPtr.Length != height * width + 1) throw new ArgumentException($"RowPtr must have {height * width + 1} entries; got {rowPtr.Length}.");
        if (val.Length != (long)col.Length * stride) throw new ArgumentException("Val must have Stride values per column index.");
        Height = height; Width = width; K = k; Stride = stride; RowPtr = rowPtr; Col = col; Val = val;
    }

    /// <summary>
    /// Builds the matrix from (pixel, cell, values[S]) triplets, summing duplicates (the same cell at the same pixel
    /// in several bands of one level).
    /// </summary>
    public static CellMatrix FromTriplets(int height, int width, int k, int stride, List<long> keys, List<float> values)
    {
        // keys[e] = pixel·K + cell; values[e·S … e·S+S−1]
        int n = keys.Count;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var keyArr = keys.ToArray();
        Array.Sort(keyArr, order);
        var rowPtr = new int[height * width + 1];
        var col = new List<int>(n / 2 + 1);
        var val = new List<float>((n / 2 + 1) * stride);
        long last = -1;
        for (int i = 0; i < n; i++)
        {
            long key = keyArr[i];
            int src = order[i];
            if (key != last)
            {
                col.Add((int)(key % k));
                for (int s = 0; s < stride; s++) val.Add(values[src * stride + s]);
                rowPtr[key / k + 1]++;
                last = key;
            }
            else
            {
                int dst = (col.Count - 1) * stride;
                for (int s = 0; s < stride; s++) val[dst + s] += values[src * stride + s];
            }
        }
        for (int p = 0; p < height * width; p++) rowPtr[p + 1] += rowPtr[p];
        return new CellMatrix(height, width, k, stride, rowPtr, col.ToArray(), val.ToArray());
    }

    /// <summary>
    /// y[n, c, p] = Σ_j Val[j·S + c0 + c]·θ[n, Col[j]] for c &lt; count: θ <c>float[N·K]</c> → <c>float[N·count·h·w]</c>.
    /// </summary>
    public float[] Multiply(float[] theta, int n, int c0, int count)
    {
        var rows = MultiplyRowMajor(theta, n, c0, count);
        int p = Height * Width;
        var y = new float[(long)n * count * p];
        for (int r = 0; r < p; r++)
            for (int c = 0; c < count; c++)
                for (int b = 0; b < n; b++) y[((long)b * count + c) * p + r] = rows[((long)r * count + c) * n + b];
        return y;
    }

    /// <summary>
    /// The product in pixel-major layout: <c>y[p, c, n]</c> (row p of the grid, channel c, batch item n), the layout the
    /// sparse rows produce without scattered writes; <see cref="CellMatrixProduct"/> permutes it to <c>[N,count,h,w]</c>
    /// natively. Vectorised over the batch (System.Numerics), parallel over row blocks.
    /// </summary>
    public float[] MultiplyRowMajor(float[] theta, int n, int c0, int count)
    {
        int p = Height * Width, k = K, stride = Stride;
        var tt = new float[(long)k * n]; // θᵀ: the gains of one cell are contiguous
        for (int b = 0; b < n; b++) for (int i = 0; i < k; i++) tt[(long)i * n + b] = theta[(long)b * k + i];
        var y = new float[(long)p * count * n];
        const int rowsPerTask = 1024;
        Parallel.For(0, (p + rowsPerTask - 1) / rowsPerTask, chunk =>
        {
            int r0 = chunk * rowsPerTask, r1 = Math.Min(p, r0 + rowsPerTask);
            var ys = y.AsSpan();
            var ts = tt.AsSpan();
            for (int r = r0; r < r1; r++)
            {
                var acc = ys.Slice((int)((long)r * count * n), count * n);
                for (int j = RowPtr[r]; j < RowPtr[r + 1]; j++)
                {
                    var g = ts.Slice(Col[j] * n, n);
                    int vb = j * stride + c0;
                    for (int c = 0; c < count; c++) Axpy(Val[vb + c], g, acc.Slice(c * n, n));
                }
            }
        });
        return y;
    }

    /// <summary>The transposed product (the gradient): g[n, i] = Σ_{c,p} G[n, c, p]·Val[j·S + c0 + c] over entries j = (p, i).</summary>
    public float[] MultiplyTransposed(float[] grad, int n, int c0, int count)
    {
        int p = Height * Width;
        var rows = new float[(long)p * count * n];
        for (int b = 0; b < n; b++)
            for (int c = 0; c < count; c++)
                for (int r = 0; r < p; r++) rows[((long)r * count + c) * n + b] = grad[((long)b * count + c) * p + r];
        return MultiplyTransposedRowMajor(rows, n, c0, count);
    }

    /// <summary>
    /// The transposed product from a pixel-major gradient <c>G[p, c, n]</c> (see <see cref="MultiplyRowMajor"/>):
    /// returns <c>g[n, i]</c>. Fixed row blocks, each with its own partial gᵀ, summed in block order: bit-identical on every run.
    /// </summary>
    public float[] MultiplyTransposedRowMajor(float[] grad, int n, int c0, int count)
    {
        int p = Height * Width, k = K, stride = Stride;
        const int rowsPerTask = 4096;
        int chunks = (p + rowsPerTask - 1) / rowsPerTask;
        var partial = new float[chunks][];
        Parallel.For(0, chunks, chunk =>
        {
            var local = new float[(long)k * n];
            var ls = local.AsSpan();
            var gs = grad.AsSpan();
            int r0 = chunk * rowsPerTask, r1 = Math.Min(p, r0 + rowsPerTask);
            for (int r = r0; r < r1; r++)
            {
                var gr = gs.Slice((int)((long)r * count * n), count * n);
                for (int j = RowPtr[r]; j < RowPtr[r + 1]; j++)
                {
                    var dst = ls.Slice(Col[j] * n, n);
                    int vb = j * stride + c0;
                    for (int c = 0; c < count; c++) Axpy(Val[vb + c], gr.Slice(c * n, n), dst);
                }
            }
            partial[chunk] = local;
        });
        var total = new float[(long)k * n]; // gᵀ [K, N]
        foreach (var local in partial) for (long i = 0; i < local.LongLength; i++) total[i] += local[i];
        var g = new float[(long)n * k];
        for (int b = 0; b < n; b++) for (int i = 0; i < k; i++) g[(long)b * k + i] = total[(long)i * n + b];
        return g;
    }

    /// <summary>y += a·x over equal-length spans (SIMD where the length allows).</summary>
    static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0, w = System.Numerics.Vector<float>.Count;
        if (x.Length >= w)
        {
            var va = new System.Numerics.Vector<float>(a);
            for (; i <= x.Length - w; i += w)
                (new System.Numerics.Vector<float>(y.Slice(i)) + va * new System.Numerics.Vector<float>(x.Slice(i))).CopyTo(y.Slice(i));
        }
        for (; i < x.Length; i++) y[i] += a * x[i];
    }

    /// <summary>The same matrix as a torch sparse COO tensor <c>[count·h·w, K]</c> (values of channels c0…c0+count−1), e.g. for CUDA.</summary>
    public Tensor ToTorchCoo(int c0, int count, Device device)
    {
        using var scope = NewDisposeScope();
        long p = (long)Height * Width, e = Col.Length;
        var idx = new long[2 * e * count];
        var vals = new float[e * count];
        long m = 0;
        for (int c = 0; c < count; c++)
            for (int r = 0; r < p; r++)
                for (int j = RowPtr[r]; j < RowPtr[r + 1]; j++)
                {
                    idx[m] = c * p + r; idx[e * count + m] = Col[j]; vals[m] = Val[(long)j * Stride + c0 + c]; m++;
                }
        var t = sparse_coo_tensor(tensor(idx, new long[] { 2, e * count }), tensor(vals), new long[] { count * p, K });
        return t.to(device).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Sums the cell masks of the bands of one resolution level into a <see cref="CellMatrix"/> (Eq 4.40) without
/// materialising (pixel, cell) triplets: each band's masks are re-indexed by pixel once (a stable counting sort,
/// 8 bytes per entry), and the level's rows are then merged in parallel with a dense per-row accumulator. The entry for
/// (pixel p, cell i) holds Σ_l Ỹ_{i,l}(p)·S_l(c, p) for each channel c and Σ_l Ỹ_{i,l}(p)·f, f the field weight.
/// </summary>
public sealed class CellMatrixBuilder
{
    readonly int _h, _w, _k, _c;
    readonly List<(int[] RowPtr, int[] Cell, float[] Value, float[] Band, float FieldWeight)> _bands = new();

    /// <param name="height">Grid rows h of the level.</param>
    /// <param name="width">Grid columns w of the level.</param>
    /// <param name="k">Number of cells (keypoints).</param>
    /// <param name="channels">Colour channels C.</param>
    public CellMatrixBuilder(int height, int width, int k, int channels)
    {
        _h = height; _w = width; _k = k; _c = channels;
    }

    /// <summary>Number of (band, pixel, cell) entries added so far.</summary>
    public long BandEntries { get; private set; }

    /// <summary>Adds one band: its masks (on this level's grid) and its stored values <c>band[c·h·w + p]</c>.</summary>
    /// <exception cref="ArgumentException">The masks or the band do not have this level's grid.</exception>
    public void Add(CellMasks masks, float[] band, float fieldWeight)
    {
        int p = _h * _w;
        if (masks.Height != _h || masks.Width != _w) throw new ArgumentException($"Masks are {masks.Height}×{masks.Width}; this level is {_h}×{_w}.", nameof(masks));
        if (band.Length != _c * p) throw new ArgumentException($"Band has {band.Length} values; expected {_c}×{_h}×{_w}.", nameof(band));
        int n = masks.Value.Length;
        var rowPtr = new int[p + 1];
        for (int e = 0; e < n; e++) rowPtr[masks.Pixel[e] + 1]++;
        for (int r = 0; r < p; r++) rowPtr[r + 1] += rowPtr[r];
        var next = (int[])rowPtr.Clone();
        var cell = new int[n]; var value = new float[n];
        for (int e = 0; e < n; e++)
        {
            int at = next[masks.Pixel[e]]++;
            cell[at] = (int)masks.Cell[e]; value[at] = masks.Value[e];
        }
        _bands.Add((rowPtr, cell, value, band, fieldWeight));
        BandEntries += n;
    }

    /// <summary>The level's matrix (entries of one row sorted by cell; C channels + the field weight per entry).</summary>
    public CellMatrix Build()
    {
        int p = _h * _w, stride = _c + 1, k = _k, c = _c;
        const int rowsPerChunk = 256;
        int chunks = (p + rowsPerChunk - 1) / rowsPerChunk;
        var counts = new int[p];
        var chunkCols = new int[chunks][]; var chunkVals = new float[chunks][];
        var bands = _bands.ToArray();
        Parallel.For(0, chunks, () => (Acc: new float[(long)k * stride], Seen: new int[k], Touched: new int[k], Stamp: new int[1]), (chunk, _, st) =>
        {
            int r0 = chunk * rowsPerChunk, r1 = Math.Min(p, r0 + rowsPerChunk);
            long upper = 0;
            foreach (var b in bands) upper += b.RowPtr[r1] - b.RowPtr[r0];
            var cols = new int[upper]; var vals = new float[upper * stride];
            int m = 0;
            for (int r = r0; r < r1; r++)
            {
                int stamp = ++st.Stamp[0], nt = 0;
                foreach (var b in bands)
                    for (int e = b.RowPtr[r]; e < b.RowPtr[r + 1]; e++)
                    {
                        int i = b.Cell[e]; float v = b.Value[e];
                        long a = (long)i * stride;
                        if (st.Seen[i] != stamp) { st.Seen[i] = stamp; st.Touched[nt++] = i; for (int s = 0; s < stride; s++) st.Acc[a + s] = 0; }
                        for (int ch = 0; ch < c; ch++) st.Acc[a + ch] += v * b.Band[ch * p + r];
                        st.Acc[a + c] += v * b.FieldWeight;
                    }
                Array.Sort(st.Touched, 0, nt);
                for (int t = 0; t < nt; t++)
                {
                    int i = st.Touched[t];
                    cols[m] = i;
                    Array.Copy(st.Acc, (long)i * stride, vals, (long)m * stride, stride);
                    m++;
                }
                counts[r] = nt;
            }
            chunkCols[chunk] = m == cols.Length ? cols : cols[..m];
            chunkVals[chunk] = m * stride == vals.Length ? vals : vals[..(m * stride)];
            return st;
        }, _ => { });
        var rowPtr = new int[p + 1];
        for (int r = 0; r < p; r++) rowPtr[r + 1] = rowPtr[r] + counts[r];
        var col = new int[rowPtr[p]]; var val = new float[(long)rowPtr[p] * stride];
        int off = 0;
        for (int ch = 0; ch < chunks; ch++)
        {
            Array.Copy(chunkCols[ch], 0, col, off, chunkCols[ch].Length);
            Array.Copy(chunkVals[ch], 0, val, (long)off * stride, chunkVals[ch].Length);
            off += chunkCols[ch].Length;
        }
        _bands.Clear();
        return new CellMatrix(_h, _w, k, stride, rowPtr, col, val);
    }
}

/// <summary>
/// Differentiable product of gains <c>θ [N,K]</c> (CPU, float32) with a <see cref="CellMatrix"/>:
/// returns <c>[N, count, h, w]</c>; the backward pass is the transposed product.
/// Call as <c>CellMatrixProduct.Apply(theta, matrix, c0, count)</c>.
/// </summary>
public sealed class CellMatrixProduct : torch.autograd.SingleTensorFunction<CellMatrixProduct>
{
    /// <summary>Autograd node name <c>SiftCellMatrixProduct</c>.</summary>
    public override string Name => "SiftCellMatrixProduct";

    /// <summary>
    /// Differentiable <c>y[n,c,·,·] = Σ_i θ[n,i]·Val_i[c0 + c]</c> over the matrix entries: images <c>[N,count,h,w]</c>
    /// from gains <paramref name="theta"/> <c>[N,K]</c> (Eq 4.40 for one decoder level); gradients flow to θ only.
    /// </summary>
    /// <param name="theta">Gains θ <c>[N,K]</c> (read as float32 on the CPU).</param>
    /// <param name="matrix">The level's cell matrix.</param>
    /// <param name="c0">First value slot of each entry to use (0 = the first colour channel; C = the field weight).</param>
    /// <param name="count">Number of consecutive value slots (e.g. C colour channels, or 1 for the field).</param>
    public static Tensor Apply(Tensor theta, CellMatrix matrix, int c0, int count) => apply(theta, matrix, c0, count);

    /// <summary>Autograd forward: saves the matrix and slot range and returns the product <c>[N,count,h,w]</c>.</summary>
    /// <param name="ctx">The autograd context the matrix and slot range are saved in.</param>
    /// <param name="vars">θ <c>[N,K]</c>, the <see cref="CellMatrix"/>, c0 and count, in this order.</param>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var theta = (Tensor)vars[0];
        var m = (CellMatrix)vars[1];
        int c0 = (int)vars[2], count = (int)vars[3];
        ctx.save_data("m", m); ctx.save_data("c0", c0); ctx.save_data("count", count);
        int n = (int)theta.shape[0];
        using var cpu = theta.detach().to(ScalarType.Float32).contiguous();
        var y = m.MultiplyRowMajor(cpu.data<float>().ToArray(), n, c0, count);
        using var rows = tensor(y, new long[] { m.Height, m.Width, count, n });
        return rows.permute(3, 2, 0, 1).contiguous();
    }

    /// <summary>Autograd backward: the transposed product of the output gradient, <c>∂L/∂θ [N,K]</c>; no gradient for the other inputs.</summary>
    /// <param name="ctx">The autograd context of the forward pass.</param>
    /// <param name="grad_output">∂L/∂y <c>[N,count,h,w]</c>.</param>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        var m = (CellMatrix)ctx.get_data("m");
        int c0 = (int)ctx.get_data("c0"), count = (int)ctx.get_data("count");
        int n = (int)grad_output.shape[0];
        using var g = grad_output.to(ScalarType.Float32).permute(2, 3, 1, 0).contiguous(); // [h, w, count, N]
        var gt = m.MultiplyTransposedRowMajor(g.data<float>().ToArray(), n, c0, count);
        return new List<Tensor> { tensor(gt, new long[] { n, m.K }), null!, null!, null! };
    }
}
