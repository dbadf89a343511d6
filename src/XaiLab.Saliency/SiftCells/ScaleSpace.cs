using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Saliency.SiftCells;

/// <summary>
/// Parameters of the discretised scale space (thesis §4.1.1, §4.2.1–4.2.2, Eq 4.29–4.36, Table 4.1).
/// All σ are in pixels of the original image.
/// </summary>
public sealed record ScaleSpaceOptions
{
    /// <summary>σ_0 &gt; 0: the upper σ of the finest band T_0 = x − Γ(σ_0). Default 0.5 px (the blur SIFT assumes for a camera image).</summary>
    public double Sigma0 { get; init; } = 0.5;

    /// <summary>ρ ≥ 1: scale layers per octave (ρ_8ve of Eq 4.36). Default 3, as SIFT's 3 layers per octave.</summary>
    public double LayersPerOctave { get; init; } = 3;

    /// <summary>The top band T_M = Γ(σ_{M−1}) starts at the first σ_l ≥ this factor × max(H,W) ("σ_M on the order of the image size"). Default 1.</summary>
    public double MaxSigmaFactor { get; init; } = 1.0;

    /// <summary>Number of storage resolutions h×w, ⌊h/2⌋×⌊w/2⌋, ⌊h/4⌋×⌊w/4⌋ … (Table 4.1: 3). 1 stores everything at full resolution.</summary>
    public int ResolutionLevels { get; init; } = 3;

    /// <summary>A band goes to the coarser grid of level k (pixel 2^k) once its lower σ reaches this many coarse pixels (Table 4.1: 2.25, i.e. σ ≥ 4.5 px → h/2, σ ≥ 9 px → h/4).</summary>
    public double SwitchPixels { get; init; } = 2.25;

    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its documented range.</exception>
    public void Validate()
    {
        if (!(Sigma0 > 0) || double.IsInfinity(Sigma0)) throw new ArgumentOutOfRangeException(nameof(Sigma0), Sigma0, "Scale space σ_0 must be a finite number > 0 (pixels).");
        if (!(LayersPerOctave >= 1) || double.IsInfinity(LayersPerOctave)) throw new ArgumentOutOfRangeException(nameof(LayersPerOctave), LayersPerOctave, "Layers per octave ρ must be ≥ 1.");
        if (!(MaxSigmaFactor > 0)) throw new ArgumentOutOfRangeException(nameof(MaxSigmaFactor), MaxSigmaFactor, "MaxSigmaFactor must be > 0.");
        if (ResolutionLevels < 1 || ResolutionLevels > 8) throw new ArgumentOutOfRangeException(nameof(ResolutionLevels), ResolutionLevels, "ResolutionLevels must be in 1..8.");
        if (!(SwitchPixels > 0)) throw new ArgumentOutOfRangeException(nameof(SwitchPixels), SwitchPixels, "SwitchPixels must be > 0.");
    }
}

/// <summary>
/// One band T_l of the scale space: the σ-interval [LowerSigma, UpperSigma] it integrates (Eq 4.29; UpperSigma is
/// +∞ for the top band), the representative σ used for cell assignment and cell smoothing (geometric mean of the
/// bounds; σ_0·2^(−1/2ρ) for band 0 and σ_{M−1}·2^(1/2ρ) for the top band), and the storage level
/// (0 = full resolution, k = ⌊H/2^k⌋×⌊W/2^k⌋).
/// </summary>
public sealed record ScaleSpaceLayer(int Index, double LowerSigma, double UpperSigma, double Sigma, int Level, int Height, int Width)
{
    /// <summary>Pixel size of this band's storage grid in original pixels along (y, x).</summary>
    public (double Y, double X) PixelSize(int imageHeight, int imageWidth) => ((double)imageHeight / Height, (double)imageWidth / Width);
}

/// <summary>
/// The discretised differential-of-Gaussians scale space of an image (thesis §4.1.1, §4.2.1–4.2.2).
/// <para>
/// With σ_l = σ_0·2^(l/ρ), l = 0…M−1, and σ_{M−1} the first ≥ MaxSigmaFactor·max(H,W), the M+1 bands are
/// <c>T_0 = x − Γ(σ_0)</c> (from the unfiltered image), <c>T_l = Γ(σ_{l−1}) − Γ(σ_l)</c> for 0 &lt; l &lt; M and the
/// top band <c>T_M = Γ(σ_{M−1})</c> (Eq 4.31), where Γ(σ) = γ_σ ⋆ x (<see cref="Gaussian"/> with the half-sample reflected border and radius ⌈6σ⌉).
/// The sum telescopes, so <c>Σ_l T_l = x</c> exactly up to float rounding (Lemma 8 / Eq 4.30).
/// ρ·T_l approximates ln 2 · Δ(σ) with Δ = −σ ∂Γ/∂σ = −σ²∇²Γ (Lemma 9; the thesis' proof drops the ln 2 of
/// 2^(1/ρ) = 1 + ln2/ρ + …).
/// </para>
/// <para>
/// Multi-resolution storage (Table 4.1): a band whose lower σ is ≥ SwitchPixels·2^k is stored at level k
/// (bilinear, <c>align_corners=false</c>, no sequential decimation). To keep the storage exactly reconstructible the
/// down/up-sampling residual is carried down: going from the top band to band 0, <c>U_l = T_l + carry</c>,
/// stored <c>S_l = down_k(U_l)</c>, <c>carry = U_l − up(S_l)</c>; full-resolution bands store U_l itself and absorb
/// the carry. Hence <c>Σ_l up(S_l) = x</c> exactly; the carried residual (aliasing of a coarse band, tiny after the
/// Gaussian filtering) is reported as <see cref="ResamplingResidual"/>.
/// </para>
/// </summary>
public sealed class ScaleSpace : IDisposable
{
    /// <summary>The parameters the scale space was built with (σ_0, ρ, σ_M factor, storage levels; Table 4.1).</summary>
    public ScaleSpaceOptions Options { get; }
    /// <summary>Colour channels C of the image.</summary>
    public int Channels { get; }
    /// <summary>Image rows H (full resolution, pixels).</summary>
    public int Height { get; }
    /// <summary>Image columns W (full resolution, pixels).</summary>
    public int Width { get; }
    /// <summary>The bands' σ ranges, representative σ and storage level, index 0 (finest) … M (top).</summary>
    public IReadOnlyList<ScaleSpaceLayer> Layers { get; }
    /// <summary>Full-resolution bands T_l, <c>[M+1, C, H, W]</c>.</summary>
    public Tensor Bands { get; }
    /// <summary>Stored bands S_l at their level's resolution, each <c>[C, h_l, w_l]</c> (see class comment).</summary>
    public IReadOnlyList<Tensor> Stored { get; }
    /// <summary>Largest absolute down/up-sampling residual that was carried into a finer band (image units).</summary>
    public double ResamplingResidual { get; }

    ScaleSpace(ScaleSpaceOptions options, int c, int h, int w, IReadOnlyList<ScaleSpaceLayer> layers, Tensor bands, IReadOnlyList<Tensor> stored, double residual)
    {
        Options = options; Channels = c; Height = h; Width = w; Layers = layers; Bands = bands; Stored = stored; ResamplingResidual = residual;
    }

    /// <summary>The band layout for an image of h×w pixels (no pixel data needed).</summary>
    public static IReadOnlyList<ScaleSpaceLayer> Layout(int height, int width, ScaleSpaceOptions? options = null)
    {
        var o = options ?? new ScaleSpaceOptions();
        o.Validate();
        if (height < 2 || width < 2) throw new ArgumentException($"Scale space needs an image of at least 2×2 pixels; got {height}×{width}.");
        double step = Math.Pow(2, 1 / o.LayersPerOctave);
        double top = o.MaxSigmaFactor * Math.Max(height, width);
        var sig = new List<double> { o.Sigma0 };
        while (sig[^1] < top) sig.Add(sig[^1] * step);
        int m = sig.Count; // bands 0..m
        var layers = new List<ScaleSpaceLayer>();
        for (int l = 0; l <= m; l++)
        {
            double lo = l == 0 ? 0 : sig[l - 1];
            double hi = l == m ? double.PositiveInfinity : sig[l];
            double rep = l == 0 ? o.Sigma0 / Math.Sqrt(step) : l == m ? sig[m - 1] * Math.Sqrt(step) : Math.Sqrt(lo * hi);
            int level = 0;
            for (int k = 1; k < o.ResolutionLevels; k++)
                if (lo >= o.SwitchPixels * (1 << k) && height >> k >= 2 && width >> k >= 2) level = k;
            layers.Add(new ScaleSpaceLayer(l, lo, hi, rep, level, height >> level, width >> level));
        }
        return layers;
    }

    /// <summary>
    /// Decomposes <paramref name="image"/> (<c>[C,H,W]</c> float32 or float64, any C ≥ 1, H,W ≥ 2) into its scale-space
    /// bands, in the image's dtype.
    /// </summary>
    /// <exception cref="ArgumentException">Not a <c>[C,H,W]</c> floating-point tensor.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Bad options (σ_0 ≤ 0, ρ &lt; 1, …).</exception>
    public static ScaleSpace Build(Tensor image, ScaleSpaceOptions? options = null)
    {
        var o = options ?? new ScaleSpaceOptions();
        o.Validate();
        CheckImage(image, nameof(image));
        int c = (int)image.shape[0], h = (int)image.shape[1], w = (int)image.shape[2];
        var layers = Layout(h, w, o);
        using var scope = NewDisposeScope();
        var x = image.detach();
        var bands = new Tensor[layers.Count];
        var previous = x;
        for (int l = 0; l < layers.Count - 1; l++)
        {
            var g = Gaussian.Blur(x, layers[l].UpperSigma, BlurBorder.Reflect, Gaussian.ScaleSpaceTruncate);
            bands[l] = previous - g;
            previous = g;
        }
        bands[^1] = previous.clone();
        var stacked = stack(bands);

        var stored = new Tensor[layers.Count];
        Tensor? carry = null;
        double residual = 0;
        for (int l = layers.Count - 1; l >= 0; l--)
        {
            var u = carry is null ? bands[l] : bands[l] + carry;
            var layer = layers[l];
            if (layer.Level == 0) { stored[l] = u.clone(); carry = null; continue; }
            var s = Resample(u.unsqueeze(0), layer.Height, layer.Width).squeeze(0);
            carry = u - Resample(s.unsqueeze(0), h, w).squeeze(0);
            residual = Math.Max(residual, carry.abs().max().to_type(ScalarType.Float64).item<double>());
            stored[l] = s;
        }
        foreach (var s in stored) s.MoveToOuterDisposeScope();
        return new ScaleSpace(o, c, h, w, layers, stacked.MoveToOuterDisposeScope(), stored, residual);
    }

    /// <summary>Σ_l T_l over the full-resolution bands, <c>[C,H,W]</c> (equals the image: Lemma 8).</summary>
    public Tensor Reconstruct() => Bands.sum(new long[] { 0 });

    /// <summary>Σ_l up(S_l) over the multi-resolution storage, <c>[C,H,W]</c> (equals the image by construction).</summary>
    public Tensor ReconstructStored()
    {
        using var scope = NewDisposeScope();
        var sum = zeros(Channels, Height, Width, dtype: Bands.dtype, device: Bands.device);
        foreach (var s in Stored) sum = sum + Resample(s.unsqueeze(0), Height, Width).squeeze(0);
        return sum.MoveToOuterDisposeScope();
    }

    /// <summary>Bytes held by <see cref="Stored"/> (the multi-resolution bands).</summary>
    public long StoredBytes => Stored.Sum(s => s.NumberOfElements * s.ElementSize);

    /// <summary>
    /// Bilinear resampling of <c>[N,C,h,w]</c> to <c>[N,C,height,width]</c> (<c>align_corners=false</c>, no antialiasing:
    /// the thesis' "standard resizing routine with bilinear interpolation"); identity when the size already matches.
    /// </summary>
    public static Tensor Resample(Tensor x, int height, int width)
    {
        if (x.shape[^2] == height && x.shape[^1] == width) return x.alias();
        return nn.functional.interpolate(x, new long[] { height, width }, mode: InterpolationMode.Bilinear, align_corners: false);
    }

    internal static void CheckImage(Tensor image, string name)
    {
        if (image is null) throw new ArgumentNullException(name);
        if (image.dim() != 3 || image.shape[0] < 1 || image.shape[1] < 2 || image.shape[2] < 2)
            throw new ArgumentException($"Expected an image tensor [C,H,W] with C ≥ 1 and H,W ≥ 2; got shape [{string.Join(",", image.shape)}].", name);
        if (!image.is_floating_point())
            throw new ArgumentException($"Expected a floating-point image tensor [C,H,W] with values in [0,1]; got dtype {image.dtype}.", name);
    }

    /// <summary>Disposes <see cref="Bands"/> and every tensor of <see cref="Stored"/>.</summary>
    public void Dispose()
    {
        Bands.Dispose();
        foreach (var s in Stored) s.Dispose();
    }
}
