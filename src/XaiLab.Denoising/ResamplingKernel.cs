using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>
/// A <see cref="SparseResampling"/> matrix laid out for the CPU: CSR by target (<c>f(target_m) = Σ_j Val[j]·f(Col[j])</c>
/// over RowPtr[m] ≤ j &lt; RowPtr[m+1], the non-zeros of row m in the matrix' order) and the same matrix transposed, CSR by
/// source, for the backward pass. <see cref="Apply"/> resamples the last axis of a float32 CPU tensor
/// <c>[..., N]</c> → <c>[..., M]</c> one leading row at a time — a source row of a spiral net (≤ a few thousand samples)
/// stays in the first-level cache while its ≤ 3 taps per target are read — and the gradient is the transposed
/// product, again a gather (no scatter-add, so it is deterministic and parallel over rows without atomics).
/// Work is split over leading rows on <c>torch.get_num_threads()</c> threads (1: the calling thread alone).
/// On the CPU this replaces <c>index_select</c> + weights + sum (<see cref="SparseResampling.Gather"/>), whose last-axis
/// gather and scatter-add backward cost several times more; the result is the same sum of the same products.
/// </summary>
public sealed class ResamplingKernel
{
    /// <summary>Targets M and sources N.</summary>
    public int RowCount { get; }
    /// <summary>Columns n of the resampling matrix: the length of the last axis of the input.</summary>
    public int ColCount { get; }
    internal readonly int[] RowPtr, Col, TRowPtr, TCol;
    internal readonly float[] Val, TVal;

    /// <summary>The CPU layout of <paramref name="matrix"/> (float32 weights).</summary>
    public ResamplingKernel(SparseResampling matrix)
    {
        int m = matrix.RowCount, n = matrix.ColCount, nnz = matrix.Values.Length;
        RowCount = m; ColCount = n;
        RowPtr = new int[m + 1]; Col = new int[nnz]; Val = new float[nnz];
        for (int q = 0; q < nnz; q++) RowPtr[matrix.Rows[q] + 1]++;
        for (int r = 0; r < m; r++) RowPtr[r + 1] += RowPtr[r];
        var next = (int[])RowPtr.Clone();
        for (int q = 0; q < nnz; q++) { int at = next[matrix.Rows[q]]++; Col[at] = matrix.Cols[q]; Val[at] = (float)matrix.Values[q]; }
        TRowPtr = new int[n + 1]; TCol = new int[nnz]; TVal = new float[nnz];
        for (int j = 0; j < nnz; j++) TRowPtr[Col[j] + 1]++;
        for (int c = 0; c < n; c++) TRowPtr[c + 1] += TRowPtr[c];
        next = (int[])TRowPtr.Clone();
        for (int r = 0; r < m; r++)
            for (int j = RowPtr[r]; j < RowPtr[r + 1]; j++) { int at = next[Col[j]]++; TCol[at] = r; TVal[at] = Val[j]; }
    }

    /// <summary>
    /// Resamples the last axis: <paramref name="x"/> <c>[..., N]</c> (float32, CPU) → <c>[..., M]</c>. Differentiable in x.
    /// </summary>
    /// <exception cref="ArgumentException">x is not a float32 CPU tensor with N samples on its last axis.</exception>
    public Tensor Apply(Tensor x)
    {
        if (x.device_type != DeviceType.CPU || x.dtype != ScalarType.Float32 || x.dim() < 1 || x.shape[^1] != ColCount)
            throw new ArgumentException($"Expected a float32 CPU tensor [..., {ColCount}], got {x.dtype} [{string.Join(",", x.shape)}] on {x.device}.");
        return ResamplingProduct.Apply(x, this);
    }

    /// <summary>y[r, :] = A·x[r, :] for each of <paramref name="rows"/> leading rows (A: CSR <paramref name="ptr"/>, <paramref name="col"/>, <paramref name="val"/>).</summary>
    internal static unsafe void Product(int[] ptr, int[] col, float[] val, Tensor x, Tensor y, int rows, int n, int m)
    {
        int threads = Math.Max(1, Math.Min(torch.get_num_threads(), rows));
        void Rows(int r0, int r1)
        {
            fixed (byte* xb = x.bytes, yb = y.bytes)
            fixed (int* pp = ptr, cp = col)
            fixed (float* vp = val)
            {
                for (int r = r0; r < r1; r++)
                {
                    float* src = (float*)xb + (long)r * n, dst = (float*)yb + (long)r * m;
                    for (int t = 0; t < m; t++)
                    {
                        float s = 0;
                        for (int j = pp[t], e = pp[t + 1]; j < e; j++) s += vp[j] * src[cp[j]];
                        dst[t] = s;
                    }
                }
            }
        }
        if (threads == 1) Rows(0, rows);
        else Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads },
            i => Rows((int)((long)rows * i / threads), (int)((long)rows * (i + 1) / threads)));
    }
}

/// <summary>Autograd function of <see cref="ResamplingKernel.Apply"/>: forward A·x along the last axis, backward Aᵀ·g.</summary>
public sealed class ResamplingProduct : torch.autograd.SingleTensorFunction<ResamplingProduct>
{
    /// <summary>The autograd function's name in torch's graph.</summary>
    public override string Name => "SpiralResamplingProduct";

    /// <summary>A·x along the last axis of <paramref name="x"/> (see <see cref="ResamplingKernel"/>).</summary>
    public static Tensor Apply(Tensor x, ResamplingKernel kernel) => apply(x, kernel);

    /// <summary>Forward: <c>vars</c> = the input <c>[..., n]</c> and the <see cref="ResamplingKernel"/>; returns the resampled <c>[..., m]</c>.</summary>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var k = (ResamplingKernel)vars[1];
        ctx.save_data("k", k);
        ctx.save_data("shape", x.shape);
        using var xc = x.detach().contiguous();
        int n = k.ColCount, m = k.RowCount, rows = (int)(xc.NumberOfElements / n);
        var y = empty([.. x.shape[..^1], m], ScalarType.Float32);
        ResamplingKernel.Product(k.RowPtr, k.Col, k.Val, xc, y, rows, n, m);
        return y;
    }

    /// <summary>Backward: the transpose product (a second gather) of <paramref name="grad_output"/> <c>[..., m]</c>, giving the input gradient <c>[..., n]</c>.</summary>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        var k = (ResamplingKernel)ctx.get_data("k");
        var shape = (long[])ctx.get_data("shape");
        using var g = grad_output.to(ScalarType.Float32).contiguous();
        int n = k.ColCount, m = k.RowCount, rows = (int)(g.NumberOfElements / m);
        var gx = empty(shape, ScalarType.Float32);
        ResamplingKernel.Product(k.TRowPtr, k.TCol, k.TVal, g, gx, rows, m, n);
        return new List<Tensor> { gx, null! };
    }
}

