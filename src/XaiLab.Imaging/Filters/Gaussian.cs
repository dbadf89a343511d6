using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Filters;

/// <summary>How a filter extends a signal of length n beyond its ends (sample index i ∉ [0, n−1]).</summary>
public enum BorderMode
{
    /// <summary>Repeat the edge sample: <c>… a a | a b c … x y z | z z …</c> (constants and the masks 0/1 stay fixed).</summary>
    Replicate,
    /// <summary>Half-sample symmetric reflection <c>… c b a | a b c … z | z y …</c> (scipy <c>reflect</c>, OpenCV <c>BORDER_REFLECT</c>), folded repeatedly so any kernel radius is valid.</summary>
    Reflect,
    /// <summary>Whole-sample reflection without repeating the edge <c>… c b | a b c … y z | y x …</c> (OpenCV <c>BORDER_REFLECT_101</c>, its default), folded repeatedly.</summary>
    Reflect101,
    /// <summary>A constant outside the signal (<see cref="BlurBorder.Values"/>; zero for <see cref="BlurBorder.Zero"/>).</summary>
    Constant,
}

/// <summary>
/// A border rule for <see cref="Gaussian"/>: a <see cref="BorderMode"/> and, for <see cref="BorderMode.Constant"/>,
/// the value outside the image (one for all channels, or one per channel). Immutable.
/// </summary>
public sealed class BlurBorder
{
    readonly double[] _values;

    BlurBorder(BorderMode mode, double[] values) { Mode = mode; _values = values; }

    /// <summary>The border mode.</summary>
    public BorderMode Mode { get; }

    /// <summary>The constant(s) outside the image for <see cref="BorderMode.Constant"/>: one value for all channels or one per channel; empty otherwise.</summary>
    public IReadOnlyList<double> Values => _values;

    /// <summary>Repeat the edge pixel.</summary>
    public static BlurBorder Replicate { get; } = new(BorderMode.Replicate, Array.Empty<double>());

    /// <summary>Half-sample symmetric reflection (<see cref="BorderMode.Reflect"/>).</summary>
    public static BlurBorder Reflect { get; } = new(BorderMode.Reflect, Array.Empty<double>());

    /// <summary>Reflection about the edge sample (<see cref="BorderMode.Reflect101"/>, OpenCV's default).</summary>
    public static BlurBorder Reflect101 { get; } = new(BorderMode.Reflect101, Array.Empty<double>());

    /// <summary>Zeros outside the image (mass does not leak in from outside).</summary>
    public static BlurBorder Zero { get; } = new(BorderMode.Constant, new[] { 0.0 });

    /// <summary>The constant <paramref name="value"/> outside the image, in every channel.</summary>
    /// <exception cref="ArgumentException">The value is not finite.</exception>
    public static BlurBorder Constant(double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"A constant border needs a finite value; got {value}.", nameof(value));
        return value == 0 ? Zero : new(BorderMode.Constant, new[] { value });
    }

    /// <summary>One constant per channel outside the image (e.g. the model's mean colour); the blurred tensor's channel axis (<c>dim −3</c>) must have that length.</summary>
    /// <exception cref="ArgumentException">No values, or a value is not finite.</exception>
    public static BlurBorder Constant(IReadOnlyList<float> perChannel)
    {
        if (perChannel is null || perChannel.Count == 0) throw new ArgumentException("A per-channel constant border needs at least one value.", nameof(perChannel));
        var v = perChannel.Select(f => (double)f).ToArray();
        if (v.Any(d => !double.IsFinite(d))) throw new ArgumentException("A per-channel constant border needs finite values.", nameof(perChannel));
        return new(BorderMode.Constant, v);
    }

    /// <summary>
    /// The sample that index <paramref name="i"/> of a signal of length <paramref name="n"/> reads under this border,
    /// or −1 when it lies outside and the border is constant.
    /// </summary>
    public int Index(int i, int n)
    {
        if ((uint)i < (uint)n) return i;
        switch (Mode)
        {
            case BorderMode.Replicate: return i < 0 ? 0 : n - 1;
            case BorderMode.Reflect:
            {
                int period = 2 * n;
                int j = ((i % period) + period) % period;
                return j < n ? j : period - 1 - j;
            }
            case BorderMode.Reflect101:
            {
                if (n == 1) return 0;
                int period = 2 * n - 2;
                int j = ((i % period) + period) % period;
                return j < n ? j : period - j;
            }
            default: return -1;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Mode == BorderMode.Constant ? $"Constant({string.Join(", ", _values)})" : Mode.ToString();
}

/// <summary>
/// An immutable, normalised 1-D Gaussian kernel: taps <c>k_j ∝ exp(−j²/2σ²)</c> for |j| ≤ <see cref="Radius"/>, summing to 1.
/// </summary>
public sealed class GaussianKernel
{
    readonly double[] _taps;

    GaussianKernel(double sigma, int radius, double[] taps, string rule) { Sigma = sigma; Radius = radius; _taps = taps; Rule = rule; }

    /// <summary>Standard deviation in samples.</summary>
    public double Sigma { get; }

    /// <summary>Radius r: the kernel has 2r+1 taps, index j ∈ [−r, r] at position j + r.</summary>
    public int Radius { get; }

    /// <summary>The taps, centre at index <see cref="Radius"/>.</summary>
    public IReadOnlyList<double> Taps => _taps;

    /// <summary>How the radius and taps were chosen (for messages), e.g. <c>truncate 3σ</c> or <c>OpenCV</c>.</summary>
    public string Rule { get; }

    /// <summary>
    /// The sampled Gaussian truncated at <c>r = ⌈truncate·σ⌉</c> (≥ 1 for σ &gt; 0) and renormalised to sum 1
    /// (kornia / scipy convention: <paramref name="truncate"/> is in units of σ).
    /// </summary>
    /// <exception cref="ArgumentException">σ or truncate is not finite and &gt; 0.</exception>
    public static GaussianKernel Sampled(double sigma, double truncate = Gaussian.DefaultTruncate)
    {
        if (!(sigma > 0) || !double.IsFinite(sigma)) throw new ArgumentException($"Gaussian σ must be finite and > 0; got {sigma}.", nameof(sigma));
        if (!(truncate > 0) || !double.IsFinite(truncate)) throw new ArgumentException($"Gaussian truncate (kernel radius in σ) must be finite and > 0; got {truncate}.", nameof(truncate));
        int r = Math.Max(1, (int)Math.Ceiling(truncate * sigma));
        var k = new double[2 * r + 1];
        double sum = 0;
        for (int j = -r; j <= r; j++) sum += k[j + r] = Math.Exp(-0.5 * j * j / (sigma * sigma));
        for (int j = 0; j < k.Length; j++) k[j] /= sum;
        return new GaussianKernel(sigma, r, k, $"truncate {truncate}σ");
    }

    /// <summary>
    /// OpenCV's kernel for <c>cv::GaussianBlur</c> on float images with ksize = 0: size <c>round(8σ+1) | 1</c>
    /// (odd; radius ≈ 4σ rounded), sampled taps normalised in double and then rounded to float32, as
    /// <c>cv::getGaussianKernel(ksize, σ, CV_32F)</c>. Only for agreement with OpenCV (the SIFT detector, §4.1.2).
    /// </summary>
    /// <exception cref="ArgumentException">σ is not finite and &gt; 0.</exception>
    public static GaussianKernel OpenCv(double sigma)
    {
        if (!(sigma > 0) || !double.IsFinite(sigma)) throw new ArgumentException($"Gaussian σ must be finite and > 0; got {sigma}.", nameof(sigma));
        int ksize = ((int)Math.Round(sigma * 8 + 1)) | 1;
        int r = ksize / 2;
        var kd = new double[ksize];
        double sum = 0;
        for (int i = 0; i < ksize; i++) { double x = i - r; sum += kd[i] = Math.Exp(-x * x / (2 * sigma * sigma)); }
        for (int i = 0; i < ksize; i++) kd[i] = (float)(kd[i] / sum);
        return new GaussianKernel(sigma, r, kd, "OpenCV");
    }

    /// <summary>A fresh copy of the taps.</summary>
    public double[] ToArray() => (double[])_taps.Clone();
}

/// <summary>
/// The one Gaussian low-pass <c>γ_σ ⋆ x</c> of XaiLab (thesis Eq 2.25; Eq 4.2 for the scale space), separable, over the
/// last two dimensions: <c>[H,W]</c>, <c>[C,H,W]</c>, <c>[N,C,H,W]</c> or any <c>[…,H,W]</c> floating-point tensor.
/// <para>
/// Each axis is filtered by an <c>n×n</c> matrix <c>B_n</c> whose row i holds the kernel taps of output i, with taps that
/// fall outside the signal moved to the sample the <see cref="BlurBorder"/> maps them to (dropped for a constant border,
/// whose value is added back exactly: <c>γ⋆x = B_h·(x−c)·B_wᵀ + c</c>). So <c>γ_σ ⋆ x = B_h · x · B_wᵀ</c>: exact padded
/// convolution at a cost independent of σ, valid for any σ (also σ far larger than the image) and differentiable in x.
/// σ = 0 is the identity (a copy). Kernel radius <c>⌈truncate·σ⌉</c> (σ units, as kornia/scipy), default 3σ.
/// </para>
/// <para>
/// Caching: the axis matrices of the tensor blurs are kept in a bounded internal cache (one per length, kernel, border,
/// dtype and device). They never leave this class and are never disposed by it — an evicted matrix is freed by the
/// garbage collector once no blur in flight uses it — so no caller can see a tensor disposed under it. A caller who
/// blurs the same shape many times can own its matrices instead with <see cref="Operator"/>.
/// </para>
/// <example>
/// <code>
/// using XaiLab.Imaging.Filters;
/// var image = torch.rand(3, 64, 64);                                          // [C,H,W]
/// var soft = Gaussian.Blur(image, 2.0);                                       // replicate border, radius ⌈3σ⌉ = 6
/// var scale = Gaussian.Blur(image, 2.0, BlurBorder.Reflect, truncate: 6);     // the SIFT scale space's filter
/// var masks = Gaussian.Blur(torch.rand(8, 1, 32, 32), 1.5, BlurBorder.Zero, 4); // [N,C,H,W], zeros outside
/// double[] taps = Gaussian.Kernel1D(2.0);                                      // 13 taps summing to 1
/// </code>
/// </example>
/// </summary>
public static class Gaussian
{
    /// <summary>The default kernel radius in units of σ (3σ: the tail beyond holds 0.27 % of the mass).</summary>
    public const double DefaultTruncate = 3;

    /// <summary>TorchRay's <c>imsmooth</c> radius ⌈4σ⌉ (the TorchRay reference methods: Extremal Perturbation, gradient smoothing).</summary>
    public const double TorchRayTruncate = 4;

    /// <summary>The scale-space radius ⌈6σ⌉ of the SIFT feature cells (tail mass ~2e-9: no visible jumps as σ varies, §4.2).</summary>
    public const double ScaleSpaceTruncate = 6;

    /// <summary>The kernel radius ⌈truncate·σ⌉ of <see cref="GaussianKernel.Sampled"/> (0 for σ = 0, ≥ 1 otherwise).</summary>
    /// <exception cref="ArgumentException">σ negative or not finite, or truncate not finite and &gt; 0.</exception>
    public static int Radius(double sigma, double truncate = DefaultTruncate)
    {
        CheckSigma(sigma);
        return sigma == 0 ? 0 : GaussianKernel.Sampled(sigma, truncate).Radius;
    }

    /// <summary>The normalised 1-D kernel <c>[2r+1]</c>, r = ⌈truncate·σ⌉ (a fresh array; see <see cref="GaussianKernel.Sampled"/>).</summary>
    /// <exception cref="ArgumentException">σ or truncate is not finite and &gt; 0.</exception>
    public static double[] Kernel1D(double sigma, double truncate = DefaultTruncate) => GaussianKernel.Sampled(sigma, truncate).ToArray();

    /// <summary>
    /// The blur of one axis of length <paramref name="n"/> as a matrix <c>[n,n]</c> in float64 (row i = output i): each tap
    /// is added to the column its index maps to under <paramref name="border"/>; taps outside a constant border are dropped.
    /// Rows sum to 1 except near a constant border. A fresh array the caller owns.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">n &lt; 1.</exception>
    public static double[,] AxisMatrix(int n, GaussianKernel kernel, BlurBorder border)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "A blur axis needs at least 1 sample.");
        ArgumentNullException.ThrowIfNull(kernel); ArgumentNullException.ThrowIfNull(border);
        var m = new double[n, n];
        int r = kernel.Radius;
        var taps = kernel.Taps;
        for (int i = 0; i < n; i++)
            for (int d = -r; d <= r; d++)
            {
                int j = border.Index(i + d, n);
                if (j >= 0) m[i, j] += taps[d + r];
            }
        return m;
    }

    /// <summary><see cref="AxisMatrix(int, GaussianKernel, BlurBorder)"/> for σ (0 = identity) and a truncation in σ units.</summary>
    public static double[,] AxisMatrix(int n, double sigma, BlurBorder border, double truncate = DefaultTruncate)
    {
        CheckSigma(sigma);
        if (sigma == 0)
        {
            if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "A blur axis needs at least 1 sample.");
            var id = new double[n, n];
            for (int i = 0; i < n; i++) id[i, i] = 1;
            return id;
        }
        return AxisMatrix(n, GaussianKernel.Sampled(sigma, truncate), border);
    }

    /// <summary>The axis matrix as a fresh row-major float array <c>[n·n]</c> (for managed filters, e.g. crop blurs of cell indicators).</summary>
    public static float[] AxisMatrixFloat(int n, double sigma, BlurBorder border, double truncate = DefaultTruncate)
    {
        var m = AxisMatrix(n, sigma, border, truncate);
        var f = new float[n * n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) f[i * n + j] = (float)m[i, j];
        return f;
    }

    /// <summary>
    /// <c>γ_σ ⋆ x</c> over the last two dimensions of <paramref name="x"/> (<c>[…,H,W]</c>, floating point) with σ in pixels
    /// of x, the given border (default <see cref="BlurBorder.Replicate"/>) and radius <c>⌈truncate·σ⌉</c>. σ = 0 returns a copy.
    /// Differentiable in x; the result has x's shape, dtype and device.
    /// </summary>
    /// <exception cref="ArgumentException">x has fewer than 2 dimensions or is not floating point; σ is negative or not finite;
    /// a per-channel constant border does not match the channel axis (<c>dim −3</c>).</exception>
    public static Tensor Blur(Tensor x, double sigma, BlurBorder? border = null, double truncate = DefaultTruncate)
    {
        CheckTensor(x);
        CheckSigma(sigma);
        border ??= BlurBorder.Replicate;
        if (sigma == 0) return x.clone();
        return Blur(x, GaussianKernel.Sampled(sigma, truncate), border);
    }

    /// <summary><c>γ ⋆ x</c> with an explicit kernel (e.g. <see cref="GaussianKernel.OpenCv"/>); otherwise as <see cref="Blur(Tensor, double, BlurBorder?, double)"/>.</summary>
    public static Tensor Blur(Tensor x, GaussianKernel kernel, BlurBorder border)
    {
        CheckTensor(x);
        ArgumentNullException.ThrowIfNull(kernel); ArgumentNullException.ThrowIfNull(border);
        using var scope = NewDisposeScope();
        int h = (int)x.shape[^2], w = (int)x.shape[^1];
        var bh = Cached(h, kernel, border, x.dtype, x.device);
        var bw = Cached(w, kernel, border, x.dtype, x.device);
        return Apply(x, bh, bw, ConstantOffset(x, border)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A blur of fixed size <c>H×W</c>, σ, border and dtype/device whose axis matrices the caller owns (made once, reused by
    /// every <see cref="GaussianOperator.Apply"/>: no host→device copy per call). Dispose it when done.
    /// </summary>
    public static GaussianOperator Operator(int height, int width, double sigma, BlurBorder? border = null, double truncate = DefaultTruncate,
        ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        new(height, width, sigma, border ?? BlurBorder.Replicate, truncate, dtype, device ?? CPU);

    /// <summary>
    /// Blurs a managed row-major float image <c>[h·w]</c> with <paramref name="kernel"/> (rows first, then columns) in float32
    /// arithmetic, summing taps in kernel order — the order of OpenCV's separable filter, so results agree with
    /// <c>cv::GaussianBlur</c> to float rounding. A fresh array. Constant borders are not supported here.
    /// </summary>
    /// <exception cref="ArgumentException">The data is not <c>w·h</c> long, or the border is constant.</exception>
    public static float[] BlurPlane(float[] data, int width, int height, GaussianKernel kernel, BlurBorder border)
    {
        ArgumentNullException.ThrowIfNull(data); ArgumentNullException.ThrowIfNull(kernel); ArgumentNullException.ThrowIfNull(border);
        if (width < 1 || height < 1 || data.Length != width * height)
            throw new ArgumentException($"BlurPlane expects {width}×{height} = {width * height} samples; got {data.Length}.", nameof(data));
        if (border.Mode == BorderMode.Constant) throw new ArgumentException("BlurPlane supports replicate and reflecting borders only.", nameof(border));
        int r = kernel.Radius, ksize = 2 * r + 1, w = width, h = height;
        var kern = kernel.Taps.Select(t => (float)t).ToArray();
        var tmp = new float[w * h];
        var outp = new float[w * h];
        var xi = new int[w + 2 * r];
        for (int i = 0; i < xi.Length; i++) xi[i] = border.Index(i - r, w);
        Parallel.For(0, h, y =>
        {
            int row = y * w;
            for (int x = 0; x < w; x++)
            {
                float s = 0;
                for (int t = 0; t < ksize; t++) s += kern[t] * data[row + xi[x + t]];
                tmp[row + x] = s;
            }
        });
        var yi = new int[h + 2 * r];
        for (int i = 0; i < yi.Length; i++) yi[i] = border.Index(i - r, h);
        Parallel.For(0, h, y =>
        {
            for (int x = 0; x < w; x++)
            {
                float s = 0;
                for (int t = 0; t < ksize; t++) s += kern[t] * tmp[yi[y + t] * w + x];
                outp[y * w + x] = s;
            }
        });
        return outp;
    }

    internal static Tensor Apply(Tensor x, Tensor bh, Tensor bw, Tensor? offset)
    {
        var y = offset is null ? x : x - offset;
        y = matmul(matmul(bh, y), bw.t());
        return offset is null ? y : y + offset;
    }

    /// <summary>The constant c of a constant border as a tensor broadcastable against x (null when c = 0 or the border is not constant).</summary>
    internal static Tensor? ConstantOffset(Tensor x, BlurBorder border)
    {
        if (border.Mode != BorderMode.Constant) return null;
        var v = border.Values;
        if (v.Count == 1) return v[0] == 0 ? null : tensor(v[0], dtype: x.dtype, device: x.device);
        if (x.dim() < 3 || x.shape[^3] != v.Count)
            throw new ArgumentException($"A per-channel constant border with {v.Count} values needs a channel axis of that length at dim −3; got shape [{string.Join(",", x.shape)}].");
        return tensor(v.ToArray(), new long[] { v.Count, 1, 1 }, dtype: x.dtype, device: x.device);
    }

    internal static Tensor MatrixTensor(double[,] m, ScalarType dtype, Device device)
    {
        int n = m.GetLength(0);
        var flat = new double[n * n];
        Buffer.BlockCopy(m, 0, flat, 0, flat.Length * sizeof(double));
        using var cpu = tensor(flat, new long[] { n, n }, ScalarType.Float64);
        return cpu.to(dtype, device).DetachFromDisposeScope();
    }

    const int CacheLimit = 128;
    static readonly ConcurrentDictionary<(int n, double sigma, int radius, string rule, BorderMode mode, ScalarType dtype, string device), Tensor> Matrices = new();

    static Tensor Cached(int n, GaussianKernel kernel, BlurBorder border, ScalarType dtype, Device device)
    {
        var key = (n, kernel.Sigma, kernel.Radius, kernel.Rule, border.Mode, dtype, device.ToString());
        if (Matrices.TryGetValue(key, out var t)) return t;
        Devices.EnsureNativeLoaded();
        t = MatrixTensor(AxisMatrix(n, kernel, border), dtype, device);
        // Eviction only drops references: a blur in flight keeps its matrix alive, the GC frees it afterwards.
        if (Matrices.Count >= CacheLimit) Matrices.Clear();
        return Matrices.GetOrAdd(key, t);
    }

    static void CheckTensor(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() < 2) throw new ArgumentException($"Gaussian.Blur expects a tensor [...,H,W]; got shape [{string.Join(",", x.shape)}].", nameof(x));
        if (!x.is_floating_point()) throw new ArgumentException($"Gaussian.Blur expects a floating-point tensor; got {x.dtype}.", nameof(x));
    }

    static void CheckSigma(double sigma)
    {
        if (!(sigma >= 0) || double.IsInfinity(sigma)) throw new ArgumentException($"Gaussian σ must be finite and ≥ 0 (0 = no blur); got {sigma}.", nameof(sigma));
    }
}

/// <summary>
/// A Gaussian blur of fixed size whose axis matrices are owned by this object (see <see cref="Gaussian.Operator"/>):
/// <c>Apply(x) = B_h · x · B_wᵀ</c> (plus the constant of a constant border) on <c>[…,H,W]</c>.
/// </summary>
public sealed class GaussianOperator : IDisposable
{
    readonly Tensor _bh, _bw;
    readonly BlurBorder _border;

    internal GaussianOperator(int height, int width, double sigma, BlurBorder border, double truncate, ScalarType dtype, Device device)
    {
        Devices.EnsureNativeLoaded();
        Height = height; Width = width; Sigma = sigma; _border = border;
        _bh = Gaussian.MatrixTensor(Gaussian.AxisMatrix(height, sigma, border, truncate), dtype, device);
        _bw = width == height ? _bh.alias().DetachFromDisposeScope() : Gaussian.MatrixTensor(Gaussian.AxisMatrix(width, sigma, border, truncate), dtype, device);
    }

    /// <summary>Rows H the operator filters.</summary>
    public int Height { get; }

    /// <summary>Columns W the operator filters.</summary>
    public int Width { get; }

    /// <summary>σ in pixels.</summary>
    public double Sigma { get; }

    /// <summary>Blurs <paramref name="x"/> <c>[…,H,W]</c> (differentiable).</summary>
    /// <exception cref="ArgumentException">The last two dimensions are not H×W.</exception>
    public Tensor Apply(Tensor x)
    {
        if (x.dim() < 2 || x.shape[^2] != Height || x.shape[^1] != Width)
            throw new ArgumentException($"This Gaussian operator filters [...,{Height},{Width}]; got [{string.Join(",", x.shape)}].", nameof(x));
        using var scope = NewDisposeScope();
        return Gaussian.Apply(x, _bh, _bw, Gaussian.ConstantOffset(x, _border)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose() { _bh.Dispose(); _bw.Dispose(); }
}
