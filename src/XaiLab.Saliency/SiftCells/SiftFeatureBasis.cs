using System.Diagnostics;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Filters;
using XaiLab.Saliency.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Saliency.SiftCells;

/// <summary>
/// Options of the SIFT feature basis (thesis chapter 4). Defaults: thesis/OpenCV values where they exist
/// (detector: OpenCV's SIFT defaults; η = 4, the best row of Table 4.2; Table 4.1's three resolutions with the
/// switch at 2.25 coarse pixels), and a sparsity threshold s = 0.01 ("typically chosen much lower than 0.1", §4.2.3).
/// </summary>
public sealed record SiftBasisOptions
{
    /// <summary>Scale-space discretisation: σ_0, layers per octave ρ, top σ and the multi-resolution storage of Table 4.1 (§4.2.1–4.2.2).</summary>
    public ScaleSpaceOptions ScaleSpace { get; init; } = new();
    /// <summary>SIFT detector settings for the keypoints that become the cells (§4.1.2; OpenCV defaults).</summary>
    public SiftDetectorOptions Detector { get; init; } = new();
    /// <summary>η of Eq 4.18 (weight of σ against position; both in original pixels). Table 4.2 uses 1, 2 and 4. Default 4.</summary>
    public double Eta { get; init; } = 4;
    /// <summary>Soft cut-off threshold s of Eq 4.37 in [0,1). Default 0.01.</summary>
    public double Sparsity { get; init; } = 0.01;
    /// <summary>Denominator guard of Eq 4.39: max(m̃, MassGuard). Default 10⁻³ (the thesis' implementation).</summary>
    public double MassGuard { get; init; } = 1e-3;
    /// <summary>
    /// Smooth each cell's indicator within its band by γ_σ (lowpass-after-gain, Eq 4.25–4.27). Default true (the thesis'
    /// decoder). False gives the hard-partition decoder of Fig 4.5 (top): every voxel belongs to exactly one cell, so
    /// D(1) = x still holds exactly, but switching a feature off cuts sharp polygonal edges into the image.
    /// </summary>
    public bool Smoothing { get; init; } = true;
    /// <summary>Shape of the sparsity cut-off (Fig 4.6): <see cref="SparsityCutOff.Soft"/> (Eq 4.37, default) or <see cref="SparsityCutOff.Hard"/>.</summary>
    public SparsityCutOff CutOff { get; init; } = SparsityCutOff.Soft;
    /// <summary>
    /// Redistribute the mass the cut-off removed (Eq 4.38/4.39), so that D(1) = x again (Lemma 10). Default true.
    /// False shows what the cut-off alone does (Fig 4.7(d)): D(1) misses the trimmed mass.
    /// </summary>
    public bool Redistribute { get; init; } = true;

    /// <summary>Checks these options and the nested <see cref="ScaleSpace"/> and <see cref="Detector"/> options against their documented ranges.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its range; the message names it.</exception>
    public void Validate()
    {
        ScaleSpace.Validate();
        Detector.Validate();
        if (!(Eta >= 0) || double.IsInfinity(Eta)) throw new ArgumentOutOfRangeException(nameof(Eta), Eta, "η must be finite and ≥ 0.");
        if (!(Sparsity >= 0 && Sparsity < 1)) throw new ArgumentOutOfRangeException(nameof(Sparsity), Sparsity, "Sparsity threshold s must be in [0,1).");
        if (!(MassGuard > 0)) throw new ArgumentOutOfRangeException(nameof(MassGuard), MassGuard, "MassGuard must be > 0.");
        if (!Enum.IsDefined(CutOff)) throw new ArgumentOutOfRangeException(nameof(CutOff), CutOff, "CutOff must be Soft or Hard.");
    }
}

/// <summary>Storage of one resolution level of the decoder (Eq 4.40/4.41).</summary>
/// <param name="Level">0 = full resolution, k = ⌊H/2^k⌋×⌊W/2^k⌋.</param>
/// <param name="Layers">Number of scale-space bands summed into this level's matrix.</param>
/// <param name="Nonzeros">Non-zero entries of the image matrix Z̄^ρ (<c>[C·h·w, K]</c>).</param>
/// <param name="Bytes">Bytes of the <see cref="CellMatrix"/> actually stored (int32 CSR over pixels, C channels + field weight per entry).</param>
/// <param name="CooBytes">Bytes of the image matrix as torch COO (int64 row+column indices and float32 values; built only for <see cref="SparseKernel.TorchCoo"/>).</param>
/// <param name="CsrInt32Bytes">Bytes of the image matrix as a plain CSR over <c>[C·h·w, K]</c> with int32 indices (for comparison).</param>
/// <param name="Height">Grid rows h of this level (⌊H/2^k⌋).</param>
/// <param name="Width">Grid columns w of this level (⌊W/2^k⌋).</param>
public sealed record DecoderLevel(int Level, int Height, int Width, int Layers, long Nonzeros, long Bytes, long CooBytes, long CsrInt32Bytes);

/// <summary>Sparse product used by <see cref="SiftFeatureBasis.Render"/>.</summary>
public enum SparseKernel
{
    /// <summary>Own CSR product on managed arrays (<see cref="CellMatrix"/>, custom autograd), CPU only; the default.</summary>
    Csr,
    /// <summary>torch sparse COO × dense (<c>torch.mm</c>), any device; used on CUDA.</summary>
    TorchCoo,
}

/// <summary>What building the basis produced and how well it reconstructs (the self-check of Lemma 8 and 10).</summary>
/// <param name="ReconstructionError">max |Render(1) − x| (should be float rounding, ~1e-6).</param>
/// <param name="ResamplingResidual">Largest down/up-sampling residual carried into a finer band (see <see cref="ScaleSpace"/>).</param>
/// <param name="UncoveredVoxels">Voxels where the sparsity cut-off left total mass m̃ below the guard (Lemma 10's condition fails).</param>
/// <param name="DecoderBytes">Bytes of the stored decoder (all levels' <see cref="CellMatrix"/>, including the Voronoi-field weights).</param>
/// <param name="TorchCooBytes">Bytes the image matrices take as torch COO tensors (the <see cref="SparseKernel.TorchCoo"/> path).</param>
/// <param name="DenseBytes">What the naive dense 4-D array (bands × keypoints × C × H × W, float32) would take.</param>
/// <param name="BuildSeconds">Wall time of the whole build (detection included when the basis detected its keypoints).</param>
/// <param name="Keypoints">Number of keypoints K, i.e. of feature cells and gains.</param>
/// <param name="Bands">Number of scale-space bands M + 1 (Eq 4.31).</param>
/// <param name="Levels">Storage per resolution level of the decoder, finest first.</param>
public sealed record SiftBasisDiagnostics(
    int Keypoints, int Bands, IReadOnlyList<DecoderLevel> Levels, long DecoderBytes, long TorchCooBytes, long DenseBytes,
    double ReconstructionError, double ResamplingResidual, int UncoveredVoxels, double BuildSeconds)
{
    /// <summary>Where the build time went.</summary>
    public SiftBuildPhases Phases { get; init; } = new(0, 0, 0, 0, 0, 0);
}

/// <summary>Seconds spent in each stage of <see cref="SiftFeatureBasis.Build"/>.</summary>
/// <param name="Detect">SIFT detection on the luma (0 when keypoints were given).</param>
/// <param name="ScaleSpace">Scale-space bands and their multi-resolution storage.</param>
/// <param name="Assign">Voronoi assignment of all bands (Eq 4.18).</param>
/// <param name="Smooth">Cell smoothing, cut-off and redistribution (Eq 4.26–4.39).</param>
/// <param name="Matrices">Summing the bands' masks into the per-level matrices (Eq 4.40).</param>
/// <param name="SelfCheck">Rendering D(1) and D(0) for the reconstruction check.</param>
public sealed record SiftBuildPhases(double Detect, double ScaleSpace, double Assign, double Smooth, double Matrices, double SelfCheck);

/// <summary>
/// The SIFT feature basis of one image (thesis §4.1.3, §4.2, §4.3): a linear, differentiable decoder
/// D: θ ∈ R^K ↦ image, with one gain per SIFT keypoint, such that D(1) = x (Eq 4.14, Lemma 8 and 10) and D(0) = 0
/// (the implicit baseline, §4.3.1).
/// <para>
/// Construction: scale-space bands T_l with multi-resolution storage S_l (<see cref="ScaleSpace"/>), keypoints on the
/// luma (<see cref="SiftDetector"/>), Voronoi cells per band and their smoothed, sparsified masks Ỹ_{i,l}
/// (<see cref="FeatureCells"/>); per resolution level ρ the sparse matrix Z̄^ρ = Σ_{l∈L^ρ} Ỹ_{·,l} ⊙ S_l
/// (Eq 4.40), stored as a <see cref="CellMatrix"/> (int32 CSR over pixels, all channels per entry). Rendering is
/// Eq 4.41: for each level a sparse×dense product with θᵀ, bilinear resampling to H×W, and the sum; batches of θ are
/// matrix products. On the CPU the product is the own CSR kernel with a custom autograd function; on CUDA
/// (<see cref="To"/>) torch sparse COO tensors <c>[C·h·w, K]</c> built from the same matrices and <c>torch.mm</c>.
/// </para>
/// <para>
/// The basis is itself an <see cref="IPathSpace"/> — the one of <see cref="AsPathSpace"/> with the Euclidean metric:
/// <see cref="Name"/>, <see cref="MaskShape"/> = [K], <see cref="IsSpatial"/> = false, <see cref="Target"/> = Render(1) = x,
/// <see cref="Baseline"/> = Render(0); as a path space its masks φ render as D(1 − φ), its mass weights are uniform
/// (null; the Eq 4.45 weights <see cref="MassWeights"/> enter with <see cref="SiftMetric.Weighted"/>), and
/// <see cref="IPathSpace.WithBaseline"/> is <see cref="WithBaseline"/> on this basis' device. The public
/// <see cref="Render"/> takes gains θ, not masks.
/// </para>
/// </summary>
public sealed class SiftFeatureBasis : IPathSpace
{
    readonly CellMatrix[] _matrices; // per level: CSR over pixels, C channels + field weight
    Tensor[]? _cooDecoders;          // per level: torch sparse [C·h·w, K] (built for TorchCoo / CUDA)
    Tensor[]? _cooFields;            // per level: torch sparse [h·w, K]
    readonly (int H, int W)[] _levelSizes;
    readonly int[][] _labels;      // per band: hard labels on the band's grid
    readonly Tensor? _offset;      // [C,H,W] added to every rendering (WithBaseline)
    Tensor? _massWeights;

    /// <summary>Diagnostic name <c>sift</c> (as a path space).</summary>
    public string Name => "sift";
    /// <summary>The original image x, <c>[C,H,W]</c>.</summary>
    public Tensor Image { get; }
    /// <summary>The options the basis was built with (scale space, detector, η, sparsity, smoothing, cut-off, redistribution).</summary>
    public SiftBasisOptions Options { get; }
    /// <summary>The keypoints; gain θ_i belongs to Keypoints[i].</summary>
    public IReadOnlyList<SiftKeypoint> Keypoints { get; }
    /// <summary>The scale-space bands' layout (σ ranges, levels).</summary>
    public IReadOnlyList<ScaleSpaceLayer> Layers { get; }
    /// <summary>Build diagnostics: sizes, memory of the decoder, the reconstruction error max |D(1) − x| (Lemma 8/10) and timings.</summary>
    public SiftBasisDiagnostics Diagnostics { get; private set; } = null!;
    /// <summary>Which sparse product renders: <see cref="SparseKernel.Csr"/> (own CSR, CPU) or <see cref="SparseKernel.TorchCoo"/> (torch.sparse, any device; <see cref="To"/> selects it for CUDA).</summary>
    public SparseKernel Kernel { get; set; } = SparseKernel.Csr;
    /// <summary>The device rendered images are on (CPU unless moved with <see cref="To"/>).</summary>
    public Device Device { get; private set; } = CPU;
    /// <summary>The per-level CSR matrices.</summary>
    public IReadOnlyList<CellMatrix> Matrices => _matrices;
    /// <summary>Number of features K (keypoints, gains θ_i).</summary>
    public int K => Keypoints.Count;
    /// <summary>Colour channels C of the rendered images.</summary>
    public int Channels { get; }
    /// <summary>Image rows H of the rendered images (pixels).</summary>
    public int Height { get; }
    /// <summary>Image columns W of the rendered images (pixels).</summary>
    public int Width { get; }
    /// <summary>Masks are gain vectors: <c>[K]</c>.</summary>
    public long[] MaskShape => new long[] { K };
    /// <summary>Masks are not images: no spatial filtering applies to them (§4.3.2).</summary>
    public bool IsSpatial => false;
    /// <summary>Render(1) — the image itself (up to float rounding), <c>[C,H,W]</c>.</summary>
    public Tensor Target { get; private set; } = null!;
    /// <summary>Render(0) — zeros, or the baseline given to <see cref="WithBaseline"/>, <c>[C,H,W]</c>.</summary>
    public Tensor Baseline { get; private set; } = null!;

    SiftFeatureBasis(Tensor image, SiftBasisOptions options, IReadOnlyList<SiftKeypoint> keypoints, IReadOnlyList<ScaleSpaceLayer> layers,
        CellMatrix[] matrices, (int, int)[] sizes, int[][] labels, Tensor? offset)
    {
        Image = image; Options = options; Keypoints = keypoints; Layers = layers;
        _matrices = matrices; _levelSizes = sizes; _labels = labels; _offset = offset;
        Channels = (int)image.shape[0]; Height = (int)image.shape[1]; Width = (int)image.shape[2];
    }

    /// <summary>
    /// Builds the basis of <paramref name="image"/> (<c>[C,H,W]</c> float in [0,1], C = 1 or 3). Keypoints are detected on
    /// the luma with <see cref="SiftBasisOptions.Detector"/> unless given.
    /// </summary>
    /// <exception cref="ArgumentException">Not an image tensor.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Bad options.</exception>
    /// <exception cref="InvalidOperationException">The detector found no keypoint (lower the contrast threshold).</exception>
    public static SiftFeatureBasis Build(Tensor image, SiftBasisOptions? options = null, IReadOnlyList<SiftKeypoint>? keypoints = null)
    {
        var o = options ?? new SiftBasisOptions();
        o.Validate();
        ScaleSpace.CheckImage(image, nameof(image));
        Devices.EnsureNativeLoaded();
        var x = image.detach().to(ScalarType.Float32).cpu().clone().DetachFromDisposeScope();
        var detect = Stopwatch.StartNew();
        keypoints ??= SiftDetector.Detect(x, o.Detector);
        double detectSeconds = detect.Elapsed.TotalSeconds;
        if (keypoints.Count == 0)
        {
            x.Dispose();
            throw new InvalidOperationException($"The SIFT detector found no keypoints in this {image.shape[1]}×{image.shape[2]} image; lower Detector.ContrastThreshold (now {o.Detector.ContrastThreshold}).");
        }
        return Assemble(x, x, null, o, keypoints, detectSeconds);
    }

    static SiftFeatureBasis Assemble(Tensor image, Tensor decomposed, Tensor? offset, SiftBasisOptions o, IReadOnlyList<SiftKeypoint> keypoints, double detectSeconds = 0)
    {
        var clock = Stopwatch.StartNew();
        var phase = Stopwatch.StartNew();
        double tSpace, tAssign = 0, tSmooth = 0, tMatrix = 0;
        int c = (int)image.shape[0], h = (int)image.shape[1], w = (int)image.shape[2], k = keypoints.Count;
        using var space = ScaleSpace.Build(decomposed, o.ScaleSpace);
        var layers = space.Layers;
        tSpace = phase.Elapsed.TotalSeconds;
        int nLevels = layers.Max(l => l.Level) + 1;
        var sizes = new (int, int)[nLevels];
        var layerCounts = new int[nLevels];
        var labels = new int[layers.Count][];
        var builders = new CellMatrixBuilder[nLevels];
        int uncovered = 0;
        float fieldWeight = 1f / layers.Count;
        var matrices = new CellMatrix[nLevels];
        var levelInfo = new DecoderLevel[nLevels];
        // Bands are visited level by level (coarsest first) so that a level's matrix is finished, and its
        // per-band masks freed, before the next level starts: peak memory is one level's masks, not all of them.
        foreach (var level in layers.GroupBy(l => l.Level).OrderByDescending(g => g.Key))
        {
            int lv = level.Key;
            foreach (var layer in level)
            {
                int l = layer.Index, lh = layer.Height, lw = layer.Width;
                sizes[lv] = (lh, lw);
                layerCounts[lv]++;
                builders[lv] ??= new CellMatrixBuilder(lh, lw, k, c);
                phase.Restart();
                labels[l] = FeatureCells.Assign(keypoints, h, w, lh, lw, layer.Sigma, o.Eta);
                tAssign += phase.Elapsed.TotalSeconds; phase.Restart();
                var masks = CellMasksOf(o, labels[l], layer, h, w);
                uncovered += masks.UncoveredPixels;
                tSmooth += phase.Elapsed.TotalSeconds; phase.Restart();
                var band = space.Stored[l].contiguous().data<float>().ToArray(); // [C, lh, lw]
                builders[lv].Add(masks, band, fieldWeight);
                tMatrix += phase.Elapsed.TotalSeconds;
            }
            phase.Restart();
            var (mh, mw) = sizes[lv];
            matrices[lv] = builders[lv].Build();
            builders[lv] = null!;
            long pairs = matrices[lv].Entries, nnz = pairs * c;
            levelInfo[lv] = new DecoderLevel(lv, mh, mw, layerCounts[lv], nnz, matrices[lv].Bytes, nnz * (2 * 8 + 4), nnz * (4 + 4) + (c * (long)mh * mw + 1) * 4);
            tMatrix += phase.Elapsed.TotalSeconds;
        }
        var basis = new SiftFeatureBasis(image, o, keypoints, layers, matrices, sizes, labels, offset?.DetachFromDisposeScope());
        phase.Restart();
        using (var scope = NewDisposeScope())
        {
            basis.Target = basis.Render(ones(1, k)).squeeze(0).detach().DetachFromDisposeScope();
            basis.Baseline = basis.Render(zeros(1, k)).squeeze(0).detach().DetachFromDisposeScope();
            double err = (basis.Target - image).abs().max().to_type(ScalarType.Float64).item<double>();
            double tCheck = phase.Elapsed.TotalSeconds;
            var phases = new SiftBuildPhases(detectSeconds, tSpace, tAssign, tSmooth, tMatrix, tCheck);
            basis.Diagnostics = new SiftBasisDiagnostics(k, layers.Count, levelInfo, levelInfo.Sum(l => l.Bytes), levelInfo.Sum(l => l.CooBytes),
                (long)layers.Count * k * c * h * w * 4, err, space.ResamplingResidual, uncovered, detectSeconds + clock.Elapsed.TotalSeconds)
            { Phases = phases };
        }
        return basis;
    }

    /// <summary>The cell masks of one band with the options' smoothing, cut-off and redistribution (Eq 4.26–4.39).</summary>
    static CellMasks CellMasksOf(SiftBasisOptions o, int[] labels, ScaleSpaceLayer layer, int h, int w)
    {
        var (py, px) = layer.PixelSize(h, w);
        double sigma = o.Smoothing ? layer.Sigma / Math.Sqrt(py * px) : 0;
        return FeatureCells.Smooth(labels, layer.Height, layer.Width, sigma, o.Sparsity, o.MassGuard, o.CutOff, o.Redistribute);
    }

    /// <summary>
    /// D(θ) (Eq 4.41): gains <c>[N,K]</c> → images <c>[N,C,H,W]</c> (float32, on the basis' device). Linear in θ and
    /// differentiable (autograd through the sparse product and the bilinear resampling).
    /// </summary>
    /// <exception cref="ArgumentException">θ is not <c>[N,K]</c>.</exception>
    public Tensor Render(Tensor thetas)
    {
        CheckThetas(thetas);
        using var scope = NewDisposeScope();
        var sum = SumOverLevels(thetas, 0, Channels, () => CooDecoders);
        if (_offset is not null) sum = sum + _offset.to(sum.device).unsqueeze(0);
        return sum.MoveToOuterDisposeScope();
    }

    bool UseCsr => Kernel == SparseKernel.Csr && Device.type == DeviceType.CPU;

    /// <summary>
    /// Σ over resolution levels of the cell matrices' rows <c>[first, first+count)</c> per pixel (the decoder's colour
    /// channels, or the Voronoi-field weight) applied to θ, each level resampled to H×W: <c>[N,count,H,W]</c>.
    /// </summary>
    Tensor SumOverLevels(Tensor thetas, int first, int count, Func<Tensor[]> coo)   // coo built only when used (CUDA / TorchCoo)
    {
        var th = thetas.to(ScalarType.Float32, Device);
        var n = th.shape[0];
        Tensor? sum = null;
        if (UseCsr) return LevelSumProduct.Apply(th, _matrices, Height, Width, first, count);
        for (int lv = 0; lv < _matrices.Length; lv++)
        {
            var (lh, lw) = _levelSizes[lv];
            var level = torch.mm(coo()[lv], th.t()).t().reshape(n, count, lh, lw);
            var up = ScaleSpace.Resample(level, Height, Width);
            sum = sum is null ? up : sum + up;
        }
        return sum!;
    }

    Tensor[] CooDecoders => _cooDecoders ??= _matrices.Select(m => m.ToTorchCoo(0, Channels, Device).DetachFromDisposeScope()).ToArray();
    Tensor[] CooFields => _cooFields ??= _matrices.Select(m => m.ToTorchCoo(Channels, 1, Device).DetachFromDisposeScope()).ToArray();

    /// <summary>
    /// Voronoi-field heatmap (Eq 4.46/4.47 with homogeneous C(σ) = 1): the decoder applied to a constant field instead
    /// of Δ, i.e. Σ_l Σ_i θ_i Ỹ_{i,l}, divided by the number of bands so that θ ≡ 1 gives 1. <c>[N,K]</c> → <c>[N,H,W]</c>.
    /// </summary>
    public Tensor VoronoiField(Tensor thetas)
    {
        CheckThetas(thetas);
        using var scope = NewDisposeScope();
        var sum = SumOverLevels(thetas, Channels, 1, () => CooFields);
        return sum.squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Image-rectifier heatmap (Eq 4.48): γ_σLP ⋆ |x − γ_σHP ⋆ x| with the rectifier averaged over colour channels,
    /// for images <c>[N,C,H,W]</c> or <c>[C,H,W]</c> → <c>[N,H,W]</c>. Thesis values σ_LP = 8, σ_HP = 5 (Table 4.2).
    /// </summary>
    public static Tensor ImageRectifier(Tensor images, double sigmaLowpass = 8, double sigmaHighpass = 5)
    {
        if (images.dim() == 3) images = images.unsqueeze(0);
        if (images.dim() != 4) throw new ArgumentException($"ImageRectifier expects images [N,C,H,W] or [C,H,W]; got shape [{string.Join(",", images.shape)}].", nameof(images));
        using var scope = NewDisposeScope();
        var hp = (images - Gaussian.Blur(images, sigmaHighpass, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate)).abs().mean(new long[] { 1 });
        return Gaussian.Blur(hp, sigmaLowpass, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate).MoveToOuterDisposeScope();
    }

    /// <summary>The rectifier heatmap of the rendered images: <see cref="ImageRectifier"/>(Render(θ)) → <c>[N,H,W]</c>.</summary>
    public Tensor RectifierField(Tensor thetas, double sigmaLowpass = 8, double sigmaHighpass = 5)
    {
        using var scope = NewDisposeScope();
        return ImageRectifier(Render(thetas), sigmaLowpass, sigmaHighpass).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Feature weights W_j = ‖D(e_j)‖₂ (Eq 4.45, L² norm of the image of one feature alone), normalised to mean 1,
    /// <c>[K]</c>. Computed once (K/64 batched renderings) and cached.
    /// </summary>
    public Tensor MassWeights
    {
        get
        {
            if (_massWeights is not null) return _massWeights;
            using var scope = NewDisposeScope();
            var dev = Device;
            var norms = new float[K];
            using var noGrad = no_grad();
            for (int j0 = 0; j0 < K; j0 += 64)
            {
                using var batch = NewDisposeScope(); // each batch's renderings are freed before the next one
                int j1 = Math.Min(K, j0 + 64);
                var basisVectors = zeros(j1 - j0, K, device: dev);
                basisVectors.index_put_(ones(j1 - j0, device: dev), arange(j1 - j0, dtype: ScalarType.Int64, device: dev), arange(j0, j1, dtype: ScalarType.Int64, device: dev));
                var img = Render(basisVectors);
                if (_offset is not null) img = img - _offset.to(dev).unsqueeze(0);
                img.reshape(j1 - j0, -1).norm(1).cpu().data<float>().ToArray().CopyTo(norms, j0);
            }
            var wts = tensor(norms).to(dev);
            var mean = wts.mean();
            wts = mean.to_type(ScalarType.Float64).item<double>() > 0 ? wts / mean : ones_like(wts);
            _massWeights = wts.DetachFromDisposeScope();   // owned by the basis, whatever scope asked first
            return _massWeights;
        }
    }

    /// <summary>
    /// The same keypoints and cells with another baseline b (<c>[C,H,W]</c>): the basis of x − b plus the constant b,
    /// so Render(1) = x and Render(0) = b. (The cells depend only on the keypoints, which stay those of x.)
    /// </summary>
    /// <exception cref="ArgumentException">b does not have the image's shape.</exception>
    public SiftFeatureBasis WithBaseline(Tensor baseline)
    {
        if (baseline.dim() != 3 || baseline.shape[0] != Channels || baseline.shape[1] != Height || baseline.shape[2] != Width)
            throw new ArgumentException($"Baseline must have the image's shape [{Channels},{Height},{Width}]; got [{string.Join(",", baseline.shape)}].", nameof(baseline));
        var b = baseline.detach().to(ScalarType.Float32).cpu().clone();
        using var diff = Image - b;
        return Assemble(Image.clone().DetachFromDisposeScope(), diff, b, Options, Keypoints);
    }

    /// <summary>
    /// The basis as an ablation-path space (§4.3): masks φ ∈ R^K render as D(1 − φ), so φ = 0 is the image and the
    /// baseline is the implicit θ = 0. <paramref name="metric"/> chooses the metric on R^K (§4.3.3):
    /// <see cref="SiftMetric.Euclidean"/> (isotropic L², Fig 4.9; the default) or <see cref="SiftMetric.Weighted"/>
    /// (⟨u, v⟩ = Σ W_j u_j v_j with the mass weights W_j of Eq 4.45, Fig 4.10), which enters both the time normalisation
    /// (masses mean(W⊙φ)) and the gradient step (the metric gradient W⁻¹∇). The space borrows this basis (dispose the
    /// basis, not only the space, when done).
    /// </summary>
    public SiftPathSpace AsPathSpace(SiftMetric metric = SiftMetric.Euclidean) => new(this, metric);

    /// <summary>Path-space rendering: masks φ <c>[N,K]</c> → images D(1 − φ) <c>[N,C,H,W]</c> (differentiable).</summary>
    Tensor IPathSpace.Render(Tensor masks)
    {
        PathSpace.CheckMasks(masks, MaskShape, Name);
        return Render(1 - masks);
    }

    /// <summary>Uniform mass (the Euclidean metric of <see cref="AsPathSpace"/>'s default).</summary>
    Tensor? IPathSpace.MassWeights => null;

    /// <summary>The basis with another baseline (<see cref="WithBaseline"/>), moved to this basis' device and kernel; the caller disposes it.</summary>
    IPathSpace IPathSpace.WithBaseline(Tensor baseline) => WithBaselineHere(baseline);

    /// <summary><see cref="WithBaseline"/> on this basis' device with its sparse kernel (for path spaces that draw baselines per iteration).</summary>
    internal SiftFeatureBasis WithBaselineHere(Tensor baseline)
    {
        var b = WithBaseline(baseline);
        if (Device.type != DeviceType.CPU) b.To(Device);
        b.Kernel = Kernel;
        return b;
    }

    /// <summary>Moves the decoder matrices to <paramref name="device"/> (returns this).</summary>
    public SiftFeatureBasis To(Device device)
    {
        if (_cooDecoders is not null) foreach (var t in _cooDecoders) t.Dispose();
        if (_cooFields is not null) foreach (var t in _cooFields) t.Dispose();
        _cooDecoders = _cooFields = null;
        Device = device;
        if (device.type != DeviceType.CPU) Kernel = SparseKernel.TorchCoo;
        var (oldT, oldB, oldW) = (Target, Baseline, _massWeights);
        Target = Target.to(device).DetachFromDisposeScope(); Baseline = Baseline.to(device).DetachFromDisposeScope();
        _massWeights = _massWeights?.to(device).DetachFromDisposeScope();
        if (!ReferenceEquals(oldT, Target)) oldT.Dispose();
        if (!ReferenceEquals(oldB, Baseline)) oldB.Dispose();
        if (oldW is not null && !ReferenceEquals(oldW, _massWeights)) oldW.Dispose();
        return this;
    }

    /// <summary>Hard cell labels of band <paramref name="layer"/> on its own grid <c>[h_l·w_l]</c> (row-major).</summary>
    public int[] Labels(int layer) => _labels[layer];

    /// <summary>
    /// Data for a picture of the feature cells at one band (§4.1.3): the image, keypoints, the hard label map
    /// nearest-upsampled to H×W, and colourings of hard and smooth (sparsified, redistributed) cells.
    /// </summary>
    public FeatureCellsView View(int layer)
    {
        if (layer < 0 || layer >= Layers.Count) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Band index must be in 0..{Layers.Count - 1}.");
        var band = Layers[layer];
        int lh = band.Height, lw = band.Width;
        var lab = _labels[layer];
        var full = new long[Height * Width];
        for (int y = 0; y < Height; y++)
        {
            int sy = Math.Min(lh - 1, (int)((y + 0.5) * lh / Height));
            for (int x = 0; x < Width; x++) full[y * Width + x] = lab[sy * lw + Math.Min(lw - 1, (int)((x + 0.5) * lw / Width))];
        }
        var hard = new float[3 * Height * Width];
        int plane = Height * Width;
        for (int i = 0; i < plane; i++)
        {
            var (r, g, b) = FeatureCells.Colour((int)full[i]);
            hard[i] = r; hard[plane + i] = g; hard[2 * plane + i] = b;
        }
        var masks = CellMasksOf(Options, lab, band, Height, Width);
        var smooth = new float[3 * lh * lw];
        for (int e = 0; e < masks.Value.Length; e++)
        {
            var (r, g, b) = FeatureCells.Colour((int)masks.Cell[e]);
            long p = masks.Pixel[e]; float v = masks.Value[e];
            smooth[p] += v * r; smooth[lh * lw + p] += v * g; smooth[2 * lh * lw + p] += v * b;
        }
        using var smallSmooth = tensor(smooth, new long[] { 1, 3, lh, lw });
        using var smoothFull = ScaleSpace.Resample(smallSmooth, Height, Width);
        return new FeatureCellsView(Image, Keypoints, layer, band.Sigma, tensor(full, new long[] { Height, Width }),
            tensor(hard, new long[] { 3, Height, Width }), smoothFull.squeeze(0).clamp(0, 1));
    }

    void CheckThetas(Tensor thetas)
    {
        if (thetas.dim() != 2 || thetas.shape[1] != K)
            throw new ArgumentException($"Expected gains θ of shape [N,{K}] (one gain per keypoint); got [{string.Join(",", thetas.shape)}].", nameof(thetas));
    }

    /// <summary>Disposes the torch sparse decoders, the baseline offset, the mass weights, <see cref="Target"/>, <see cref="Baseline"/> and <see cref="Image"/>.</summary>
    public void Dispose()
    {
        if (_cooDecoders is not null) foreach (var t in _cooDecoders) t.Dispose();
        if (_cooFields is not null) foreach (var t in _cooFields) t.Dispose();
        _offset?.Dispose(); _massWeights?.Dispose();
        Target?.Dispose(); Baseline?.Dispose(); Image.Dispose();
    }
}

/// <summary>
/// The whole CPU decoder of Eq 4.41 as one differentiable product: gains <c>θ [N,K]</c> ↦
/// <c>Σ_ρ Up_ρ(Z̄^ρ θᵀ)</c> <c>[N,count,H,W]</c>, with Up_ρ the bilinear resampling of level ρ's grid to H×W
/// (<c>align_corners=false</c>, as <see cref="ScaleSpace.Resample"/>) and the backward pass its exact transpose
/// (Up_ρᵀ, then the transposed sparse product). All levels accumulate into one pixel-major buffer
/// <c>[H·W, count, N']</c> (N' = N rounded up to the SIMD width, so every sparse entry updates whole vectors),
/// which is transposed to <c>[N,count,H,W]</c> once (work split over pixel rows on <c>torch.get_num_threads()</c> threads) — instead of one tensor, one permutation, one
/// <c>interpolate</c> and one addition per level. The level products are those of <see cref="CellMatrix"/> (same
/// entries, same order), so the rendering agrees with the per-level form to float rounding.
/// Call as <c>LevelSumProduct.Apply(theta, matrices, H, W, c0, count)</c>.
/// </summary>
public sealed class LevelSumProduct : torch.autograd.SingleTensorFunction<LevelSumProduct>
{
    /// <summary>The autograd function's name in torch's graph.</summary>
    public override string Name => "SiftLevelSumProduct";

    static readonly int Lanes = System.Numerics.Vector<float>.Count;

    /// <summary>Renders rows <c>[c0, c0+count)</c> of every level's matrix for θ <c>[N,K]</c> (CPU, float32) at H×W.</summary>
    public static Tensor Apply(Tensor theta, IReadOnlyList<CellMatrix> matrices, int height, int width, int c0, int count) =>
        apply(theta, matrices, height, width, c0, count);

    /// <summary>Forward: <c>vars</c> = θ <c>[N,K]</c>, the level matrices, H, W, c0, count; returns the rendering <c>[N,count,H,W]</c> (saved for backward: the matrices and sizes).</summary>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var theta = (Tensor)vars[0];
        var ms = (IReadOnlyList<CellMatrix>)vars[1];
        int H = (int)vars[2], W = (int)vars[3], c0 = (int)vars[4], count = (int)vars[5];
        ctx.save_data("m", ms); ctx.save_data("h", H); ctx.save_data("w", W); ctx.save_data("c0", c0); ctx.save_data("count", count);
        int n = (int)theta.shape[0], k = (int)theta.shape[1], np = Padded(n);
        using var cpu = theta.detach().to(ScalarType.Float32).contiguous();
        var th = cpu.data<float>().ToArray();
        var tt = new float[(long)k * np];                               // θᵀ [K, N'], zero padding
        for (int b = 0; b < n; b++) for (int i = 0; i < k; i++) tt[(long)i * np + b] = th[(long)b * k + i];
        int row = count * np;
        var full = new float[(long)H * W * row];                        // Σ_ρ Up_ρ(Z̄^ρ θᵀ), pixel-major
        foreach (var m in ms)
        {
            if (m.Height == H && m.Width == W) { Product(m, tt, np, c0, count, full); continue; }
            var level = new float[(long)m.Height * m.Width * row];
            Product(m, tt, np, c0, count, level);
            Upsample(level, m.Height, m.Width, full, H, W, row);
        }
        // [H·W, count, N'] → [N, count, H·W]
        long plane = (long)H * W;
        var result = empty(new long[] { n, count, H, W }, ScalarType.Float32);
        For(0, (int)((plane + 255) / 256), blk =>
        {
            var y = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(result.bytes);   // written in place
            long p0 = blk * 256L, p1 = Math.Min(plane, p0 + 256);
            for (int b = 0; b < n; b++)
                for (int c = 0; c < count; c++)
                {
                    long dst = ((long)b * count + c) * plane;
                    for (long p = p0; p < p1; p++) y[(int)(dst + p)] = full[p * row + c * np + b];
                }
        });
        return result;
    }

    /// <summary>Backward: the exact transpose of the forward product applied to <paramref name="grad_output"/> <c>[N,count,H,W]</c>, giving ∂/∂θ <c>[N,K]</c> (no gradients for the other inputs).</summary>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        var ms = (IReadOnlyList<CellMatrix>)ctx.get_data("m");
        int H = (int)ctx.get_data("h"), W = (int)ctx.get_data("w"), c0 = (int)ctx.get_data("c0"), count = (int)ctx.get_data("count");
        int n = (int)grad_output.shape[0], k = ms[0].K, np = Padded(n), row = count * np;
        using var go = grad_output.to(ScalarType.Float32).contiguous();
        long plane = (long)H * W;
        var full = new float[plane * row];                              // the gradient, pixel-major [H·W, count, N']
        For(0, (int)((plane + 255) / 256), blk =>
        {
            var g = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(go.bytes);      // [N, count, H·W], read in place
            long p0 = blk * 256L, p1 = Math.Min(plane, p0 + 256);
            for (int b = 0; b < n; b++)
                for (int c = 0; c < count; c++)
                {
                    long src = ((long)b * count + c) * plane;
                    for (long p = p0; p < p1; p++) full[p * row + c * np + b] = g[(int)(src + p)];
                }
        });
        var gt = new float[(long)k * np];                               // ∂/∂θᵀ [K, N']
        foreach (var m in ms)
        {
            if (m.Height == H && m.Width == W) { TransposedProduct(m, full, np, c0, count, gt); continue; }
            var level = Downsample(full, H, W, m.Height, m.Width, row);   // Up_ρᵀ
            TransposedProduct(m, level, np, c0, count, gt);
        }
        var grad = new float[(long)n * k];
        for (int b = 0; b < n; b++) for (int i = 0; i < k; i++) grad[(long)b * k + i] = gt[(long)i * np + b];
        return new List<Tensor> { tensor(grad, new long[] { n, k }), null!, null!, null!, null!, null! };
    }

    static int Padded(int n) => (n + Lanes - 1) / Lanes * Lanes;

    /// <summary>
    /// Parallel.For over [from, to) on torch's intra-op thread count: with <c>torch.set_num_threads(1)</c> everything
    /// runs on the calling thread, so that its CPU time is the decoder's whole cost (as for libtorch's own kernels).
    /// </summary>
    static void For(int from, int to, Action<int> body)
    {
        int threads = torch.get_num_threads();
        if (threads <= 1) { for (int i = from; i < to; i++) body(i); return; }
        Parallel.For(from, to, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }

    /// <summary>y[p, c, :] += Σ_j Val[j·S + c0 + c]·θᵀ[Col[j], :] over the entries j of row p (parallel over row blocks).</summary>
    static void Product(CellMatrix m, float[] tt, int np, int c0, int count, float[] y)
    {
        int p = m.Height * m.Width, stride = m.Stride, row = count * np, vecs = np / Lanes;
        var rowPtr = m.RowPtr; var col = m.Col; var val = m.Val;
        const int rowsPerTask = 1024;
        For(0, (p + rowsPerTask - 1) / rowsPerTask, chunk =>
        {
            int r0 = chunk * rowsPerTask, r1 = Math.Min(p, r0 + rowsPerTask);
            var ts = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(tt.AsSpan());
            var ys = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(y.AsSpan());
            for (int r = r0; r < r1; r++)
            {
                int ab = r * (row / Lanes);
                for (int j = rowPtr[r]; j < rowPtr[r + 1]; j++)
                {
                    int gb = col[j] * vecs, vb = j * stride + c0;
                    for (int c = 0; c < count; c++)
                    {
                        var a = new System.Numerics.Vector<float>(val[vb + c]);
                        int at = ab + c * vecs;
                        for (int q = 0; q < vecs; q++) ys[at + q] += a * ts[gb + q];
                    }
                }
            }
        });
    }

    /// <summary>
    /// gᵀ[Col[j], :] += Σ_c Val[j·S + c0 + c]·G[p, c, :] over all entries (fixed row blocks with their own partial gᵀ,
    /// summed in block order: bit-identical on every run).
    /// </summary>
    static void TransposedProduct(CellMatrix m, float[] grad, int np, int c0, int count, float[] gt)
    {
        int p = m.Height * m.Width, stride = m.Stride, row = count * np, vecs = np / Lanes;
        var rowPtr = m.RowPtr; var col = m.Col; var val = m.Val;
        const int rowsPerTask = 4096;
        int chunks = (p + rowsPerTask - 1) / rowsPerTask;
        var partial = new float[chunks][];
        For(0, chunks, chunk =>
        {
            var local = new float[gt.Length];
            var ls = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(local.AsSpan());
            var gs = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(grad.AsSpan());
            int r0 = chunk * rowsPerTask, r1 = Math.Min(p, r0 + rowsPerTask);
            for (int r = r0; r < r1; r++)
            {
                int ab = r * (row / Lanes);
                for (int j = rowPtr[r]; j < rowPtr[r + 1]; j++)
                {
                    int db = col[j] * vecs, vb = j * stride + c0;
                    for (int c = 0; c < count; c++)
                    {
                        var a = new System.Numerics.Vector<float>(val[vb + c]);
                        int at = ab + c * vecs;
                        for (int q = 0; q < vecs; q++) ls[db + q] += a * gs[at + q];
                    }
                }
            }
            partial[chunk] = local;
        });
        foreach (var local in partial) for (int i = 0; i < local.Length; i++) gt[i] += local[i];
    }

    /// <summary>
    /// The taps of torch's bilinear resampling (<c>align_corners=false</c>) from <paramref name="inSize"/> to
    /// <paramref name="outSize"/> samples along one axis: source index i0, i1 and weights (1−λ, λ) of output index o,
    /// with the source coordinate s = (o + ½)·in/out − ½ clamped at 0, as in libtorch (float arithmetic).
    /// </summary>
    internal static (int[] I0, int[] I1, float[] W0, float[] W1) Taps(int inSize, int outSize)
    {
        var i0 = new int[outSize]; var i1 = new int[outSize]; var w0 = new float[outSize]; var w1 = new float[outSize];
        float scale = (float)inSize / outSize;
        for (int o = 0; o < outSize; o++)
        {
            float s = Math.Max(0f, scale * (o + 0.5f) - 0.5f);
            int a = Math.Min((int)s, inSize - 1);
            float l = Math.Min(Math.Max(s - a, 0f), 1f);
            i0[o] = a; i1[o] = a < inSize - 1 ? a + 1 : a; w1[o] = l; w0[o] = 1f - l;
        }
        return (i0, i1, w0, w1);
    }

    /// <summary>full[Y, X, :] += bilinear(level)[Y, X, :] over rows of <paramref name="row"/> floats (parallel over Y).</summary>
    static void Upsample(float[] level, int h, int w, float[] full, int H, int W, int row)
    {
        var (y0, y1, wy0, wy1) = Taps(h, H);
        var (x0, x1, wx0, wx1) = Taps(w, W);
        int vecs = row / Lanes;
        For(0, H, Y =>
        {
            var src = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(level.AsSpan());
            var dst = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(full.AsSpan());
            var a0 = new System.Numerics.Vector<float>(wy0[Y]); var a1 = new System.Numerics.Vector<float>(wy1[Y]);
            int r0 = y0[Y] * w, r1 = y1[Y] * w;
            for (int X = 0; X < W; X++)
            {
                var b0 = new System.Numerics.Vector<float>(wx0[X]); var b1 = new System.Numerics.Vector<float>(wx1[X]);
                int s00 = (r0 + x0[X]) * vecs, s01 = (r0 + x1[X]) * vecs, s10 = (r1 + x0[X]) * vecs, s11 = (r1 + x1[X]) * vecs;
                int d = (Y * W + X) * vecs;
                for (int q = 0; q < vecs; q++)
                    dst[d + q] += a0 * (b0 * src[s00 + q] + b1 * src[s01 + q]) + a1 * (b0 * src[s10 + q] + b1 * src[s11 + q]);
            }
        });
    }

    /// <summary>
    /// The transpose of <see cref="Upsample"/>: level[y, x, :] = Σ over the output pixels (Y, X) that read (y, x) of the
    /// tap weight times full[Y, X, :]. Gathered per source row from the transposed tap lists (parallel over y, each
    /// source row written by one task only).
    /// </summary>
    static float[] Downsample(float[] full, int H, int W, int h, int w, int row)
    {
        var ty = Transposed(Taps(h, H), h);
        var tx = Transposed(Taps(w, W), w);
        int vecs = row / Lanes;
        var level = new float[(long)h * w * row];
        For(0, h, y =>
        {
            var src = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(full.AsSpan());
            var dst = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(level.AsSpan());
            var tmp = new System.Numerics.Vector<float>[W * vecs];              // Σ_Y wy·full[Y, :, :] for this source row
            foreach (var (Y, a) in ty[y])
            {
                var va = new System.Numerics.Vector<float>(a);
                int s = Y * W * vecs;
                for (int i = 0; i < tmp.Length; i++) tmp[i] += va * src[s + i];
            }
            for (int x = 0; x < w; x++)
            {
                int d = (y * w + x) * vecs;
                foreach (var (X, b) in tx[x])
                {
                    var vb = new System.Numerics.Vector<float>(b);
                    int s = X * vecs;
                    for (int q = 0; q < vecs; q++) dst[d + q] += vb * tmp[s + q];
                }
            }
        });
        return level;
    }

    static List<(int Out, float Weight)>[] Transposed((int[] I0, int[] I1, float[] W0, float[] W1) taps, int inSize)
    {
        var t = new List<(int, float)>[inSize];
        for (int i = 0; i < inSize; i++) t[i] = new();
        for (int o = 0; o < taps.I0.Length; o++)
        {
            t[taps.I0[o]].Add((o, taps.W0[o]));
            t[taps.I1[o]].Add((o, taps.W1[o]));
        }
        return t;
    }
}
