using TorchSharp;
using TorchSharp.Modules;
using XaiLab.Imaging;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace XaiLab.Denoising;

/// <summary>Which denoiser architecture.</summary>
public enum DenoiserKind
{
    /// <summary>Plain convolutions on the Cartesian pixel grid (the thesis' baseline net).</summary>
    Cartesian,
    /// <summary>Convolutions along the spiral sampling of the disc (thesis §7.3, <see cref="SpiralSampling"/>): rotation-equivariant up to resampling.</summary>
    Spiral,
}

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
    /// <summary>Spiral windings n_wind (spiral net only; default <see cref="SpiralSampling.ForImage"/>: one winding per pixel of radius, one beyond the disc). When set, the spiral has radius 1.</summary>
    public int? Windings { get; init; }
    /// <summary>
    /// Whether the net predicts the residual over the radial mean image m(r) of the training targets and sees m as a
    /// second input channel (default true; <see cref="Denoisers.Create"/>, <see cref="RadialMean"/>). m is a function of
    /// the radius alone, so it commutes with rotations and leaves the equivariance of either architecture as it is.
    /// It gives the net what a small receptive field (2·Depth+1 pixels) cannot see: where the disc centre is. Without
    /// it both nets stay below the trivial mean-image predictor at SNR 1/64 (thesis-sized nets, 6 epochs: 18.1 and
    /// 19.0 dB against 19.2 dB).
    /// </summary>
    public bool RadialPrior { get; init; } = true;

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
    /// <summary>
    /// A denoiser of <paramref name="kind"/> for n×n images. With <see cref="DenoiserOptions.RadialPrior"/> (the
    /// default) it is wrapped in a <see cref="PriorResidualDenoiser"/> around <paramref name="radialMean"/>
    /// (<c>[n,n]</c>, from <see cref="RadialMean.FromClean"/>; required then).
    /// </summary>
    /// <param name="kind">Cartesian or spiral.</param>
    /// <param name="imageSize">Image side n (pixels).</param>
    /// <param name="options">Depth, width, kernel size, windings and the radial prior; default <see cref="DenoiserOptions"/>' defaults.</param>
    /// <param name="radialMean">The radial mean image <c>[n,n]</c> the prior wrapper adds back (required with the radial prior).</param>
    /// <param name="init">When given, the net's weights are drawn from this generator (<see cref="SeededInit"/>, before the
    /// prior wrapper scales the last layer) instead of torch's global one.</param>
    public static Module<Tensor, Tensor> Create(DenoiserKind kind, int imageSize, DenoiserOptions? options = null, Tensor? radialMean = null, Generator? init = null)
    {
        var o = options ?? new();
        int inputs = o.RadialPrior ? 2 : 1;
        if (o.RadialPrior && radialMean is null)
            throw new ArgumentException("DenoiserOptions.RadialPrior needs the radial mean image [n,n] (RadialMean.FromClean(train.Clean)); pass it or set RadialPrior = false.");
        Module<Tensor, Tensor> net = kind switch
        {
            DenoiserKind.Cartesian => new CartesianDenoiser(o, inputs),
            DenoiserKind.Spiral => new SpiralDenoiser(imageSize, o, inputs),
            _ => throw new ArgumentException($"Unknown denoiser kind {kind}."),
        };
        if (init is not null) SeededInit.Apply(net, init);
        return o.RadialPrior ? new PriorResidualDenoiser(net, radialMean!) : net;
    }

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

    internal static void CheckInput(Tensor x, int? size = null, int channels = 1)
    {
        if (x.dim() != 4 || x.shape[1] != channels || x.shape[2] != x.shape[3] || (size is int n && x.shape[2] != n))
            throw new ArgumentException($"Expected noisy images [B,{channels},n,n]{(size is int m ? $" with n = {m}" : "")}, got [{string.Join(",", x.shape)}].");
    }
}

/// <summary>
/// The Cartesian baseline (thesis §7.4): a plain CNN of <c>Depth</c> same-padded k×k convolutions, batch norm + ReLU
/// between them, predicting the clean image directly. Translation-equivariant, not rotation-equivariant.
/// </summary>
public sealed class CartesianDenoiser : Module<Tensor, Tensor>
{
    readonly Sequential body;
    readonly int inputs;

    /// <summary>A Cartesian CNN with <paramref name="inputChannels"/> input channels (1: the noisy image; 2 with the radial prior).</summary>
    public CartesianDenoiser(DenoiserOptions options, int inputChannels = 1) : base(Denoisers.Named(nameof(CartesianDenoiser)))
    {
        options.Check();
        if (inputChannels < 1) throw new ArgumentException($"inputChannels must be ≥ 1, got {inputChannels}.");
        Devices.EnsureNativeLoaded();
        inputs = inputChannels;
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        int k = options.KernelSize, c = inputChannels;
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

    /// <summary><c>[B,C_in,n,n]</c> → <c>[B,1,n,n]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        Denoisers.CheckInput(x, channels: inputs);
        return body.call(x);
    }
}

/// <summary>
/// The spiral CNN (thesis §7.3, Figs 7.3–7.5). Every layer resamples its input onto the spiral ribbon
/// (<see cref="SpiralSampling.Ribbon"/>, <c>k × n_spls</c>) with a fixed sparse barycentric matrix, applied as a gather
/// (<see cref="SparseResampling.ToGather"/>, on the CPU <see cref="ResamplingKernel"/>; Delaunay
/// triangulation of the previous layer's sample points — the pixel centres for the first layer, the spiral after),
/// then applies an ordinary conv2d with a <c>k×k</c> kernel, *valid* across the ribbon's width and zero-padded along
/// the spiral, so that the result lives on the <c>1 × n_spls</c> spiral again. Batch norm and ReLU between layers;
/// the last layer's single channel is resampled from the spiral back to the pixel grid. All geometry is precomputed
/// (§7.3.3); the sparse matrices are not parameters and are rebuilt from the options when a model is created.
/// Rim (pixels outside the spiral's hull): with <see cref="SpiralSampling.ForImage"/> the spiral ends one winding
/// beyond the unit disc, so every disc pixel centre (r ≤ 1) lies inside the hull and is interpolated; only the grid's
/// corners (r &gt; 1) lie outside and take the value of the nearest hull point (constant extrapolation,
/// <see cref="SparseResampling"/>, Remark 31), as do the ribbon points of the outer row beyond the last winding
/// (r &gt; 1). No loss or metric reads values outside the disc (<see cref="DenoisingMetrics"/>); <c>xailab denoise
/// bench</c> prints the counts.
/// On the CPU in float32 the three resamplings run as fixed-3-tap kernels on managed arrays (<see cref="ResamplingKernel"/>:
/// one source row per batch item and channel, gradient by the transposed matrix) — the same sums as the gather,
/// at a fraction of its cost — and the single-output last convolution as <see cref="RibbonConvolution"/>, which
/// libtorch runs several times slower than the Cartesian net's (benchmarks/spiral-step-cpu.txt). Same weights,
/// same state dict, same function: only the kernels differ.
/// Point count: the net carries n_spls = round(π·n_wind²) values per channel and layer (the spacing along the spiral
/// equals the winding spacing, <see cref="SpiralSampling"/>), 3421 for n = 64 (n_wind 33) and 908 for n = 32
/// (n_wind 17) — 0.84 and 0.89 times the n² pixels of the Cartesian net; the ribbon it convolves has k·n_spls points.
/// </summary>
public sealed class SpiralDenoiser : Module<Tensor, Tensor>
{
    readonly ModuleList<Conv2d> convs;
    readonly ModuleList<BatchNorm1d> norms;
    readonly int rows, size, inputs;
    readonly SparseResampling gridToRibbon, spiralToRibbon, spiralToGrid;
    readonly ResamplingKernel g2rCpu, s2rCpu, s2gCpu;
    readonly Dictionary<string, ((Tensor I, Tensor W) G2R, (Tensor I, Tensor W) S2R, (Tensor I, Tensor W) S2G)> onDevice = new();

    /// <summary>The spiral sampling the net works on.</summary>
    public SpiralSampling Spiral { get; }
    /// <summary>Diagnostics of the three precomputed resampling matrices (size, non-zeros, targets outside the hull).</summary>
    public IReadOnlyList<SparseResampling> Resamplings => [gridToRibbon, spiralToRibbon, spiralToGrid];

    /// <summary>A spiral CNN for n×n images with <paramref name="inputChannels"/> input channels.</summary>
    public SpiralDenoiser(int imageSize, DenoiserOptions options, int inputChannels = 1) : base(Denoisers.Named(nameof(SpiralDenoiser)))
    {
        options.Check();
        if (imageSize < 8) throw new ArgumentException($"imageSize must be ≥ 8, got {imageSize}.");
        if (inputChannels < 1) throw new ArgumentException($"inputChannels must be ≥ 1, got {inputChannels}.");
        Devices.EnsureNativeLoaded();
        size = imageSize;
        inputs = inputChannels;
        rows = options.KernelSize;
        Spiral = options.Windings is int w ? new SpiralSampling(w) : SpiralSampling.ForImage(imageSize);
        var (gx, gy) = PixelGrid(imageSize);
        var (rx, ry) = Spiral.Ribbon(rows);
        gridToRibbon = BarycentricResampler.Build(gx, gy, rx, ry);
        spiralToRibbon = BarycentricResampler.Build(Spiral.X, Spiral.Y, rx, ry);
        spiralToGrid = BarycentricResampler.Build(Spiral.X, Spiral.Y, gx, gy);
        g2rCpu = new ResamplingKernel(gridToRibbon); s2rCpu = new ResamplingKernel(spiralToRibbon); s2gCpu = new ResamplingKernel(spiralToGrid);

        var cl = new List<Conv2d>(); var nl = new List<BatchNorm1d>();
        int c = inputChannels, k = options.KernelSize;
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

    ((Tensor I, Tensor W) G2R, (Tensor I, Tensor W) S2R, (Tensor I, Tensor W) S2G) Matrices(Device d)
    {
        var key = d.ToString();
        if (!onDevice.TryGetValue(key, out var m))
        {
            (Tensor, Tensor) G(SparseResampling r) { var (i, w) = r.ToGather(d); return (i.DetachFromDisposeScope(), w.DetachFromDisposeScope()); }
            m = (G(gridToRibbon), G(spiralToRibbon), G(spiralToGrid));
            onDevice[key] = m;
        }
        return m;
    }

    /// <summary>
    /// Resamples the last axis with one of the three matrices: on the CPU in float32 with its <see cref="ResamplingKernel"/>,
    /// elsewhere (CUDA, float64) with the gather of <see cref="SparseResampling.ToGather"/>. Both compute the same sums.
    /// </summary>
    Tensor Resample(int which, Tensor x)
    {
        if (x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32)
            return (which switch { 0 => g2rCpu, 1 => s2rCpu, _ => s2gCpu }).Apply(x);
        var (g2r, s2r, s2g) = Matrices(x.device);
        var (i, w) = which switch { 0 => g2r, 1 => s2r, _ => s2g };
        return SparseResampling.Gather(i, w, x);
    }

    /// <summary>
    /// One spiral convolution: values on the previous points <c>[B,C,N]</c> → <c>[B,C',n_spls]</c>. The single-output
    /// last layer runs on the CPU in float32 as <see cref="RibbonConvolution"/> (the same convolution, by its own
    /// kernel); every other layer, and everything on other devices or dtypes, as the module's conv2d.
    /// </summary>
    Tensor Layer(int l, Tensor x)
    {
        long b = x.shape[0], c = x.shape[1];
        var ribbon = Resample(l == 0 ? 0 : 1, x).view(b, c, rows, Spiral.Samples);
        var conv = convs[l];
        if (conv.weight!.shape[0] == 1 && ribbon.device_type == DeviceType.CPU && ribbon.dtype == ScalarType.Float32 && conv.weight.dtype == ScalarType.Float32)
            return RibbonConvolution.Apply(ribbon, conv.weight, conv.bias).view(b, 1, Spiral.Samples);
        return conv.call(ribbon).squeeze(2);
    }

    /// <summary><c>[B,C_in,n,n]</c> → <c>[B,1,n,n]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        Denoisers.CheckInput(x, size, inputs);
        long b = x.shape[0];
        var h = x.reshape(b, inputs, size * size);
        for (int l = 0; l < convs.Count; l++)
        {
            h = Layer(l, h);
            if (l < norms.Count) h = functional.relu(norms[l].call(h));
        }
        return Resample(2, h).view(b, 1, size, size);
    }

    /// <summary>Disposes the per-device copies of the resampling matrices, then the module.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) foreach (var (a, b, c) in onDevice.Values) { a.I.Dispose(); a.W.Dispose(); b.I.Dispose(); b.W.Dispose(); c.I.Dispose(); c.W.Dispose(); }
        onDevice.Clear();
        base.Dispose(disposing);
    }
}

/// <summary>
/// <c>F(x) = m + G([x, m])</c>: a net G that sees the noisy image and the radial mean image m (a second, constant
/// input channel) and predicts the residual over m. m depends on the radius only, so <c>R_θ m = m</c> and F is exactly
/// as equivariant as G. m is a buffer: it is saved with the weights.
/// </summary>
public sealed class PriorResidualDenoiser : Module<Tensor, Tensor>
{
    readonly Module<Tensor, Tensor> net;

    /// <summary>Wraps <paramref name="inner"/> (2 input channels) around the radial mean <paramref name="radialMean"/> <c>[n,n]</c>.</summary>
    public PriorResidualDenoiser(Module<Tensor, Tensor> inner, Tensor radialMean) : base(Denoisers.Named(nameof(PriorResidualDenoiser)))
    {
        if (radialMean.dim() != 2 || radialMean.shape[0] != radialMean.shape[1])
            throw new ArgumentException($"radialMean must be [n,n], got [{string.Join(",", radialMean.shape)}].");
        net = inner;
        // Start close to the prior: the last convolution's weights scaled by 0.1 and its bias zeroed, so the untrained
        // residual does not bury m under noise (the equivariance ratio of two nets is unaffected by a common scale).
        var last = inner.named_parameters().Where(p => p.name.EndsWith("weight") && p.parameter.dim() == 4).Select(p => p.name).LastOrDefault();
        if (last is not null)
            using (no_grad())
            {
                var prefix = last[..^"weight".Length];
                foreach (var (name, p) in inner.named_parameters())
                    if (name == last) p.mul_(0.1);
                    else if (name == prefix + "bias") p.zero_();
            }
        var prior = radialMean.to(float32).view(1, 1, radialMean.shape[0], radialMean.shape[1]).clone().DetachFromDisposeScope();
        register_module("net", net);
        register_buffer("prior", prior);
    }

    /// <summary>The wrapped net G.</summary>
    public Module<Tensor, Tensor> Inner => net;

    /// <summary>The radial mean image m <c>[1,1,n,n]</c>.</summary>
    public Tensor Prior => get_buffer("prior")!;

    /// <summary>
    /// The part of F whose equivariance is measured: <c>x ↦ F(x) − m</c>. m is exactly rotation-invariant, so the
    /// numerator of the equivariance error is the same with or without it, but in the denominator it would make any
    /// net that stays close to m look equivariant (and fall below the measure's floor, which is taken on a filter of x).
    /// </summary>
    public Tensor Residual(Tensor x)
    {
        using var scope = NewDisposeScope();
        return (forward(x) - Prior.to(x.device)).MoveToOuterDisposeScope();
    }

    /// <summary><c>[B,1,n,n]</c> → <c>[B,1,n,n]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        var p = get_buffer("prior")!;   // the registered buffer (moved by to(), filled by load)
        Denoisers.CheckInput(x, (int)p.shape[^1]);
        using var scope = NewDisposeScope();
        var m = p.to(x.device).expand(x.shape[0], 1, p.shape[2], p.shape[3]);
        return (m + net.call(cat([x, m], 1))).MoveToOuterDisposeScope();
    }
}

/// <summary>The radial mean image (the trivial predictor's rotation-invariant version, see <see cref="Baselines"/>).</summary>
public static class RadialMean
{
    /// <summary>
    /// m(r): the mean of <paramref name="clean"/> <c>[N,1,n,n]</c> over images and over all pixels of the same radius,
    /// smoothed in r by a Gaussian of 0.5 px (Nadaraya–Watson in r), so m is an exact function of the pixel radius. <c>[n,n]</c>.
    /// </summary>
    public static Tensor FromClean(Tensor clean)
    {
        if (clean.dim() != 4 || clean.shape[1] != 1 || clean.shape[2] != clean.shape[3])
            throw new ArgumentException($"Expected clean images [N,1,n,n], got [{string.Join(",", clean.shape)}].");
        using var scope = NewDisposeScope();
        int n = (int)clean.shape[^1];
        var mean = clean.to(float64).mean([0, 1]).flatten().cpu();
        var c = tensor(Projector.PixelCentres(n), dtype: float64) * (n / 2.0);     // pixel units
        var r = (c.view(-1, 1).square() + c.view(1, -1).square()).sqrt().flatten();  // [n²]
        var w = (-(r.view(-1, 1) - r.view(1, -1)).square() / (2 * 0.25)).exp();     // [n², n²]
        var m = (w.matmul(mean) / w.sum(1)).view(n, n).to(float32).to(clean.device);
        return m.MoveToOuterDisposeScope();
    }
}
