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
    public int Height { get; }
    public int Width { get; }
    /// <summary>Number of columns (keypoints).</summary>
    public int K { get; }
    /// <summary>Values per entry: C colour channels + 1 field weight.</summary>
    public int Stride { get; }
    public int[] RowPtr { get; }
    public int[] Col { get; }
    public float[] Val { get; }
    public long Entries => Col.Length;
    public long Bytes => (long)RowPtr.Length * 4 + (long)Col.Length * 4 + (long)Val.Length * 4;

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
        int p = Height * Width, k = K, stride = Stride;
        var tt = new float[(long)k * n]; // θᵀ: the gains of one cell are contiguous
        for (int b = 0; b < n; b++) for (int i = 0; i < k; i++) tt[(long)i * n + b] = theta[(long)b * k + i];
        var y = new float[(long)n * count * p];
        const int rowsPerTask = 512;
        Parallel.For(0, (p + rowsPerTask - 1) / rowsPerTask, chunk =>
        {
            var acc = new float[n * count];
            int r0 = chunk * rowsPerTask, r1 = Math.Min(p, r0 + rowsPerTask);
            for (int r = r0; r < r1; r++)
            {
                Array.Clear(acc);
                for (int j = RowPtr[r]; j < RowPtr[r + 1]; j++)
                {
                    long tb = (long)Col[j] * n;
                    int vb = j * stride + c0;
                    for (int c = 0; c < count; c++)
                    {
                        float v = Val[vb + c];
                        for (int b = 0; b < n; b++) acc[b * count + c] += v * tt[tb + b];
                    }
                }
                for (int b = 0; b < n; b++)
                    for (int c = 0; c < count; c++) y[((long)b * count + c) * p + r] = acc[b * count + c];
            }
        });
        return y;
    }

    /// <summary>The transposed product (the gradient): g[n, i] = Σ_{c,p} G[n, c, p]·Val[j·S + c0 + c] over entries j = (p, i).</summary>
    public float[] MultiplyTransposed(float[] grad, int n, int c0, int count)
    {
        int p = Height * Width, k = K, stride = Stride;
        // Fixed row chunks, each with its own partial gᵀ [K, N], summed in chunk order: bit-identical on every run.
        const int rowsPerTask = 2048;
        int chunks = (p + rowsPerTask - 1) / rowsPerTask;
        var partial = new float[chunks][];
        Parallel.For(0, chunks, chunk =>
        {
            var local = new float[(long)k * n];
            var gr = new float[n * count];
            int r0 = chunk * rowsPerTask, r1 = Math.Min(p, r0 + rowsPerTask);
            for (int r = r0; r < r1; r++)
            {
                for (int b = 0; b < n; b++)
                    for (int c = 0; c < count; c++) gr[b * count + c] = grad[((long)b * count + c) * p + r];
                for (int j = RowPtr[r]; j < RowPtr[r + 1]; j++)
                {
                    long tb = (long)Col[j] * n;
                    int vb = j * stride + c0;
                    for (int c = 0; c < count; c++)
                    {
                        float v = Val[vb + c];
                        for (int b = 0; b < n; b++) local[tb + b] += v * gr[b * count + c];
                    }
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
/// Differentiable product of gains <c>θ [N,K]</c> (CPU, float32) with a <see cref="CellMatrix"/>:
/// returns <c>[N, count, h, w]</c>; the backward pass is the transposed product.
/// Call as <c>CellMatrixProduct.Apply(theta, matrix, c0, count)</c>.
/// </summary>
public sealed class CellMatrixProduct : torch.autograd.SingleTensorFunction<CellMatrixProduct>
{
    public override string Name => "SiftCellMatrixProduct";

    public static Tensor Apply(Tensor theta, CellMatrix matrix, int c0, int count) => apply(theta, matrix, c0, count);

    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var theta = (Tensor)vars[0];
        var m = (CellMatrix)vars[1];
        int c0 = (int)vars[2], count = (int)vars[3];
        ctx.save_data("m", m); ctx.save_data("c0", c0); ctx.save_data("count", count);
        int n = (int)theta.shape[0];
        using var cpu = theta.detach().to(ScalarType.Float32).contiguous();
        var y = m.Multiply(cpu.data<float>().ToArray(), n, c0, count);
        return tensor(y, new long[] { n, count, m.Height, m.Width });
    }

    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        var m = (CellMatrix)ctx.get_data("m");
        int c0 = (int)ctx.get_data("c0"), count = (int)ctx.get_data("count");
        int n = (int)grad_output.shape[0];
        using var g = grad_output.to(ScalarType.Float32).contiguous();
        var gt = m.MultiplyTransposed(g.data<float>().ToArray(), n, c0, count);
        return new List<Tensor> { tensor(gt, new long[] { n, m.K }), null!, null!, null! };
    }
}
