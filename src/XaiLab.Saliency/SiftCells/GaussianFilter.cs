using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.SiftCells;

/// <summary>
/// Separable Gaussian low-pass γ_σ ⋆ x (thesis Eq 2.25, Eq 4.2) written as two matrix products,
/// <c>Γ = B_h · X · B_wᵀ</c>, with 1-D blur matrices <c>B_n(σ)</c> of size n×n.
/// <para>
/// Boundary: half-sample symmetric reflection (…c b a | a b c … c b a | a b c…, OpenCV's <c>BORDER_REFLECT</c>,
/// scipy's <c>reflect</c>), folded repeatedly so that any σ is valid, including σ far larger than the image
/// (the top scale-space layer has σ of the order of the image size). Taps are the sampled Gaussian
/// <c>exp(−k²/2σ²)</c> for |k| ≤ ⌈6σ⌉, normalised to sum 1, so every row of B sums to exactly 1 (up to float
/// rounding): constants are preserved and the blurred indicator functions of a partition stay a partition of
/// unity (needed for Lemma 10). σ = 0 is the identity.
/// </para>
/// Matrices are cached per (n, σ, dtype, device); the cost of one blur of <c>[B,h,w]</c> is O(B·h·w·(h+w)),
/// which for the image sizes of the thesis (≤ 500 px) is cheaper on a GPU and simpler than σ-dependent
/// convolution paths.
/// </summary>
public static class GaussianFilter
{
    static readonly Dictionary<(int n, double sigma, ScalarType dtype, string device), Tensor> Cache = new();
    static readonly object Gate = new();

    /// <summary>The 1-D blur matrix <c>[n,n]</c> (row i = output sample i) in float64 on the CPU.</summary>
    /// <exception cref="ArgumentOutOfRangeException">n &lt; 1 or σ &lt; 0 or not finite.</exception>
    public static double[,] Matrix1D(int n, double sigma)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "Blur matrix size must be at least 1.");
        if (!(sigma >= 0) || double.IsInfinity(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "σ must be finite and ≥ 0.");
        var m = new double[n, n];
        if (sigma == 0) { for (int i = 0; i < n; i++) m[i, i] = 1; return m; }
        int radius = Radius(sigma);
        var taps = new double[2 * radius + 1];
        double sum = 0;
        for (int k = -radius; k <= radius; k++) sum += taps[k + radius] = Math.Exp(-0.5 * k * k / (sigma * sigma));
        for (int k = 0; k < taps.Length; k++) taps[k] /= sum;
        int period = 2 * n;
        for (int i = 0; i < n; i++)
            for (int k = -radius; k <= radius; k++)
            {
                int j = ((i + k) % period + period) % period;
                if (j >= n) j = period - 1 - j;
                m[i, j] += taps[k + radius];
            }
        return m;
    }

    /// <summary>Kernel radius ⌈6σ⌉ (the tail mass beyond 6σ is ~2e-9: negligible, and no visible jumps as σ varies).</summary>
    public static int Radius(double sigma) => (int)Math.Ceiling(6 * sigma);

    static readonly Dictionary<(int n, double sigma), float[]> FloatCache = new();

    /// <summary>The 1-D blur matrix as a row-major float array <c>[n·n]</c> (cached; for the managed crop blurs of cell indicators).</summary>
    public static float[] MatrixFloat(int n, double sigma)
    {
        var key = (n, Math.Round(sigma, 12));
        lock (Gate)
        {
            if (FloatCache.TryGetValue(key, out var f)) return f;
            var m = Matrix1D(n, sigma);
            f = new float[n * n];
            for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) f[i * n + j] = (float)m[i, j];
            if (FloatCache.Count > 256) FloatCache.Clear();
            FloatCache[key] = f;
            return f;
        }
    }

    /// <summary>The 1-D blur matrix as a tensor <c>[n,n]</c> (cached).</summary>
    public static Tensor MatrixTensor(int n, double sigma, ScalarType dtype, Device device)
    {
        var key = (n, Math.Round(sigma, 12), dtype, device.ToString());
        lock (Gate)
        {
            if (Cache.TryGetValue(key, out var t) && !t.IsInvalid) return t;
            Devices.EnsureNativeLoaded();
            var m = Matrix1D(n, sigma);
            var flat = new double[n * n];
            Buffer.BlockCopy(m, 0, flat, 0, flat.Length * sizeof(double));
            using var cpu = tensor(flat, new long[] { n, n }, ScalarType.Float64);
            var result = cpu.to(dtype, device).DetachFromDisposeScope();
            if (Cache.Count > 512) { foreach (var v in Cache.Values) v.Dispose(); Cache.Clear(); }
            Cache[key] = result;
            return result;
        }
    }

    /// <summary>
    /// γ_σ ⋆ x over the last two dimensions of <paramref name="x"/> (<c>[…,h,w]</c>, floating point), with the
    /// reflected boundary described on the class. Differentiable in x. σ in pixels of x's grid.
    /// </summary>
    /// <exception cref="ArgumentException">x has fewer than 2 dimensions or is not floating point.</exception>
    public static Tensor Blur(Tensor x, double sigma)
    {
        if (x.dim() < 2) throw new ArgumentException($"Blur expects a tensor [...,h,w]; got shape [{string.Join(",", x.shape)}].", nameof(x));
        if (!x.is_floating_point()) throw new ArgumentException($"Blur expects a floating-point tensor; got {x.dtype}.", nameof(x));
        if (sigma == 0) return x.clone();
        int h = (int)x.shape[^2], w = (int)x.shape[^1];
        var bh = MatrixTensor(h, sigma, x.dtype, x.device);
        var bw = MatrixTensor(w, sigma, x.dtype, x.device);
        using var rows = matmul(bh, x);
        return matmul(rows, bw.t());
    }
}
