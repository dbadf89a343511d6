using TorchSharp;
using TorchSharp.Modules;
using XaiLab.Imaging;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace XaiLab.Denoising;

/// <summary>Which denoiser architecture.</summary>
public enum DenoiserKind { Cartesian, Spiral }

/// <summary>
/// Architecture options shared by both denoisers (thesis §7.3.3: "fairly simplistic standard ones, with ReLU
/// activation between the convolutions and batch-normalisation"). Defaults: 5 convolutions, 32 channels, 3×3 kernels
/// (for the spiral net: a 3-row ribbon, 3 samples along the spiral).
/// </summary>
public sealed record DenoiserOptions
{
    /// <summary>Number of convolutions (≥ 1; default 5). Between two convolutions: batch norm, then ReLU.</summary>
    public int Depth { get; init; } = 5;
    /// <summary>Hidden channels (default 32).</summary>
    public int Width { get; init; } = 32;
    /// <summary>Kernel side (odd; default 3). For the spiral net it is both the ribbon rows and the extent along the spiral.</summary>
    public int KernelSize { get; init; } = 3;
    /// <summary>Spiral windings n_wind (spiral net only; default image size / 2, i.e. about one winding per pixel of radius).</summary>
    public int? Windings { get; init; }

    internal void Check()
    {
        if (Depth < 1) throw new ArgumentException($"Depth must be ≥ 1, got {Depth}.");
        if (Width < 1) throw new ArgumentException($"Width must be ≥ 1, got {Width}.");
        if (KernelSize < 1 || KernelSize % 2 == 0) throw new ArgumentException($"KernelSize must be odd and ≥ 1, got {KernelSize}.");
    }
}

/// <summary>Creates denoisers; both map noisy images <c>[B,1,n,n]</c> to estimates of the clean image <c>[B,1,n,n]</c>.</summary>
public static class Denoisers
{
    public static Module<Tensor, Tensor> Create(DenoiserKind kind, int imageSize, DenoiserOptions? options = null) => kind switch
    {
        DenoiserKind.Cartesian => new CartesianDenoiser(options ?? new()),
        DenoiserKind.Spiral => new SpiralDenoiser(imageSize, options ?? new()),
        _ => throw new ArgumentException($"Unknown denoiser kind {kind}."),
    };

    /// <summary>Parses "cartesian" or "spiral" (case-insensitive).</summary>
    public static DenoiserKind ParseKind(string name) => name.Trim().ToLowerInvariant() switch
    {
        "cartesian" => DenoiserKind.Cartesian,
        "spiral" => DenoiserKind.Spiral,
        _ => throw new ArgumentException($"Unknown net '{name}': expected 'cartesian' or 'spiral'."),
    };

    // Module's constructor already calls into libtorch, so native loading must happen in the base-constructor argument.
    internal static string Named(string name)
    {
        Devices.EnsureNativeLoaded();
        return name;
    }

    internal static void CheckInput(Tensor x, int? size = null)
    {
        if (x.dim() != 4 || x.shape[1] != 1 || x.shape[2] != x.shape[3] || (size is int n && x.shape[2] != n))
            throw new ArgumentException($"Expected noisy images [B,1,n,n]{(size is int m ? $" with n = {m}" : "")}, got [{string.Join(",", x.shape)}].");
    }
}

/// <summary>
/// The Cartesian baseline (thesis §7.4): a plain CNN of <c>Depth</c> same-padded k×k convolutions, batch norm + ReLU
/// between them, predicting the clean image directly. Translation-equivariant, not rotation-equivariant.
/// </summary>
public sealed class CartesianDenoiser : Module<Tensor, Tensor>
{
    readonly Sequential body;

    public CartesianDenoiser(DenoiserOptions options) : base(Denoisers.Named(nameof(CartesianDenoiser)))
    {
        options.Check();
        Devices.EnsureNativeLoaded();
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        int k = options.KernelSize, c = 1;
        for (int l = 0; l < options.Depth; l++)
        {
            int o = l == options.Depth - 1 ? 1 : options.Width;
            layers.Add(($"conv{l}", Conv2d(c, o, k, padding: k / 2)));
            if (l < options.Depth - 1)
            {
                layers.Add(($"bn{l}", BatchNorm2d(o)));
                layers.Add(($"relu{l}", ReLU()));
            }
            c = o;
        }
        body = Sequential(layers);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        Denoisers.CheckInput(x);
        return body.forward(x);
    }
}

/// <summary>
/// The spiral CNN (thesis §7.3, Figs 7.3–7.5). Every layer resamples its input onto the spiral ribbon
/// (<see cref="SpiralSampling.Ribbon"/>, <c>k × n_spls</c>) with a fixed sparse barycentric matrix (Delaunay
/// triangulation of the previous layer's sample points — the pixel centres for the first layer, the spiral after),
/// then applies an ordinary conv2d with a <c>k×k</c> kernel, *valid* across the ribbon's width and zero-padded along
/// the spiral, so that the result lives on the <c>1 × n_spls</c> spiral again. Batch norm and ReLU between layers;
/// the last layer's single channel is resampled from the spiral back to the pixel grid. All geometry is precomputed
/// (§7.3.3); the sparse matrices are not parameters and are rebuilt from the options when a model is created.
/// </summary>
public sealed class SpiralDenoiser : Module<Tensor, Tensor>
{
    readonly ModuleList<Conv2d> convs;
    readonly ModuleList<BatchNorm1d> norms;
    readonly int rows, size;
    readonly SparseResampling gridToRibbon, spiralToRibbon, spiralToGrid;
    readonly Dictionary<string, (Tensor G2R, Tensor S2R, Tensor S2G)> onDevice = new();

    /// <summary>The spiral sampling the net works on.</summary>
    public SpiralSampling Spiral { get; }
    /// <summary>Diagnostics of the three precomputed resampling matrices (size, non-zeros, targets outside the hull).</summary>
    public IReadOnlyList<SparseResampling> Resamplings => [gridToRibbon, spiralToRibbon, spiralToGrid];

    public SpiralDenoiser(int imageSize, DenoiserOptions options) : base(Denoisers.Named(nameof(SpiralDenoiser)))
    {
        options.Check();
        if (imageSize < 8) throw new ArgumentException($"imageSize must be ≥ 8, got {imageSize}.");
        Devices.EnsureNativeLoaded();
        size = imageSize;
        rows = options.KernelSize;
        Spiral = options.Windings is int w ? new SpiralSampling(w) : SpiralSampling.ForImage(imageSize);
        var (gx, gy) = PixelGrid(imageSize);
        var (rx, ry) = Spiral.Ribbon(rows);
        gridToRibbon = BarycentricResampler.Build(gx, gy, rx, ry);
        spiralToRibbon = BarycentricResampler.Build(Spiral.X, Spiral.Y, rx, ry);
        spiralToGrid = BarycentricResampler.Build(Spiral.X, Spiral.Y, gx, gy);

        var cl = new List<Conv2d>(); var nl = new List<BatchNorm1d>();
        int c = 1, k = options.KernelSize;
        for (int l = 0; l < options.Depth; l++)
        {
            int o = l == options.Depth - 1 ? 1 : options.Width;
            cl.Add(Conv2d(c, o, (rows, k), padding: (0, k / 2)));
            if (l < options.Depth - 1) nl.Add(BatchNorm1d(o));
            c = o;
        }
        convs = new ModuleList<Conv2d>(cl.ToArray());
        norms = new ModuleList<BatchNorm1d>(nl.ToArray());
        RegisterComponents();
    }

    /// <summary>Pixel centres of an n×n grid, row-major (index i·n + j ↔ row i, column j).</summary>
    public static (double[] X, double[] Y) PixelGrid(int n)
    {
        var c = Projector.PixelCentres(n);
        var x = new double[n * n]; var y = new double[n * n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) { x[i * n + j] = c[j]; y[i * n + j] = c[i]; }
        return (x, y);
    }

    (Tensor G2R, Tensor S2R, Tensor S2G) Matrices(Device d)
    {
        var key = d.ToString();
        if (!onDevice.TryGetValue(key, out var m))
        {
            m = (gridToRibbon.ToTorch(d).DetachFromDisposeScope(), spiralToRibbon.ToTorch(d).DetachFromDisposeScope(), spiralToGrid.ToTorch(d).DetachFromDisposeScope());
            onDevice[key] = m;
        }
        return m;
    }

    /// <summary>One spiral convolution: values on the previous points <c>[B,C,N]</c> → <c>[B,C',n_spls]</c>.</summary>
    Tensor Layer(int l, Tensor matrix, Tensor x)
    {
        long b = x.shape[0], c = x.shape[1];
        var ribbon = SparseResampling.Resample(matrix, x).view(b, c, rows, Spiral.Samples);
        return convs[l].forward(ribbon).squeeze(2);
    }

    public override Tensor forward(Tensor x)
    {
        Denoisers.CheckInput(x, size);
        var (g2r, s2r, s2g) = Matrices(x.device);
        long b = x.shape[0];
        var h = x.reshape(b, 1, size * size);
        for (int l = 0; l < convs.Count; l++)
        {
            h = Layer(l, l == 0 ? g2r : s2r, h);
            if (l < norms.Count) h = functional.relu(norms[l].forward(h));
        }
        return SparseResampling.Resample(s2g, h).view(b, 1, size, size);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) foreach (var (a, b, c) in onDevice.Values) { a.Dispose(); b.Dispose(); c.Dispose(); }
        onDevice.Clear();
        base.Dispose(disposing);
    }
}
