using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Methods;

/// <summary>How <see cref="ExtremalPerturbation.MaskGenerator"/> evaluates the smooth maximum of its masks.</summary>
public enum SmoothMaxFormulation
{
    /// <summary><see cref="Fused"/> for float32 CPU parameters, <see cref="Tensor"/> otherwise (CUDA, float64).</summary>
    Auto,
    /// <summary>The managed <see cref="SmoothMaxKernel"/> (float32 CPU parameters only).</summary>
    Fused,
    /// <summary>The libtorch formulation: unfold, nearest upsampling, weights, softmax and sum as tensors (any device).</summary>
    Tensor,
}

/// <summary>
/// The smooth-max mask of Extremal Perturbation (Fong, Patrick &amp; Vedaldi 2019, §3.2; TorchRay's <c>MaskGenerator</c>)
/// as one fused CPU kernel, forward and backward. For area k and full-mask pixel u in node cell c(u), the n = (2r+1)²
/// neighbour values are <c>v_j = w_j(u)·p_k(c(u) + o_j)</c> (zero outside the parameter grid) and the mask is
/// <c>m = Σ_j v_j·s_j</c> with <c>s = softmax(ζ·v)</c>, ζ = 20; the kernel weights w_j(u) depend only on the position
/// of u inside its s×s cell, so they form one table of s²·n floats that stays in the first-level cache. The gradient is
/// <c>∂m/∂v_j = s_j·(1 + ζ·(v_j − m))</c>, times w_j(u), summed over every pixel that reads parameter p_k(·): the pixels of
/// one cell share their n parameters, so each cell accumulates n partial sums and adds them to the parameter grid once.
/// Work is split over (area, cell row) on <c>torch.get_num_threads()</c> threads (1: the calling thread alone), each
/// thread adding into its own gradient grid, summed in a fixed order afterwards (deterministic, no atomics).
/// Arithmetic: float32, 8-wide SIMD over the neighbours, the exponential by range reduction and a degree-6 polynomial
/// (≤ 2 ulp on the reduced range); softmax with its maximum subtracted as libtorch does. The masks and gradients agree
/// with the tensor formulation to float rounding (≈ 1e-6 relative); this replaces the [K, n, H', W'] intermediate tensors
/// of that formulation, which cost ≈ 0.6 s per Extremal Perturbation iteration at 128 px on one core.
/// </summary>
public sealed class SmoothMaxKernel
{
    const int Lanes = 8;
    readonly int _step, _side, _n, _vectors, _paramH, _paramW, _padding, _gridW, _gridH;
    readonly float _coldness;
    readonly float[] _weights;     // [s·s, vectors·8]: w_j for the pixel at (a, b) inside its cell, zero in the padding lanes
    readonly int[] _rowStart, _colStart; // full-mask rows/columns [start[c], start[c+1]) lie in cell row/column c
    readonly int[] _tail;          // lane mask of the last vector (−1 = a neighbour, 0 = padding)

    /// <summary>Rows of the full mask.</summary>
    public int OutHeight { get; }
    /// <summary>Columns of the full mask.</summary>
    public int OutWidth { get; }
    /// <summary>Parameters per area: ParamHeight·ParamWidth.</summary>
    public int ParameterCount => _paramH * _paramW;

    /// <summary>
    /// The kernel for a parameter grid <paramref name="paramHeight"/>×<paramref name="paramWidth"/> zero-padded by
    /// <paramref name="padding"/> nodes, neighbourhood radius <paramref name="radius"/> and node step <paramref name="step"/>.
    /// </summary>
    /// <param name="paramHeight">Rows of the parameter grid.</param>
    /// <param name="paramWidth">Columns of the parameter grid.</param>
    /// <param name="padding">Zero nodes added on each side of the grid.</param>
    /// <param name="radius">Neighbourhood radius r: each pixel reads (2r+1)² nodes.</param>
    /// <param name="step">Node step s (pixels): the cell side.</param>
    /// <param name="rowCell">For each full-mask row, the cell row it reads (libtorch's nearest upsampling map; non-decreasing).</param>
    /// <param name="colCell">For each full-mask column, the cell column it reads.</param>
    /// <param name="cellWeight">k(|u − u_j|/σ) for in-cell position (a, b) ∈ [0,s)² and neighbour j: <c>cellWeight(a, b, j)</c>.</param>
    /// <param name="coldness">ζ of the softmax (TorchRay: 20).</param>
    public SmoothMaxKernel(int paramHeight, int paramWidth, int padding, int radius, int step,
        IReadOnlyList<int> rowCell, IReadOnlyList<int> colCell, Func<int, int, int, float> cellWeight, double coldness)
    {
        _paramH = paramHeight; _paramW = paramWidth; _padding = padding; _step = step;
        _side = 2 * radius + 1; _n = _side * _side; _vectors = (_n + Lanes - 1) / Lanes;
        _gridH = paramHeight + 2 * padding; _gridW = paramWidth + 2 * padding;
        _coldness = (float)coldness;
        OutHeight = rowCell.Count; OutWidth = colCell.Count;
        _rowStart = Starts(rowCell, _gridH - _side + 1, nameof(rowCell));
        _colStart = Starts(colCell, _gridW - _side + 1, nameof(colCell));
        int np = _vectors * Lanes;
        _weights = new float[step * step * np];
        for (int a = 0; a < step; a++)
            for (int b = 0; b < step; b++)
                for (int j = 0; j < _n; j++) _weights[(a * step + b) * np + j] = cellWeight(a, b, j);
        _tail = new int[Lanes];
        for (int l = 0; l < Lanes; l++) _tail[l] = (_vectors - 1) * Lanes + l < _n ? -1 : 0;
    }

    static int[] Starts(IReadOnlyList<int> cell, int cells, string name)
    {
        var start = new int[cells + 1];
        int c = 0;
        for (int u = 0; u < cell.Count; u++)
        {
            if (cell[u] < (u == 0 ? 0 : cell[u - 1]) || cell[u] >= cells)
                throw new ArgumentException($"smooth-max kernel: {name} must be non-decreasing cell indices in [0,{cells}); got {cell[u]} at {u}.", name);
            while (c <= cell[u]) start[c++] = u;
        }
        while (c <= cells) start[c++] = cell.Count;
        return start;
    }

    /// <summary>Masks <c>[K, OutHeight, OutWidth]</c> (before the clamp to [0,1]) from float32 CPU parameters <c>[K, ParamHeight·ParamWidth]</c>; differentiable.</summary>
    /// <exception cref="ArgumentException">The parameters are not float32 <c>[K, ParameterCount]</c> on the CPU.</exception>
    public Tensor Apply(Tensor parameters)
    {
        if (parameters.device_type != DeviceType.CPU || parameters.dtype != ScalarType.Float32 || parameters.dim() != 2 || parameters.shape[1] != ParameterCount)
            throw new ArgumentException($"smooth-max kernel: expected float32 CPU parameters [K, {ParameterCount}]; got {parameters.dtype} [{string.Join(",", parameters.shape)}] on {parameters.device}.");
        return SmoothMaxFunction.Apply(parameters, this);
    }

    /// <summary>The zero-padded parameter grids <c>[K, gridH, gridW]</c> of contiguous float32 parameters.</summary>
    internal float[] Grid(Tensor parameters)
    {
        int k = (int)parameters.shape[0];
        var p = parameters.data<float>();
        var grid = new float[k * _gridH * _gridW];
        for (int a = 0; a < k; a++)
            for (int i = 0; i < _paramH; i++)
                for (int j = 0; j < _paramW; j++)
                    grid[(a * _gridH + i + _padding) * _gridW + j + _padding] = p[(a * _paramH + i) * _paramW + j];
        return grid;
    }

    /// <summary>Runs <paramref name="body"/>(first, end, chunk) over [0, items) split into contiguous chunks, one per thread.</summary>
    static void Chunks(int items, int threads, Action<int, int, int> body)
    {
        if (threads <= 1) { body(0, items, 0); return; }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads },
            t => body((int)((long)items * t / threads), (int)((long)items * (t + 1) / threads), t));
    }

    int Threads(int items) => Math.Max(1, Math.Min(torch.get_num_threads(), items));

    /// <summary>
    /// Forward into <paramref name="output"/> <c>[K, OutHeight, OutWidth]</c> (contiguous float32); returns, per pixel,
    /// the softmax shift, Σ e_j and m (what the backward pass needs besides e_j).
    /// </summary>
    internal unsafe float[] Forward(float[] grid, int k, Tensor output)
    {
        int cellRows = _rowStart.Length - 1, items = k * cellRows;
        var stats = new float[3L * k * OutHeight * OutWidth];
        Chunks(items, Threads(items), (first, end, _) =>
        {
            int np = _vectors * Lanes;
            float* pbuf = stackalloc float[np];
            for (int l = 0; l < np; l++) pbuf[l] = 0;
            fixed (byte* yb = output.bytes)
            fixed (float* g = grid, w = _weights, st = stats)
            fixed (int* tail = _tail)
            {
                float* y = (float*)yb;
                var tailMask = Vector256.Load(tail).AsSingle();
                for (int item = first; item < end; item++)
                {
                    int area = item / cellRows, cy = item % cellRows;
                    if (_rowStart[cy] == _rowStart[cy + 1]) continue;
                    for (int cx = 0; cx + 1 < _colStart.Length; cx++)
                    {
                        if (_colStart[cx] == _colStart[cx + 1]) continue;
                        float bound = Gather(g + (area * _gridH + cy) * _gridW + cx, pbuf);
                        for (int u = _rowStart[cy]; u < _rowStart[cy + 1]; u++)
                        {
                            long at = ((long)area * OutHeight + u) * OutWidth;
                            int a = u % _step;
                            for (int v = _colStart[cx]; v < _colStart[cx + 1]; v++)
                            {
                                float* wp = w + (a * _step + v % _step) * np;
                                float shift = bound >= 0 ? bound : PixelMax(wp, pbuf, tailMask);
                                float m = Pixel(wp, pbuf, tailMask, shift, out float sum);
                                y[at + v] = m;
                                float* sp = st + 3 * (at + v);
                                sp[0] = shift; sp[1] = sum; sp[2] = m;
                            }
                        }
                    }
                }
            }
        });
        return stats;
    }

    /// <summary>
    /// ∂/∂p <c>[K, ParameterCount]</c> for the upstream gradient <paramref name="gradOutput"/> <c>[K, OutHeight, OutWidth]</c>
    /// (contiguous float32), with the per-pixel <paramref name="stats"/> of <see cref="Forward"/>.
    /// </summary>
    internal unsafe float[] Backward(float[] grid, float[] stats, int k, Tensor gradOutput)
    {
        int cellRows = _rowStart.Length - 1, items = k * cellRows, threads = Threads(items), gridSize = k * _gridH * _gridW;
        var partial = new float[threads][];
        Chunks(items, threads, (first, end, chunk) =>
        {
            int np = _vectors * Lanes, last = _vectors - 1;
            var acc = partial[chunk] = new float[gridSize];
            float* pbuf = stackalloc float[np], dbuf = stackalloc float[np];
            for (int l = 0; l < np; l++) pbuf[l] = 0;
            fixed (byte* gb = gradOutput.bytes)
            fixed (float* g = grid, w = _weights, gp = acc, st = stats)
            fixed (int* tail = _tail)
            {
                float* go = (float*)gb;
                var tailMask = Vector256.Load(tail).AsSingle();
                var zeta = Vector256.Create(_coldness);
                for (int item = first; item < end; item++)
                {
                    int area = item / cellRows, cy = item % cellRows;
                    if (_rowStart[cy] == _rowStart[cy + 1]) continue;
                    for (int cx = 0; cx + 1 < _colStart.Length; cx++)
                    {
                        if (_colStart[cx] == _colStart[cx + 1]) continue;
                        Gather(g + (area * _gridH + cy) * _gridW + cx, pbuf);
                        for (int l = 0; l < np; l++) dbuf[l] = 0;
                        for (int u = _rowStart[cy]; u < _rowStart[cy + 1]; u++)
                        {
                            long at = ((long)area * OutHeight + u) * OutWidth;
                            int a = u % _step;
                            for (int v = _colStart[cx]; v < _colStart[cx + 1]; v++)
                            {
                                float gu = go[at + v];
                                if (gu == 0) continue;
                                float* wp = w + (a * _step + v % _step) * np;
                                float* sp = st + 3 * (at + v);
                                // ∂m/∂p_j = w_j·s_j·(1 + ζ(v_j − m)), s_j = e_j / Σe; times the upstream gradient.
                                var shift = Vector256.Create(-sp[0]);
                                var scale = Vector256.Create(gu / sp[1]);
                                var bias = Vector256.Create(1 - _coldness * sp[2]);
                                for (int q = 0; q <= last; q++)
                                {
                                    var wq = Vector256.Load(wp + q * Lanes);
                                    var vq = wq * Vector256.Load(pbuf + q * Lanes);
                                    var e = Exp(Vector256.FusedMultiplyAdd(vq, zeta, shift));
                                    if (q == last) e &= tailMask;
                                    var d = Vector256.FusedMultiplyAdd(zeta, vq, bias) * e * wq;
                                    Vector256.Store(Vector256.FusedMultiplyAdd(d, scale, Vector256.Load(dbuf + q * Lanes)), dbuf + q * Lanes);
                                }
                            }
                        }
                        float* target = gp + (area * _gridH + cy) * _gridW + cx;
                        for (int ky = 0, j = 0; ky < _side; ky++)
                            for (int kx = 0; kx < _side; kx++, j++) target[ky * _gridW + kx] += dbuf[j];
                    }
                }
            }
        });
        var grad = new float[k * ParameterCount];
        for (int area = 0; area < k; area++)
            for (int i = 0; i < _paramH; i++)
                for (int j = 0; j < _paramW; j++)
                {
                    int at = (area * _gridH + i + _padding) * _gridW + j + _padding;
                    float s = 0;
                    for (int t = 0; t < threads; t++) s += partial[t][at];
                    grad[(area * _paramH + i) * _paramW + j] = s;
                }
        return grad;
    }

    /// <summary>
    /// Copies the n = side² parameters of the cell whose neighbourhood starts at <paramref name="origin"/> into
    /// <paramref name="pbuf"/> (row-major, as <c>unfold</c>) and returns ζ·max_j p_j when every p_j ≥ 0 and ζ·max p ≤ 60,
    /// else −1. Since 0 ≤ w_j ≤ 1, that value bounds every ζ·v_j of the cell's pixels from above and lies at most 60 above
    /// their maximum, so it serves as the softmax shift without a per-pixel maximum (no overflow, no underflow of the
    /// largest term; softmax does not depend on the shift).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    unsafe float Gather(float* origin, float* pbuf)
    {
        float max = float.NegativeInfinity, min = float.PositiveInfinity;
        for (int ky = 0, j = 0; ky < _side; ky++)
        {
            float* src = origin + ky * _gridW;
            for (int kx = 0; kx < _side; kx++, j++)
            {
                float p = pbuf[j] = src[kx];
                max = MathF.Max(max, p); min = MathF.Min(min, p);
            }
        }
        float bound = _coldness * max;
        return min >= 0 && bound <= 60 ? bound : -1;
    }

    /// <summary>max_j ζ·w_j·p_j of one pixel (the padding lanes excluded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    unsafe float PixelMax(float* w, float* p, Vector256<float> tailMask)
    {
        var zeta = Vector256.Create(_coldness);
        int last = _vectors - 1;
        var mx = Vector256.Create(float.NegativeInfinity);
        for (int q = 0; q < last; q++)
            mx = Vector256.Max(mx, Vector256.Load(w + q * Lanes) * Vector256.Load(p + q * Lanes) * zeta);
        var xl = Vector256.Load(w + last * Lanes) * Vector256.Load(p + last * Lanes) * zeta;
        mx = Vector256.Max(mx, Vector256.ConditionalSelect(tailMask, xl, Vector256.Create(float.NegativeInfinity)));
        return HorizontalMax(mx);
    }

    /// <summary>m = Σ v_j e_j / Σ e_j with v = w ⊙ p and e_j = exp(ζ v_j − shift) for one pixel; Σ e_j in <paramref name="sum"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    unsafe float Pixel(float* w, float* p, Vector256<float> tailMask, float shift, out float sum)
    {
        var zeta = Vector256.Create(_coldness);
        var negShift = Vector256.Create(-shift);
        int last = _vectors - 1;
        Vector256<float> s = Vector256<float>.Zero, t = Vector256<float>.Zero;
        for (int q = 0; q <= last; q++)
        {
            var v = Vector256.Load(w + q * Lanes) * Vector256.Load(p + q * Lanes);
            var e = Exp(Vector256.FusedMultiplyAdd(v, zeta, negShift));
            if (q == last) e &= tailMask;
            s += e;
            t = Vector256.FusedMultiplyAdd(v, e, t);
        }
        sum = Vector256.Sum(s);
        return Vector256.Sum(t) / sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float HorizontalMax(Vector256<float> v)
    {
        var h = Vector128.Max(v.GetLower(), v.GetUpper());
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
        return h.ToScalar();
    }

    /// <summary>
    /// e^x for x ≤ 0 (float32): x = n·ln 2 + r with |r| ≤ ln2/2 (ln 2 split in two parts), e^r by the minimax polynomial
    /// of degree 6 of the Cephes library's <c>expf</c>, times 2^n built in the exponent bits; x below −87.3 gives ≈ 1e-38.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-87.3f)), Vector256.Create(88.3f));
        var n = Vector256.Floor(Vector256.FusedMultiplyAdd(x, Vector256.Create(1.44269504088896341f), Vector256.Create(0.5f)));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500e-4f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
        var y = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        var pow2 = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return y * pow2;
    }
}

/// <summary>Autograd function of <see cref="SmoothMaxKernel.Apply"/>: forward the smooth-max masks, backward their parameter gradient.</summary>
public sealed class SmoothMaxFunction : torch.autograd.SingleTensorFunction<SmoothMaxFunction>
{
    /// <summary>The autograd function's name in torch's graph.</summary>
    public override string Name => "ExtremalSmoothMax";

    /// <summary>The masks <c>[K, OutHeight, OutWidth]</c> of parameters <c>[K, ParamHeight·ParamWidth]</c> (see <see cref="SmoothMaxKernel"/>).</summary>
    public static Tensor Apply(Tensor parameters, SmoothMaxKernel kernel) => apply(parameters, kernel);

    /// <summary>Forward: <c>vars</c> = the parameters (float32 CPU) and the <see cref="SmoothMaxKernel"/>; saves the padded parameter grid and the per-pixel softmax shift, sum and mask.</summary>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var p = (Tensor)vars[0];
        var kernel = (SmoothMaxKernel)vars[1];
        using var pc = p.detach().contiguous();
        int k = (int)pc.shape[0];
        var grid = kernel.Grid(pc);
        ctx.save_data("kernel", kernel);
        ctx.save_data("grid", grid);
        var y = empty(new long[] { k, kernel.OutHeight, kernel.OutWidth }, ScalarType.Float32);
        ctx.save_data("stats", kernel.Forward(grid, k, y));
        return y;
    }

    /// <summary>Backward: ∂/∂p <c>[K, ParamHeight·ParamWidth]</c> from the mask gradient <paramref name="grad_output"/>.</summary>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        var kernel = (SmoothMaxKernel)ctx.get_data("kernel");
        var grid = (float[])ctx.get_data("grid");
        using var g = grad_output.to(ScalarType.Float32).contiguous();
        int k = (int)g.shape[0];
        var grad = kernel.Backward(grid, (float[])ctx.get_data("stats"), k, g);
        return new List<Tensor> { tensor(grad, new long[] { k, kernel.ParameterCount }), null! };
    }
}

/// <summary>
/// The values of a stable ascending sort of each row of a float32 CPU matrix <c>[K, N]</c>, differentiable, as
/// <c>x.sort(1, descending: false, stable: true).Values</c>: the same permutation (ties keep their order, −0 ties with +0,
/// NaN last), so the same values and the same gradient (each sorted position passes its gradient back to the element it
/// came from). Extremal Perturbation's area constraint sorts its masks every iteration; this is a least-significant-digit
/// radix sort on the order-preserving integer image of the float bits (three passes of 11 bits, stable by construction),
/// several times cheaper than libtorch's comparison sort for the ≈ 30 000 values of a 128-px mask. Rows are split over
/// <c>torch.get_num_threads()</c> threads.
/// </summary>
public sealed class StableSortValues : torch.autograd.SingleTensorFunction<StableSortValues>
{
    /// <summary>The autograd function's name in torch's graph.</summary>
    public override string Name => "StableSortValues";

    /// <summary>Each row of <paramref name="x"/> <c>[K, N]</c> (float32, CPU) sorted ascending, stably; differentiable.</summary>
    /// <exception cref="ArgumentException">x is not a float32 CPU matrix.</exception>
    public static Tensor Apply(Tensor x)
    {
        if (x.device_type != DeviceType.CPU || x.dtype != ScalarType.Float32 || x.dim() != 2)
            throw new ArgumentException($"stable sort: expected a float32 CPU matrix [K, N]; got {x.dtype} [{string.Join(",", x.shape)}] on {x.device}.");
        return apply(x);
    }

    /// <summary>Forward: <c>vars</c> = the matrix; returns the sorted rows and saves the permutation.</summary>
    public override unsafe Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        using var x = ((Tensor)vars[0]).detach().contiguous();
        int k = (int)x.shape[0], n = (int)x.shape[1];
        var y = empty(x.shape, ScalarType.Float32);
        var order = new int[(long)k * n];
        int threads = Math.Max(1, Math.Min(torch.get_num_threads(), k));
        void Rows(int r0, int r1)
        {
            var a = System.Buffers.ArrayPool<ulong>.Shared.Rent(n);
            var b = System.Buffers.ArrayPool<ulong>.Shared.Rent(n);
            fixed (byte* xb = x.bytes, yb = y.bytes)
            fixed (int* op = order)
            fixed (ulong* ap = a, bp = b)
                for (int r = r0; r < r1; r++)
                    SortRow((float*)xb + (long)r * n, n, ap, bp, (float*)yb + (long)r * n, op + (long)r * n);
            System.Buffers.ArrayPool<ulong>.Shared.Return(a);
            System.Buffers.ArrayPool<ulong>.Shared.Return(b);
        }
        if (threads == 1) Rows(0, k);
        else Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => Rows(k * t / threads, k * (t + 1) / threads));
        ctx.save_data("order", order);
        ctx.save_data("shape", x.shape);
        return y;
    }

    /// <summary>Backward: the gradient of sorted position i goes to the element it came from.</summary>
    public override unsafe List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        var order = (int[])ctx.get_data("order");
        var shape = (long[])ctx.get_data("shape");
        int k = (int)shape[0], n = (int)shape[1];
        using var g = grad_output.to(ScalarType.Float32).contiguous();
        var gi = empty(shape, ScalarType.Float32);
        fixed (byte* gb = g.bytes, ib = gi.bytes)
        fixed (int* op = order)
            for (int r = 0; r < k; r++)
            {
                float* src = (float*)gb + (long)r * n, dst = (float*)ib + (long)r * n;
                int* o = op + (long)r * n;
                for (int i = 0; i < n; i++) dst[o[i]] = src[i];
            }
        return new List<Tensor> { gi };
    }

    /// <summary>Order-preserving unsigned key of a float: ±0 equal (x + 0 turns −0 into +0), NaN above +∞.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static uint Key(float f)
    {
        if (float.IsNaN(f)) return uint.MaxValue;
        uint b = BitConverter.SingleToUInt32Bits(f + 0f);
        return b ^ ((uint)((int)b >> 31) | 0x80000000u);
    }

    /// <summary>
    /// Sorts one row: items (key·2³² + position) through three stable counting passes on key bits 0–10, 11–21 and
    /// 22–31; writes the sorted values and, per sorted position, the position it came from.
    /// </summary>
    static unsafe void SortRow(float* x, int n, ulong* a, ulong* b, float* sorted, int* order)
    {
        int* h0 = stackalloc int[2048 + 2048 + 1024];
        int* h1 = h0 + 2048, h2 = h1 + 2048;
        new Span<int>(h0, 5120).Clear();
        for (int i = 0; i < n; i++)
        {
            uint key = Key(x[i]);
            a[i] = ((ulong)key << 32) | (uint)i;
            h0[key & 2047]++; h1[(key >> 11) & 2047]++; h2[key >> 22]++;
        }
        Prefix(h0, 2048); Prefix(h1, 2048); Prefix(h2, 1024);
        for (int i = 0; i < n; i++) { ulong e = a[i]; b[h0[(int)(e >> 32) & 2047]++] = e; }
        for (int i = 0; i < n; i++) { ulong e = b[i]; a[h1[(int)(e >> 43) & 2047]++] = e; }
        for (int i = 0; i < n; i++) { ulong e = a[i]; b[h2[(int)(e >> 54)]++] = e; }
        for (int i = 0; i < n; i++) { int j = (int)(uint)b[i]; order[i] = j; sorted[i] = x[j]; }
    }

    static unsafe void Prefix(int* h, int count)
    {
        int s = 0;
        for (int i = 0; i < count; i++) { int c = h[i]; h[i] = s; s += c; }
    }
}
