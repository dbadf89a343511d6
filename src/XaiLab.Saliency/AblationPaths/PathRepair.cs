using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

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
    /// layout of a contiguous path <c>[T,*S]</c>), every column p in place. Same algorithm as
    /// <see cref="MonotoniseSequences{T}"/>; reading the columns with a stride avoids two transposing copies.
    /// </summary>
    public static void MonotoniseColumns<T>(Span<T> data, int length, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (length < 1 || count < 0 || (long)length * count != data.Length)
            throw new ArgumentException($"Data of {data.Length} values is not [{length},{count}].");
        Monotonise(data, length, count, 1, count);
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
    /// Algorithm 1 along dimension 0 of a path <c>[T, *S]</c>, for every pixel: one pass over the contiguous
    /// time-major values on the CPU (<see cref="MonotoniseColumns{T}"/>; a GPU path is copied there and back, ~T·|S|
    /// values, negligible next to a classifier pass), returned on the input's device and dtype.
    /// Supports float32 and float64.
    /// </summary>
    public static Tensor Monotonise(Tensor path)
    {
        if (path.dim() < 1) throw new ArgumentException("A path needs a time dimension: [T, *S].");
        using var scope = NewDisposeScope();
        long T = path.shape[0];
        var flat = path.detach().reshape(T, -1).contiguous().cpu();
        int pixels = (int)flat.shape[1];
        Tensor result;
        if (path.dtype == ScalarType.Float64)
        {
            var a = flat.data<double>().ToArray();
            MonotoniseColumns<double>(a, (int)T, pixels);
            result = tensor(a, flat.shape);
        }
        else
        {
            var a = flat.to_type(ScalarType.Float32).data<float>().ToArray();
            MonotoniseColumns<float>(a, (int)T, pixels);
            result = tensor(a, flat.shape).to_type(path.dtype);
        }
        return result.reshape(path.shape).to(path.device).MoveToOuterDisposeScope();
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
    /// <c>mass(φ(t_i)) = t_i</c> up to rounding.
    /// <para>With Algorithm 1 (the default) the whole repair is one copy of the path to a CPU array, the strided
    /// monotonisation pass, one pass that clamps and sums the masses, one pass that interpolates the constant-speed
    /// masks row by row, and one copy back (<see cref="RepairInPlace{T}"/>): no per-op tensor dispatch, which matters
    /// on a busy CPU. With the running midpoint everything stays tensor work on the path's device.</para>
    /// </summary>
    public static Tensor Repair(Tensor path, MonotonisationMethod method = MonotonisationMethod.DescentFlattening, Tensor? weights = null)
    {
        using var scope = NewDisposeScope();
        if (method == MonotonisationMethod.RunningMidpoint)
            return ConstantSpeed(MonotoniseMidpoint(path).clamp(0, 1), weights).MoveToOuterDisposeScope();
        long T = path.shape[0];
        var flat = path.detach().reshape(T, -1).contiguous().cpu();
        int pixels = (int)flat.shape[1];
        Tensor result;
        if (path.dtype == ScalarType.Float64)
        {
            var a = flat.data<double>().ToArray();
            var w = weights?.detach().reshape(-1).cpu().to_type(ScalarType.Float64).data<double>().ToArray();
            RepairInPlace<double>(a, (int)T, pixels, w);
            result = tensor(a, flat.shape);
        }
        else
        {
            var a = flat.to_type(ScalarType.Float32).data<float>().ToArray();
            var w = weights?.detach().reshape(-1).cpu().to_type(ScalarType.Float32).data<float>().ToArray();
            RepairInPlace<float>(a, (int)T, pixels, w);
            result = tensor(a, flat.shape).to_type(path.dtype);
        }
        return result.reshape(path.shape).to(path.device).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The full repair (Algorithm 1, clamp, Lemma 7) on a time-major array <c>[length, count]</c> in place, with
    /// optional mass weights <c>[count]</c> (mean 1). Masses are accumulated in double precision.
    /// </summary>
    public static void RepairInPlace<T>(Span<T> data, int length, int count, ReadOnlySpan<T> weights = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!weights.IsEmpty && weights.Length != count) throw new ArgumentException($"Mass weights must have {count} entries; got {weights.Length}.");
        MonotoniseColumns(data, length, count);
        // Clamp and masses (extended by the end masks 0 and 1).
        var ext = new double[length + 2];
        ext[length + 1] = 1;
        for (int t = 0; t < length; t++)
        {
            var row = data.Slice(t * count, count);
            double sum = 0;
            for (int p = 0; p < count; p++)
            {
                var v = T.Clamp(row[p], T.Zero, T.One);
                row[p] = v;
                sum += weights.IsEmpty ? double.CreateChecked(v) : double.CreateChecked(v * weights[p]);
            }
            ext[t + 1] = sum / count;
            if (!double.IsFinite(ext[t + 1])) throw new ArgumentException($"Mask {t} of the path has a non-finite mass ({ext[t + 1]}).");
        }
        var (left, eta) = ConstantSpeedBrackets(ext, length);
        var src = data.ToArray();
        for (int j = 0; j < length; j++)
        {
            int k = (int)left[j];
            var e = T.CreateChecked(eta[j]);
            var row = data.Slice(j * count, count);
            // ext row k: 0 for k = 0, src row k−1 otherwise; row k+1: 1 for k+1 = length+1.
            for (int p = 0; p < count; p++)
            {
                T lo = k == 0 ? T.Zero : src[(k - 1) * count + p];
                T hi = k == length ? T.One : src[k * count + p];
                row[p] = lo + e * (hi - lo);
            }
        }
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
    /// with the unfiltered path by <paramref name="unfilteredWeight"/>.</summary>
    public static Tensor Regularise(Tensor path, double sigmaMaskPixels, double unfilteredWeight = 0)
    {
        if (path.dim() != 3) throw new ArgumentException($"Spatial regularisation needs masks [T,h,w]; got [{string.Join(",", path.shape)}].");
        if (sigmaMaskPixels <= 0) return path.clone();
        using var scope = NewDisposeScope();
        var blurred = GaussianFilter.Blur(path.unsqueeze(1), sigmaMaskPixels).squeeze(1);
        var r = unfilteredWeight > 0 ? blurred * (1 - unfilteredWeight) + path * unfilteredWeight : blurred;
        return r.MoveToOuterDisposeScope();
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
