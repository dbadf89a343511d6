using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>
/// The projections of Algorithm 2 (§2.6.2) that bring a path back to the axioms of Definition 1, plus the
/// pointwise tweaks of §2.5. A path here is a tensor <c>[T, *S]</c> of interior masks at t_i = i/(T+1); the end
/// masks φ(0) = 0 and φ(1) = 1 are implicit (§2.6.2A) and taken into account where they matter (constant speed).
/// </summary>
public static class PathRepair
{
    // ---------------------------------------------------------------- Algorithm 1 (descent flattening)

    /// <summary>
    /// Algorithm 1 (§2.6.2B) on consecutive sequences of <paramref name="length"/> values in <paramref name="data"/>
    /// (pixel-major: sequence k occupies <c>data[k·length .. (k+1)·length)</c>), in place.
    /// <para>Discrete form: sweep left to right keeping a stack of blocks with value = mid-range
    /// <c>(max+min)/2</c> of the original values they cover; a new value starts its own block and merges with the
    /// top block while that block's value is larger, recomputing the mid-range. Untouched values are one-element
    /// blocks, so everything outside the decreasing runs stays as it is, and each decreasing run (grown while its
    /// neighbours lie beyond its mid-value, merged with overlapping out-of-order runs) becomes a plateau at its
    /// mid-value — Algorithm 1's output. A merged block's range is either one of its parts' ranges or a drop
    /// <c>p_i − p_j</c>, i &lt; j, so the distance to the input is exactly half the largest drop (Lemma 6,
    /// L∞-optimal). O(length) amortised per sequence over contiguous memory, no allocation.</para>
    /// </summary>
    public static void MonotoniseSequences<T>(Span<T> data, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (length < 1) throw new ArgumentException($"Sequence length must be ≥ 1; got {length}.", nameof(length));
        if (data.Length % length != 0) throw new ArgumentException($"Data length {data.Length} is not a multiple of the sequence length {length}.");
        Monotonise(data, length, data.Length / length, length, 1);
    }

    /// <summary>
    /// Algorithm 1 on a time-major array <c>[length, count]</c> (element (t,p) at <c>t·count + p</c>, the memory
    /// layout of a contiguous path <c>[T,*S]</c>), every column p in place, with the result of
    /// <see cref="MonotoniseSequences{T}"/> bit for bit. For short paths (length ≤ <see cref="SimdMaxLength"/>) whole
    /// SIMD vectors of neighbouring columns are processed at once by the max–min formula of
    /// <see cref="MonotoniseMaxMin"/> (branch-free, O(length²) vector operations per vector of columns); the remaining
    /// columns, and longer paths, use the block-merging sweep read with a stride.
    /// </summary>
    public static void MonotoniseColumns<T>(Span<T> data, int length, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (length < 1 || count < 0 || (long)length * count != data.Length)
            throw new ArgumentException($"Data of {data.Length} values is not [{length},{count}].");
        int done = 0;
        if (length > 1 && length <= SimdMaxLength && Vector.IsHardwareAccelerated && count >= Vector<T>.Count)
            done = MonotoniseColumnsSimd(data, length, count);
        if (done < count) Monotonise(data.Slice(done), length, count - done, 1, count);
    }

    /// <summary>
    /// Algorithm 1 on a time-major array <c>[length, count]</c> by the block-merging sweep alone, every column read
    /// with a stride (the kernel <see cref="MonotoniseColumns{T}"/> used before its SIMD form; same result, kept as
    /// the reference and for the benchmark).
    /// </summary>
    public static void MonotoniseColumnsSweep<T>(Span<T> data, int length, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (length < 1 || count < 0 || (long)length * count != data.Length)
            throw new ArgumentException($"Data of {data.Length} values is not [{length},{count}].");
        Monotonise(data, length, count, 1, count);
    }

    /// <summary>Longest path for which <see cref="MonotoniseColumns{T}"/> uses the SIMD max–min form (beyond it the O(T) sweep wins).</summary>
    public const int SimdMaxLength = 32;

    // q_i = max_{a≤i} min_{b≥i} (max p[a..b] + min p[a..b])/2 on Vector<T>.Count columns at a time; returns the
    // number of columns done (a multiple of the vector width).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static int MonotoniseColumnsSimd<T>(Span<T> data, int length, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lanes = Vector<T>.Count, blocks = count / lanes;
        Span<Vector<T>> v = stackalloc Vector<T>[length];
        Span<Vector<T>> f = stackalloc Vector<T>[length];
        Span<Vector<T>> q = stackalloc Vector<T>[length];
        var half = new Vector<T>(T.CreateChecked(0.5));
        var minusInf = new Vector<T>(T.NegativeInfinity);
        var plusInf = new Vector<T>(T.PositiveInfinity);
        for (int blk = 0; blk < blocks; blk++)
        {
            int p0 = blk * lanes;
            for (int t = 0; t < length; t++) { v[t] = new Vector<T>(data.Slice(t * count + p0, lanes)); q[t] = minusInf; }
            for (int a = 0; a < length; a++)
            {
                Vector<T> hi = v[a], lo = v[a];
                f[a] = v[a];
                for (int b = a + 1; b < length; b++)
                {
                    hi = Vector.Max(hi, v[b]);
                    lo = Vector.Min(lo, v[b]);
                    f[b] = (hi + lo) * half; // exactly (hi+lo)/2, as in the sweep
                }
                var s = plusInf;
                for (int i = length - 1; i >= a; i--)
                {
                    s = Vector.Min(s, f[i]);
                    q[i] = Vector.Max(q[i], s);
                }
            }
            for (int t = 0; t < length; t++) q[t].CopyTo(data.Slice(t * count + p0, lanes));
        }
        return blocks * lanes;
    }

    // Sequence s consists of data[s·baseStride + i·step], i = 0..length-1.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static void Monotonise<T>(Span<T> data, int length, int count, int baseStride, int step) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (length == 1) return;
        var two = T.CreateChecked(2);
        Span<int> start = length <= 256 ? stackalloc int[length] : new int[length];
        Span<T> hi = length <= 256 ? stackalloc T[length] : new T[length];
        Span<T> lo = length <= 256 ? stackalloc T[length] : new T[length];
        Span<T> val = length <= 256 ? stackalloc T[length] : new T[length];
        for (int s = 0; s < count; s++)
        {
            int b0 = s * baseStride;
            int top = -1;
            for (int i = 0; i < length; i++)
            {
                T x = data[b0 + i * step], bh = x, bl = x, bv = x;
                int bs = i;
                while (top >= 0 && val[top] > bv)
                {
                    bs = start[top];
                    if (hi[top] > bh) bh = hi[top];
                    if (lo[top] < bl) bl = lo[top];
                    bv = (bh + bl) / two;
                    top--;
                }
                top++;
                start[top] = bs; hi[top] = bh; lo[top] = bl; val[top] = bv;
            }
            // Write the plateaus; one-element blocks write back their own value.
            int end = length;
            for (int b = top; b >= 0; b--)
            {
                var v = val[b];
                for (int i = start[b]; i < end; i++) data[b0 + i * step] = v;
                end = start[b];
            }
        }
    }

    /// <summary>
    /// Algorithm 1 along dimension 0 of a path <c>[T, *S]</c>, for every pixel, returned on the input's device and
    /// dtype. On the CPU: one strided pass (<see cref="MonotoniseColumns{T}"/>) over a contiguous copy, in the copy's
    /// own memory (no managed round trip). On other devices: <see cref="MonotoniseMaxMin"/>, the same result as
    /// tensor work on the device (no host synchronisation). Supports float32 and float64.
    /// </summary>
    public static Tensor Monotonise(Tensor path)
    {
        if (path.dim() < 1) throw new ArgumentException("A path needs a time dimension: [T, *S].");
        using var scope = NewDisposeScope();
        long T = path.shape[0];
        if (path.device_type != DeviceType.CPU)
            return MonotoniseMaxMin(path.detach().reshape(1, T, -1)).reshape(path.shape).MoveToOuterDisposeScope();
        var work = CpuWorkCopy(path.detach().reshape(T, -1));
        int pixels = (int)work.shape[1];
        if (work.dtype == ScalarType.Float64) MonotoniseColumns(MemoryMarshal.Cast<byte, double>(work.bytes), (int)T, pixels);
        else MonotoniseColumns(MemoryMarshal.Cast<byte, float>(work.bytes), (int)T, pixels);
        return work.to_type(path.dtype).reshape(path.shape).MoveToOuterDisposeScope();
    }

    // A fresh contiguous CPU tensor (float64 stays float64, everything else becomes float32) holding a copy of x,
    // whose native memory the array passes may overwrite.
    static Tensor CpuWorkCopy(Tensor x)
    {
        var dt = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var work = empty(x.shape, dtype: dt, device: CPU);
        work.copy_(x);
        return work;
    }

    /// <summary>
    /// Algorithm 1 as tensor work, along dimension 1 of <paramref name="paths"/> <c>[N, T, X]</c> (N paths, T times,
    /// X pixels), on the tensor's device without host synchronisation:
    /// <c>q_i = max_{a≤i} min_{b≥i} (max p[a..b] + min p[a..b])/2</c>.
    /// <para>This max–min formula is the closed form of the block-merging sweep of <see cref="MonotoniseSequences{T}"/>:
    /// the mid-range is an internal (Cauchy) mean — the mid-range of a union of two intervals lies between their
    /// mid-ranges — and for such block values the pool-adjacent-violators sweep and the max–min formula agree (the
    /// classical isotonic-regression identity, here with the L∞ block value). Every value computed is
    /// <c>(p_u + p_v)/2</c> of two inputs, exactly as in the sweep, so the two agree bit for bit (tested on random
    /// and tie-heavy sequences). Cost O(T²·X) elementwise work with four scans; memory ~6 tensors of
    /// <c>N·T²·X</c> values (14×14×4096 floats = 3.2 MB per path).</para>
    /// </summary>
    public static Tensor MonotoniseMaxMin(Tensor paths)
    {
        if (paths.dim() != 3) throw new ArgumentException($"MonotoniseMaxMin expects paths [N,T,X]; got [{string.Join(",", paths.shape)}].");
        using var scope = NewDisposeScope();
        long T = paths.shape[1];
        var idx = arange(T, device: paths.device);
        var later = idx.unsqueeze(0).ge(idx.unsqueeze(1)).reshape(1, T, T, 1); // [a,b]: b ≥ a
        long N = paths.shape[0], X = paths.shape[2];
        var p = paths.detach().unsqueeze(1).expand(N, T, T, X);                  // [N,a,b,X] = p_b
        var hi = p.masked_fill(later.logical_not(), double.NegativeInfinity).cummax(2).values; // max p[a..b]
        var lo = p.masked_fill(later.logical_not(), double.PositiveInfinity).cummin(2).values; // min p[a..b]
        var mid = ((hi + lo) / 2).masked_fill(later.logical_not(), double.PositiveInfinity);    // f(a,b), +∞ for b < a
        var suffixMin = mid.flip(2).cummin(2).values.flip(2);                  // [a,i]: min_{b≥i} f(a,b)
        var q = suffixMin.masked_fill(later.logical_not(), double.NegativeInfinity).amax(new long[] { 1 }); // max over a ≤ i
        return q.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The running-midpoint alternative along dimension 0: <c>(max_{j≤i} p_j + min_{j≥i} p_j)/2</c>. Monotone and
    /// L∞-optimal too, pure tensor work on the path's device; unlike Algorithm 1 it also moves values away from the
    /// decreasing runs (SPEC §1.4).
    /// </summary>
    public static Tensor MonotoniseMidpoint(Tensor path)
    {
        using var scope = NewDisposeScope();
        var p = path.detach();
        var runMax = p.cummax(0).values;
        var runMinFromRight = p.flip(0).cummin(0).values.flip(0);
        return ((runMax + runMinFromRight) / 2).MoveToOuterDisposeScope();
    }

    // ---------------------------------------------------------------- constant speed (Lemma 7)

    /// <summary>Mass of each mask (Eq 2.6): <c>mean(W⊙φ_i)</c> over the mask dimensions, W of mean 1 (null = uniform). Returns <c>[T]</c>.</summary>
    public static Tensor Masses(Tensor path, Tensor? weights = null)
    {
        long T = path.shape[0];
        var f = weights is null ? path : path * weights.unsqueeze(0);
        return f.reshape(T, -1).mean(new long[] { 1 });
    }

    /// <summary>
    /// Constant-speed reparametrisation (Lemma 7, step 6(c)) of a monotone path <c>[T,*S]</c> with values in [0,1]:
    /// the path is extended by the end masks 0 and 1 (masses 0 and 1), and for each target mass m_j = t_j = j/(T+1)
    /// the result is <c>(1−η)·φ_k + η·φ_{k+1}</c> with k the last extended index whose mass is ≤ m_j and
    /// <c>η = (m_j − m_k)/(m_{k+1} − m_k)</c> ∈ [0,1). By linearity of the mass this hits m_j exactly (the closed
    /// form; no bisection), every output mask is a convex combination of neighbouring masks, and increasing targets
    /// keep the result monotone. The index search is over T+2 scalars; the interpolation is one gather per side,
    /// vectorised over pixels on the path's device.
    /// </summary>
    /// <exception cref="ArgumentException">Masses are not finite.</exception>
    public static Tensor ConstantSpeed(Tensor path, Tensor? weights = null)
    {
        using var scope = NewDisposeScope();
        int T = (int)path.shape[0];
        var p = path.detach();
        var m = Masses(p, weights).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        var ext = new double[T + 2];
        ext[0] = 0; ext[T + 1] = 1;
        for (int i = 0; i < T; i++)
        {
            if (!double.IsFinite(m[i])) throw new ArgumentException($"Mask {i} of the path has a non-finite mass ({m[i]}).");
            ext[i + 1] = m[i];
        }
        var (left, eta) = ConstantSpeedBrackets(ext, T);
        var shape = p.shape;
        var extended = cat(new[] { zeros_like(p.narrow(0, 0, 1)), p, ones_like(p.narrow(0, 0, 1)) }, 0);
        var li = tensor(left, device: p.device);
        var lo = extended.index_select(0, li);
        var hi = extended.index_select(0, li + 1);
        var bshape = new long[shape.Length]; Array.Fill(bshape, 1); bshape[0] = T;
        var e = tensor(eta, device: p.device).to_type(p.dtype).reshape(bshape);
        return (lo + e * (hi - lo)).MoveToOuterDisposeScope();
    }

    // ---------------------------------------------------------------- the full repair

    /// <summary>
    /// Step 6 of Algorithm 2 for one path <c>[T,*S]</c>: (a) monotonise every pixel along t, (b) clamp to [0,1],
    /// (c) constant-speed reparametrisation. The result satisfies Definition 1: monotone, values in [0,1],
    /// <c>mass(φ(t_i)) = t_i</c> up to rounding. Same as <see cref="RepairMany"/> with one path.
    /// </summary>
    public static Tensor Repair(Tensor path, MonotonisationMethod method = MonotonisationMethod.DescentFlattening, Tensor? weights = null)
    {
        if (path.dim() < 1) throw new ArgumentException("A path needs a time dimension: [T, *S].");
        using var scope = NewDisposeScope();
        return RepairMany(path.unsqueeze(0), method, weights).squeeze(0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Step 6 of Algorithm 2 for N paths at once, <c>[N,T,*S]</c> (all with the same mass weights <c>[*S]</c>, or
    /// null = uniform), returned on the input's device and dtype.
    /// <para>On the CPU with Algorithm 1 (the default): one copy into a contiguous CPU tensor and, per path, the strided
    /// monotonisation pass, one pass that clamps and sums the masses (double precision), one pass that interpolates
    /// the constant-speed masks row by row — all in that tensor's native memory (<see cref="RepairInPlace{T}"/>): no
    /// per-op tensor dispatch and no managed copies, which matters on a busy CPU.</para>
    /// <para>On other devices (and for the running midpoint everywhere): tensor work on the path's device with no host
    /// synchronisation — <see cref="MonotoniseMaxMin"/> (Algorithm 1, bit-identical to the sweep) or the running
    /// midpoint, clamp, and <see cref="ConstantSpeedMany"/>.</para>
    /// </summary>
    /// <exception cref="ArgumentException">Bad shape or weights; on the CPU also non-finite masses.</exception>
    public static Tensor RepairMany(Tensor paths, MonotonisationMethod method = MonotonisationMethod.DescentFlattening, Tensor? weights = null)
    {
        if (paths.dim() < 2) throw new ArgumentException($"Paths must be [N,T,*S]; got [{string.Join(",", paths.shape)}].");
        using var scope = NewDisposeScope();
        long N = paths.shape[0], T = paths.shape[1];
        var flat = paths.detach().reshape(N, T, -1);
        long X = flat.shape[2];
        if (weights is not null && weights.numel() != X)
            throw new ArgumentException($"Mass weights must have {X} entries (one per mask pixel); got [{string.Join(",", weights.shape)}].");
        if (method == MonotonisationMethod.DescentFlattening && paths.device_type == DeviceType.CPU)
        {
            var work = CpuWorkCopy(flat);
            int t = (int)T, x = (int)X;
            if (work.dtype == ScalarType.Float64)
            {
                var w = weights is null ? null : weights.detach().reshape(-1).to(ScalarType.Float64, CPU).contiguous().data<double>().ToArray();
                var all = MemoryMarshal.Cast<byte, double>(work.bytes);
                for (int n = 0; n < N; n++) RepairInPlace<double>(all.Slice(n * t * x, t * x), t, x, w);
            }
            else
            {
                var w = weights is null ? null : weights.detach().reshape(-1).to(ScalarType.Float32, CPU).contiguous().data<float>().ToArray();
                var all = MemoryMarshal.Cast<byte, float>(work.bytes);
                for (int n = 0; n < N; n++) RepairInPlace<float>(all.Slice(n * t * x, t * x), t, x, w);
            }
            return work.to_type(paths.dtype).reshape(paths.shape).MoveToOuterDisposeScope();
        }
        return RepairManyTensor(flat, method, weights).reshape(paths.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The device form of <see cref="RepairMany"/> on any device: paths <c>[N,T,X]</c>, monotonised by
    /// <see cref="MonotoniseMaxMin"/> (Algorithm 1) or the running midpoint, clamped, and reparametrised by
    /// <see cref="ConstantSpeedMany"/> — tensor work only, no host synchronisation. <see cref="RepairMany"/> uses it
    /// off the CPU; on the CPU it is slower than the array pass but gives the same path up to float rounding of the
    /// masses (tested).
    /// </summary>
    public static Tensor RepairManyTensor(Tensor paths, MonotonisationMethod method = MonotonisationMethod.DescentFlattening, Tensor? weights = null)
    {
        if (paths.dim() != 3) throw new ArgumentException($"RepairManyTensor expects paths [N,T,X]; got [{string.Join(",", paths.shape)}].");
        using var scope = NewDisposeScope();
        var flat = paths.detach();
        var mono = method == MonotonisationMethod.DescentFlattening
            ? MonotoniseMaxMin(flat)
            : flat.cummax(1).values.add(flat.flip(1).cummin(1).values.flip(1)).div(2);
        return ConstantSpeedMany(mono.clamp(0, 1), weights?.reshape(-1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Lemma 7 for N monotone paths <c>[N,T,X]</c> with values in [0,1] as tensor work on their device (no host
    /// synchronisation): masses in float64, the end masks 0 and 1 appended, and for each target
    /// <c>m_j = j/(T+1)</c> the largest extended index k with <c>mass_k ≤ m_j</c> (so <c>mass_{k+1} &gt; m_j</c>, a
    /// valid bracket even if rounding made a mass dip) and <c>(1−η)·φ_k + η·φ_{k+1}</c>,
    /// <c>η = (m_j − mass_k)/(mass_{k+1} − mass_k)</c>. Same brackets as <see cref="ConstantSpeed"/> for monotone masses.
    /// </summary>
    public static Tensor ConstantSpeedMany(Tensor paths, Tensor? weights = null)
    {
        if (paths.dim() != 3) throw new ArgumentException($"ConstantSpeedMany expects paths [N,T,X]; got [{string.Join(",", paths.shape)}].");
        using var scope = NewDisposeScope();
        long N = paths.shape[0], T = paths.shape[1], X = paths.shape[2];
        var p = paths.detach();
        var p64 = p.to_type(ScalarType.Float64);
        var masses = (weights is null ? p64 : p64 * weights.detach().to(ScalarType.Float64, p.device).reshape(1, 1, X)).mean(new long[] { 2 }); // [N,T]
        var ext = cat(new[] { zeros(N, 1, dtype: ScalarType.Float64, device: p.device), masses, ones(N, 1, dtype: ScalarType.Float64, device: p.device) }, 1); // [N,T+2]
        var targets = arange(1, T + 1, dtype: ScalarType.Float64, device: p.device) / (T + 1);                       // [T]
        var below = ext.narrow(1, 0, T + 1).unsqueeze(2).le(targets.reshape(1, 1, T));                               // [N,k,j]
        var k = (below.to_type(ScalarType.Int64) * arange(T + 1, device: p.device).reshape(1, T + 1, 1)).amax(new long[] { 1 }); // [N,T]
        var mLo = ext.gather(1, k);
        var mHi = ext.gather(1, k + 1);
        var eta = ((targets.unsqueeze(0) - mLo) / (mHi - mLo)).clamp(0, 1).to_type(p.dtype).unsqueeze(2);          // [N,T,1]
        var extended = cat(new[] { zeros_like(p.narrow(1, 0, 1)), p, ones_like(p.narrow(1, 0, 1)) }, 1);             // [N,T+2,X]
        var kx = k.unsqueeze(2).expand(N, T, X);
        var lo = extended.gather(1, kx);
        var hi = extended.gather(1, kx + 1);
        return (lo + eta * (hi - lo)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The full repair (Algorithm 1, clamp, Lemma 7) on a time-major array <c>[length, count]</c> in place, with
    /// optional mass weights <c>[count]</c> (mean 1). Masses are accumulated in double precision. The constant-speed
    /// step reads a copy of the monotonised rows from a pooled buffer (no allocation per call).
    /// </summary>
    public static void RepairInPlace<T>(Span<T> data, int length, int count, ReadOnlySpan<T> weights = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!weights.IsEmpty && weights.Length != count) throw new ArgumentException($"Mass weights must have {count} entries; got {weights.Length}.");
        if ((long)length * count != data.Length) throw new ArgumentException($"Data of {data.Length} values is not [{length},{count}].");
        MonotoniseColumns(data, length, count);
        // Clamp and masses (extended by the end masks 0 and 1).
        var ext = new double[length + 2];
        ext[length + 1] = 1;
        for (int t = 0; t < length; t++)
        {
            var row = data.Slice(t * count, count);
            double sum = 0;
            if (weights.IsEmpty)
                for (int p = 0; p < count; p++) { var v = T.Clamp(row[p], T.Zero, T.One); row[p] = v; sum += double.CreateTruncating(v); }
            else
                for (int p = 0; p < count; p++) { var v = T.Clamp(row[p], T.Zero, T.One); row[p] = v; sum += double.CreateTruncating(v * weights[p]); }
            ext[t + 1] = sum / count;
            if (!double.IsFinite(ext[t + 1])) throw new ArgumentException($"Mask {t} of the path has a non-finite mass ({ext[t + 1]}).");
        }
        var (left, eta) = ConstantSpeedBrackets(ext, length);
        var pool = System.Buffers.ArrayPool<T>.Shared;
        var buffer = pool.Rent(data.Length);
        try
        {
            var src = buffer.AsSpan(0, data.Length);
            data.CopyTo(src);
            for (int j = 0; j < length; j++)
            {
                int k = (int)left[j];
                var e = T.CreateChecked(eta[j]);
                var row = data.Slice(j * count, count);
                // ext row k: 0 for k = 0, src row k−1 otherwise; row k+1: 1 for k+1 = length+1.
                if (k == 0 && k == length) { for (int p = 0; p < count; p++) row[p] = e; }
                else if (k == 0) { var hiRow = src.Slice(0, count); for (int p = 0; p < count; p++) row[p] = e * hiRow[p]; }
                else if (k == length) { var loRow = src.Slice((k - 1) * count, count); for (int p = 0; p < count; p++) row[p] = loRow[p] + e * (T.One - loRow[p]); }
                else
                {
                    var loRow = src.Slice((k - 1) * count, count);
                    var hiRow = src.Slice(k * count, count);
                    for (int p = 0; p < count; p++) row[p] = loRow[p] + e * (hiRow[p] - loRow[p]);
                }
            }
        }
        finally { pool.Return(buffer); }
    }

    /// <summary>
    /// Lemma 7's bracket search on the extended masses <c>ext[0..T+1]</c> (ext[0] = 0, ext[T+1] = 1): for each target
    /// m_j = j/(T+1) the last index k with ext[k] ≤ m_j and <c>η = (m_j − ext[k])/(ext[k+1] − ext[k])</c>.
    /// </summary>
    static (long[] Left, double[] Eta) ConstantSpeedBrackets(double[] ext, int T)
    {
        var left = new long[T];
        var eta = new double[T];
        int k = 0;
        for (int j = 1; j <= T; j++)
        {
            double target = (double)j / (T + 1);
            // Largest k with ext[k] ≤ target; ext[T+1] = 1 > target, so k ≤ T and ext[k+1] > target ≥ ext[k].
            // Masses of a monotone path are nondecreasing, so k only moves forward (Lemma 7's "tandem" search);
            // stepping back keeps it correct even if rounding made a mass dip.
            while (k + 1 <= T && ext[k + 1] <= target) k++;
            while (k > 0 && ext[k] > target) k--;
            left[j - 1] = k;
            double d = ext[k + 1] - ext[k];
            eta[j - 1] = d > 0 ? Math.Clamp((target - ext[k]) / d, 0, 1) : 0;
        }
        return (left, eta);
    }

    // ---------------------------------------------------------------- pointwise tweaks (§2.5)

    /// <summary>
    /// Artificial saturation Π_sat (Eq 2.26): <c>½(tanh((2φ−1)ζ)/tanh(ζ) + 1)</c>. Fixpoints 0, ½, 1; identity as
    /// ζ → 0, which is returned exactly for ζ &lt; 1e-6 (the quotient would lose all precision there).
    /// </summary>
    public static Tensor Saturate(Tensor path, double zeta)
    {
        if (!double.IsFinite(zeta) || zeta < 0) throw new ArgumentException($"ζ_sat must be finite and ≥ 0; got {zeta}.", nameof(zeta));
        if (zeta < 1e-6) return path.clone();
        return ((path * 2 - 1).mul(zeta).tanh() / Math.Tanh(zeta) + 1) / 2;
    }

    /// <summary>Π_pinch(δ) = δ(1−ζ_p) + δ²ζ_p (Eq 2.29): attracts δ to 0, repels from 1.</summary>
    public static Tensor PinchFunction(Tensor delta, double zeta) => delta * (1 - zeta) + delta.square() * zeta;

    /// <summary>Boundary pinching (Eq 2.27): returns the new <c>φ↓ = φ↑ + Π_pinch(φ↓ − φ↑)</c>; φ↑ is unchanged.</summary>
    public static Tensor Pinch(Tensor up, Tensor down, double zeta)
    {
        if (zeta is < 0 or > 1) throw new ArgumentException($"ζ_p must lie in [0,1]; got {zeta}.", nameof(zeta));
        return up + PinchFunction(down - up, zeta);
    }

    /// <summary>Saturation <c>S = mean(2|φ−0.5|)</c> (Eq 2.31) over all masks and pixels.</summary>
    public static double SaturationOf(Tensor path)
    {
        using var scope = NewDisposeScope();
        return (path.detach() - 0.5).abs().mul(2).mean().to_type(ScalarType.Float64).item<double>();
    }

    /// <summary>Per-mask Gaussian regularisation (Eq 2.24) of a path <c>[T,h,w]</c> with σ in mask pixels, mixed
    /// with the unfiltered path by <paramref name="unfilteredWeight"/>. The filter is <see cref="Gaussian.Blur(Tensor, double, BlurBorder?, double)"/>
    /// with its defaults: replicate border (the masks 0 and 1 and the affine start path are fixed points; a zero border would
    /// pull masks towards 0 at the edge and break the mass of the path) and radius ⌈3σ⌉. Deviation kept on purpose: the
    /// thesis' reference code pads by reflection with a 4σ cut-off; replicate keeps a border pixel's own value, which a
    /// reflection does too to first order, and the 3σ cut-off drops 0.27 % of the kernel mass per axis; both differ only within 3σ of
    /// the border, where §2.8.3 and Fig 2.9 study the border condensation — notebook 02's Fig 2.9 cell shows it with ours.</summary>
    public static Tensor Regularise(Tensor path, double sigmaMaskPixels, double unfilteredWeight = 0)
    {
        if (path.dim() != 3) throw new ArgumentException($"Spatial regularisation needs masks [T,h,w]; got [{string.Join(",", path.shape)}].");
        if (sigmaMaskPixels <= 0) return path.clone();
        using var scope = NewDisposeScope();
        var blurred = Gaussian.Blur(path, sigmaMaskPixels);
        var r = unfilteredWeight > 0 ? blurred * (1 - unfilteredWeight) + path * unfilteredWeight : blurred;
        return r.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The per-mask Gaussian regularisation of <see cref="Regularise"/> with its axis matrices made once (on the
    /// masks' device) and reused every iteration: <c>G_h · φ · G_wᵀ</c>, mixed with the unfiltered masks by the weight.
    /// Building the matrices per call costs a host→device copy, i.e. a synchronisation, on a GPU.
    /// </summary>
    public sealed class MaskRegulariser : IDisposable
    {
        readonly GaussianOperator _blur;
        readonly double _unfilteredWeight;

        /// <param name="height">Mask rows h.</param>
        /// <param name="width">Mask columns w.</param>
        /// <param name="sigmaMaskPixels">σ in mask pixels (&gt; 0).</param>
        /// <param name="unfilteredWeight">Weight α of the unfiltered masks, in [0,1].</param>
        /// <param name="dtype">Floating dtype of the masks.</param>
        /// <param name="device">Device of the masks.</param>
        public MaskRegulariser(int height, int width, double sigmaMaskPixels, double unfilteredWeight, ScalarType dtype, Device device)
        {
            if (!(sigmaMaskPixels > 0) || !double.IsFinite(sigmaMaskPixels)) throw new ArgumentException($"σ must be finite and > 0 (mask pixels); got {sigmaMaskPixels}.", nameof(sigmaMaskPixels));
            _blur = Gaussian.Operator(height, width, sigmaMaskPixels, BlurBorder.Replicate, Gaussian.DefaultTruncate, dtype, device);
            _unfilteredWeight = unfilteredWeight;
        }

        /// <summary>Regularises masks <c>[N,h,w]</c> (differentiable).</summary>
        public Tensor Apply(Tensor masks)
        {
            using var scope = NewDisposeScope();
            var blurred = _blur.Apply(masks);
            var r = _unfilteredWeight > 0 ? blurred * (1 - _unfilteredWeight) + masks * _unfilteredWeight : blurred;
            return r.MoveToOuterDisposeScope();
        }

        /// <summary>Disposes the cached Gaussian blur matrices.</summary>
        public void Dispose() => _blur.Dispose();
    }

    /// <summary>The affine start path (Eq 2.17): every mask constant t_i = i/(T+1). Shape <c>[T,*S]</c>.</summary>
    public static Tensor Affine(int steps, long[] maskShape, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var t = Times(steps);
        var shape = new long[maskShape.Length + 1]; shape[0] = steps; maskShape.CopyTo(shape, 1);
        var bshape = new long[shape.Length]; Array.Fill(bshape, 1); bshape[0] = steps;
        var tt = tensor(t, device: device ?? CPU).to_type(dtype).reshape(bshape);
        return tt.expand(shape).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The interior times t_i = i/(T+1), i = 1..T (Eq 2.30).</summary>
    public static double[] Times(int steps) => Enumerable.Range(1, steps).Select(i => (double)i / (steps + 1)).ToArray();
}
