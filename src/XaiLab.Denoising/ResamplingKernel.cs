using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>
/// A <see cref="SparseResampling"/> matrix laid out for the CPU as three fixed taps per target (ELL form):
/// <c>f(target_m) = Σ_{q&lt;3} W_q[m]·f(C_q[m])</c>, rows with fewer than three non-zeros padded with weight 0 on their
/// first column. Barycentric rows have at most 3 non-zeros (§7.3.2), so this is the whole matrix, and a fixed tap count
/// makes the inner loop branch-free: the previous CSR loop over 1–3 taps per target mispredicted at row ends and ran
/// 3–4× slower on the spiral→ribbon matrix (benchmarks/spiral-step-cpu.txt). <see cref="Apply"/> resamples the last
/// axis of a float32 CPU tensor <c>[..., N]</c> → <c>[..., M]</c> one leading row at a time (a source row of a spiral
/// net, ≤ a few thousand samples, stays in the first-level cache), with AVX2 gathers of 8 targets where the CPU has
/// them. The gradient is the transposed product, again a gather: the transpose is stored in blocks of 8 consecutive
/// sources (sliced ELL, each block padded to its longest target list — consecutive spiral points have nearly equal
/// counts), summed 8 sources at a time in a fixed order: deterministic, parallel over leading rows without atomics.
/// Work is split over leading rows on <c>torch.get_num_threads()</c> threads (1: the calling thread alone).
/// A padded tap (forward or transpose) multiplies some source value by 0, so an infinite or NaN value there turns the
/// padded target NaN where the sparse product would ignore it; with finite values the two agree.
/// </summary>
public sealed class ResamplingKernel
{
    /// <summary>Targets M: the length of the last axis of the output.</summary>
    public int RowCount { get; }
    /// <summary>Columns n of the resampling matrix: the length of the last axis of the input.</summary>
    public int ColCount { get; }
    internal readonly int[] C0, C1, C2;
    internal readonly float[] W0, W1, W2;
    // The transpose in blocks of 8 consecutive sources (sliced ELL): block b holds its sources' targets in
    // TBlock[b] ≤ e < TBlock[b+1], slot j of lane L at TBlock[b] + 8·j + L, padded with weight 0 to the block's longest list.
    internal readonly int[] TBlock, TIdx;
    internal readonly float[] TVal;

    /// <summary>The CPU layout of <paramref name="matrix"/> (float32 weights).</summary>
    /// <exception cref="ArgumentException">A row of the matrix has more than 3 non-zeros.</exception>
    public ResamplingKernel(SparseResampling matrix)
    {
        int m = matrix.RowCount;
        RowCount = m; ColCount = matrix.ColCount;
        C0 = new int[m]; C1 = new int[m]; C2 = new int[m];
        W0 = new float[m]; W1 = new float[m]; W2 = new float[m];
        var fill = new int[m];
        for (int q = 0; q < matrix.Values.Length; q++)
        {
            int t = matrix.Rows[q], f = fill[t]++;
            if (f >= 3) throw new ArgumentException($"Row {t} of the resampling matrix has more than 3 non-zeros; the kernel takes barycentric rows (≤ 3).");
            float v = (float)matrix.Values[q];
            switch (f) { case 0: C0[t] = matrix.Cols[q]; W0[t] = v; break; case 1: C1[t] = matrix.Cols[q]; W1[t] = v; break; default: C2[t] = matrix.Cols[q]; W2[t] = v; break; }
        }
        for (int t = 0; t < m; t++)
        {
            if (fill[t] < 2) C1[t] = C0[t];
            if (fill[t] < 3) C2[t] = C0[t];
        }
        // Transpose, each source's targets in increasing order.
        int n = ColCount;
        var count = new int[n];
        for (int t = 0; t < m; t++) for (int f = 0; f < fill[t]; f++) count[f == 0 ? C0[t] : f == 1 ? C1[t] : C2[t]]++;
        int blocks = (n + 7) / 8;
        TBlock = new int[blocks + 1];
        for (int b = 0; b < blocks; b++)
        {
            int w = 0;
            for (int l = 0; l < 8 && 8 * b + l < n; l++) w = Math.Max(w, count[8 * b + l]);
            TBlock[b + 1] = TBlock[b] + 8 * w;
        }
        TIdx = new int[TBlock[blocks]]; TVal = new float[TBlock[blocks]];
        var slot = new int[n];
        for (int t = 0; t < m; t++)
            for (int f = 0; f < fill[t]; f++)
            {
                int c = f == 0 ? C0[t] : f == 1 ? C1[t] : C2[t];
                int at = TBlock[c / 8] + 8 * slot[c]++ + c % 8;
                TIdx[at] = t; TVal[at] = f == 0 ? W0[t] : f == 1 ? W1[t] : W2[t];
            }
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

    /// <summary>Runs <paramref name="body"/>(r0, r1) over <paramref name="rows"/> rows split on torch's intra-op thread count.</summary>
    internal static void Split(int rows, Action<int, int> body)
    {
        int threads = Math.Max(1, Math.Min(torch.get_num_threads(), rows));
        if (threads == 1) body(0, rows);
        else Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads },
            i => body((int)((long)rows * i / threads), (int)((long)rows * (i + 1) / threads)));
    }

    /// <summary>y[r, :] = A·x[r, :] for each of <paramref name="rows"/> leading rows (x: <see cref="ColCount"/> per row, y: <see cref="RowCount"/>).</summary>
    internal unsafe void Forward(Tensor x, Tensor y, int rows)
    {
        int n = ColCount, m = RowCount;
        Split(rows, (r0, r1) =>
        {
            fixed (byte* xb = x.bytes, yb = y.bytes)
            fixed (int* c0 = C0, c1 = C1, c2 = C2)
            fixed (float* w0 = W0, w1 = W1, w2 = W2)
                for (int r = r0; r < r1; r++)
                {
                    float* src = (float*)xb + (long)r * n, dst = (float*)yb + (long)r * m;
                    int t = 0;
                    if (Avx2.IsSupported && Fma.IsSupported)
                        for (; t + 8 <= m; t += 8)
                        {
                            var a = Avx.Multiply(Avx.LoadVector256(w0 + t), Avx2.GatherVector256(src, Avx.LoadVector256(c0 + t), 4));
                            a = Fma.MultiplyAdd(Avx.LoadVector256(w1 + t), Avx2.GatherVector256(src, Avx.LoadVector256(c1 + t), 4), a);
                            a = Fma.MultiplyAdd(Avx.LoadVector256(w2 + t), Avx2.GatherVector256(src, Avx.LoadVector256(c2 + t), 4), a);
                            Avx.Store(dst + t, a);
                        }
                    for (; t < m; t++) dst[t] = w0[t] * src[c0[t]] + w1[t] * src[c1[t]] + w2[t] * src[c2[t]];
                }
        });
    }

    /// <summary>gx[r, :] = Aᵀ·g[r, :] for each of <paramref name="rows"/> leading rows: per block of 8 sources, a gather of their targets' gradients.</summary>
    internal unsafe void Backward(Tensor g, Tensor gx, int rows)
    {
        int n = ColCount, m = RowCount, blocks = TBlock.Length - 1;
        Split(rows, (r0, r1) =>
        {
            fixed (byte* gb = g.bytes, xb = gx.bytes)
            fixed (int* bp = TBlock, ti = TIdx)
            fixed (float* tv = TVal)
            {
                float* lanes = stackalloc float[8];
                for (int r = r0; r < r1; r++)
                {
                    float* src = (float*)gb + (long)r * m, dst = (float*)xb + (long)r * n;
                    for (int b = 0; b < blocks; b++)
                    {
                        int e0 = bp[b], e1 = bp[b + 1], full = Math.Min(8, n - 8 * b);
                        if (Avx2.IsSupported && Fma.IsSupported)
                        {
                            var a = Vector256<float>.Zero;
                            for (int e = e0; e < e1; e += 8)
                                a = Fma.MultiplyAdd(Avx.LoadVector256(tv + e), Avx2.GatherVector256(src, Avx.LoadVector256(ti + e), 4), a);
                            if (full == 8) { Avx.Store(dst + 8 * b, a); continue; }
                            Avx.Store(lanes, a);
                        }
                        else
                            for (int l = 0; l < 8; l++)
                            {
                                float a = 0;
                                for (int e = e0 + l; e < e1; e += 8) a += tv[e] * src[ti[e]];
                                lanes[l] = a;
                            }
                        for (int l = 0; l < full; l++) dst[8 * b + l] = lanes[l];
                    }
                }
            }
        });
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
        int rows = (int)(xc.NumberOfElements / k.ColCount);
        var y = empty([.. x.shape[..^1], k.RowCount], ScalarType.Float32);
        k.Forward(xc, y, rows);
        return y;
    }

    /// <summary>Backward: the transpose product (a gather per row) of <paramref name="grad_output"/> <c>[..., m]</c>, giving the input gradient <c>[..., n]</c>.</summary>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        var k = (ResamplingKernel)ctx.get_data("k");
        var shape = (long[])ctx.get_data("shape");
        using var g = grad_output.to(ScalarType.Float32).contiguous();
        int rows = (int)(g.NumberOfElements / k.RowCount);
        var gx = empty(shape, ScalarType.Float32);
        k.Backward(g, gx, rows);
        return new List<Tensor> { gx, null! };
    }
}
