using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Filters;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Methods;

/// <summary>
/// Options of <see cref="ExtremalPerturbation"/>: the settings of TorchRay's pointing-game benchmark
/// (Fong, Patrick &amp; Vedaldi, ICCV 2019): areas {2.5, 5, 10, 20} % (VOC; use <see cref="CocoAreas"/> for COCO),
/// blur pyramid of 8 levels up to σ 20 px, smooth-max masks with node step 7 px and kernel σ 21 px, 800 iterations,
/// final smoothing 0.09·min(H,W), preserve variant; SGD with learning rate 0.01 and momentum 0.9 (dampening 0.9),
/// area-constraint weight 300 growing by 1.0035 per iteration, the constraint counting the mask over the image and a
/// margin of σ pixels around it. Pixel sizes refer to 224-px inputs.
/// </summary>
public sealed record ExtremalPerturbationOptions
{
    /// <summary>TorchRay's VOC07 areas.</summary>
    public static readonly IReadOnlyList<double> VocAreas = new[] { 0.025, 0.05, 0.1, 0.2 };
    /// <summary>TorchRay's COCO14 areas.</summary>
    public static readonly IReadOnlyList<double> CocoAreas = new[] { 0.018, 0.025, 0.05, 0.1 };

    /// <summary>Target areas a (fractions of the image), one mask each; default <see cref="VocAreas"/>.</summary>
    public IReadOnlyList<double> Areas { get; init; } = VocAreas;
    /// <summary>Optimisation steps; default 800 (fewer for tests and demos).</summary>
    public int Iterations { get; init; } = 800;
    /// <summary>Levels L of the blur pyramid; default 8.</summary>
    public int BlurLevels { get; init; } = 8;
    /// <summary>σ_max (pixels) of the most blurred level; level l has σ_max·(1 − l/(L−1)); default 20.</summary>
    public double MaxBlur { get; init; } = 20;
    /// <summary>Spacing (pixels) of the mask parameter nodes; default 7.</summary>
    public int Step { get; init; } = 7;
    /// <summary>Radius σ (pixels) of the smooth-max kernel; default 21. The mask also extends σ pixels beyond the image (TorchRay's margin).</summary>
    public double Sigma { get; init; } = 21;
    /// <summary>Final Gaussian smoothing of the masks, σ = Smooth·min(H,W) (zero padding, radius ⌈4σ⌉); default 0.09; 0 = off.</summary>
    public double Smooth { get; init; } = 0.09;
    /// <summary>SGD learning rate; default 0.01.</summary>
    public double LearningRate { get; init; } = 0.01;
    /// <summary>SGD momentum μ (with dampening μ); default 0.9.</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>Initial weight λ of the area constraint; default 300.</summary>
    public double AreaWeight { get; init; } = 300;
    /// <summary>Factor by which λ grows per iteration; default 1.0035.</summary>
    public double AreaWeightGrowth { get; init; } = 1.0035;
    /// <summary>Flip the perturbed image horizontally on every other iteration (TorchRay's jitter); default true.</summary>
    public bool Jitter { get; init; } = true;
    /// <summary>Rewarded output; default the logit, as in TorchRay's benchmark.</summary>
    public ExplainedOutput Output { get; init; } = ExplainedOutput.Logit;
    /// <summary>Masks optimised per forward pass (memory knob); default all areas at once.</summary>
    public int BatchSize { get; init; } = int.MaxValue;
    /// <summary>
    /// Count only the image pixels in the area constraint (false = TorchRay: the mask over the image plus its σ margin).
    /// With true, masks come out smaller and more of their mass sits in the corners; default false.
    /// </summary>
    public bool AreaOnImageOnly { get; init; }
    /// <summary>
    /// Extend the image by replicating its border when blurring (false = TorchRay: the normalised image is zero-padded,
    /// i.e. the border takes the model's mean colour <see cref="Classifier.Mean"/>); default false.
    /// </summary>
    public bool ReplicateBorder { get; init; }
}

/// <summary>
/// Extremal Perturbation, preserve variant (Fong, Patrick &amp; Vedaldi 2019), as TorchRay's <c>extremal_perturbation</c>.
/// For each target area a, a mask m_a ∈ [0,1] is optimised to maximise the class output of the perturbed image
/// <c>Φ(x; m) = pyramid level m·(L−1)</c> (linear interpolation between the blur levels; m = 1 keeps the pixel, m = 0 takes
/// the most blurred one) under the area constraint <c>λ·mean((vecsort(m) − r_a)²)</c>, where r_a is the target profile
/// with a fraction 1 − a of zeros followed by ones. Masks are <em>smooth</em>: parameters p on a grid of step s
/// (p ∈ [0,1], clamped after each step, initialised to 1 as in TorchRay) and
/// <c>m(u) = smax_j k(|u − u_j|/σ) p_j</c> over the (2r+1)² nodes around u, r = 1 + ⌈σ/s⌉, with
/// <c>k(z) = exp(−2·max(z − ½, 0)²)</c> and the smooth maximum <c>smax(v) = Σ v_j softmax(20 v)_j</c> (paper §3.2).
/// As in TorchRay the mask is generated on the image plus a margin of σ pixels (node j at image position s·j); the
/// perturbation uses the part over the image and the area constraint the whole mask (margin included;
/// <see cref="ExtremalPerturbationOptions.AreaOnImageOnly"/> drops the margin). The blur pyramid is TorchRay's
/// <c>imsmooth</c> of the normalised image (radius ⌈4σ⌉, zero padding = the mean colour in image space). The saliency
/// <c>[H,W]</c> is the sum of the smoothed masks over all areas (TorchRay benchmark).
/// Deviations kept: no random numbers (TorchRay's flip jitter is deterministic too); the final smoothing is applied at the
/// model's input size (TorchRay: after resizing to the original image). Diagnostics: <c>rewards</c> and <c>mask_areas</c> per area.
/// On the CPU the smooth maximum runs as the fused <see cref="SmoothMaxKernel"/> and the sort as <see cref="StableSortValues"/>
/// (same values to float rounding, ≈ 10× faster per iteration than the tensor formulation; see <see cref="Formulation"/>).
/// </summary>
public sealed class ExtremalPerturbation(ExtremalPerturbationOptions? options = null) : ISaliencyMethod
{
    /// <summary>Areas, iterations, blur pyramid, smooth-mask geometry, SGD and area-constraint settings (TorchRay's benchmark by default).</summary>
    public ExtremalPerturbationOptions Options { get; } = options ?? new ExtremalPerturbationOptions();
    /// <summary>
    /// How the smooth-max masks are computed: <see cref="SmoothMaxFormulation.Auto"/> (default) runs the fused
    /// <see cref="SmoothMaxKernel"/> on the CPU and the tensor formulation elsewhere; both give the same masks to float rounding.
    /// </summary>
    public SmoothMaxFormulation Formulation { get; init; } = SmoothMaxFormulation.Auto;
    /// <summary>Registry name <c>extremal-perturbation</c>.</summary>
    public string Name => "extremal-perturbation";

    const double Coldness = 20;

    /// <summary>
    /// The smooth-max mask generator for an H×W image with a margin (TorchRay's <c>MaskGenerator</c> geometry):
    /// <see cref="Generate"/> maps parameters <c>[K, ph·pw]</c> to the full masks <c>[K, OutHeight, OutWidth]</c>, whose
    /// rows/columns [<see cref="Offset"/>, Offset + H) lie over the image (<see cref="Crop"/>).
    /// </summary>
    public sealed class MaskGenerator : IDisposable
    {
        // Tensor formulation: each output pixel u reads the (2r+1)² parameters around its cell ⌊u/s⌋: the zero-padded
        // parameter grid is unfolded once per cell and each cell's values are replicated over its s×s pixels (nearest
        // upsampling), times the weights, softmax and sum over the neighbours. The fused formulation (SmoothMaxKernel)
        // computes the same per pixel without the [K, n, OutHeight, OutWidth] intermediates.
        Tensor? _weight; // [n, OutHeight, OutWidth]: k(|u − u_j|/σ) for the n = (2r+1)² neighbour nodes of each pixel (built on first use)
        readonly SmoothMaxKernel _kernel;
        readonly Device _device;
        readonly double _sigma;
        readonly int _radius, _step, _padding, _midH, _midW;
        /// <summary>How <see cref="Generate"/> evaluates the smooth maximum (default <see cref="SmoothMaxFormulation.Auto"/>).</summary>
        public SmoothMaxFormulation Formulation { get; }
        /// <summary>Image rows H the masks are made for (pixels).</summary>
        public int Height { get; }
        /// <summary>Image columns W the masks are made for (pixels).</summary>
        public int Width { get; }
        /// <summary>Rows of the parameter node grid, ⌈H/s⌉ for node step s.</summary>
        public int ParamHeight { get; }
        /// <summary>Columns of the parameter node grid, ⌈W/s⌉ for node step s.</summary>
        public int ParamWidth { get; }
        /// <summary>Rows of the full mask (image, margin above, and what the cell grid gives below).</summary>
        public int OutHeight { get; }
        /// <summary>Columns of the full mask.</summary>
        public int OutWidth { get; }
        /// <summary>Index of the first full-mask row/column over the image: round(margin).</summary>
        public int Offset { get; }
        /// <summary>The margin (pixels) by which the node grid is shifted into the full mask.</summary>
        public double Margin { get; }

        /// <summary>Precomputes the kernel weights k(|u − u_j|/σ) of the full-mask pixels for their (2r+1)² neighbouring nodes, r = 1 + ⌈σ/s⌉.</summary>
        /// <param name="height">Image rows H (pixels).</param>
        /// <param name="width">Image columns W (pixels).</param>
        /// <param name="step">Node spacing s (pixels); TorchRay 7.</param>
        /// <param name="sigma">Kernel radius σ (pixels) of the smooth maximum; TorchRay 21.</param>
        /// <param name="device">Device of the weights and of the generated masks.</param>
        /// <param name="margin">Pixels of mask around the image; null = σ (TorchRay).</param>
        /// <param name="formulation">Fused CPU kernel or tensor formulation of the smooth maximum; <see cref="SmoothMaxFormulation.Auto"/> picks the kernel for float32 CPU parameters.</param>
        public MaskGenerator(int height, int width, int step, double sigma, Device device, double? margin = null,
            SmoothMaxFormulation formulation = SmoothMaxFormulation.Auto)
        {
            Height = height; Width = width; _step = step; _sigma = sigma; _device = device; Formulation = formulation;
            Margin = margin ?? sigma;
            if (Margin < 0) throw new ArgumentOutOfRangeException(nameof(margin), $"extremal-perturbation: the mask margin must be ≥ 0; got {Margin}.");
            ParamHeight = (int)Math.Ceiling((double)height / step);
            ParamWidth = (int)Math.Ceiling((double)width / step);
            int r = _radius = 1 + (int)Math.Ceiling(sigma / step), side = 2 * r + 1, n = side * side;
            _padding = 1 + (int)Math.Ceiling((Margin + sigma) / step);
            _midH = ParamHeight + 2 * _padding - 2 * r;
            _midW = ParamWidth + 2 * _padding - 2 * r;
            OutHeight = step * _midH - step + 1;
            OutWidth = step * _midW - step + 1;
            Offset = (int)Math.Round(Margin, MidpointRounding.ToEven);
            if (Offset + height > OutHeight || Offset + width > OutWidth)
                throw new ArgumentException($"extremal-perturbation: step {step}, σ {sigma} and margin {Margin} give a {OutHeight}×{OutWidth} mask that does not cover the {height}×{width} image.");
            // The cell each full-mask row/column reads, as libtorch's nearest upsampling of the tensor formulation maps it.
            var rowCell = new int[OutHeight];
            var colCell = new int[OutWidth];
            using (var scope = NewDisposeScope())
            {
                var rows = arange(_midH, ScalarType.Float32, device: CPU).view(_midH, 1).expand(_midH, _midW);
                var cols = arange(_midW, ScalarType.Float32, device: CPU).view(1, _midW).expand(_midH, _midW);
                var up = nn.functional.interpolate(stack(new[] { rows, cols }).unsqueeze(0), new long[] { _midH * step, _midW * step }, mode: InterpolationMode.Nearest);
                var rmap = up[0, 0, .., 0].data<float>().ToArray();
                var cmap = up[0, 1, 0, ..].contiguous().data<float>().ToArray();
                for (int u = 0; u < OutHeight; u++) rowCell[u] = (int)rmap[u];
                for (int v = 0; v < OutWidth; v++) colCell[v] = (int)cmap[v];
            }
            // k(|u − u_j|/σ) depends on u only through its position (a, b) inside its s×s cell.
            _kernel = new SmoothMaxKernel(ParamHeight, ParamWidth, _padding, r, step, rowCell, colCell,
                (a, b, j) => Weight(a, b, j / side, j % side), Coldness);
        }

        /// <summary>k(|u − u_j|/σ) at full-mask pixel (u, v) for neighbour (ky, kx) of its cell (node ⌊u/s⌋ + ky − padding).</summary>
        float Weight(int u, int v, int ky, int kx)
        {
            int iy = u / _step + ky - _padding, ix = v / _step + kx - _padding;
            double dist = Math.Sqrt(Math.Pow(u - (Margin + _step * iy), 2) + Math.Pow(v - (Margin + _step * ix), 2)) / _sigma;
            return (float)Math.Exp(-2 * Math.Pow(Math.Max(dist - 0.5, 0), 2));
        }

        /// <summary>
        /// Full masks <c>[K,OutHeight,OutWidth]</c> in [0,1] from parameters <c>[K, ParamHeight·ParamWidth]</c> (differentiable):
        /// the fused <see cref="SmoothMaxKernel"/> or <see cref="GenerateTensor"/> as <see cref="Formulation"/> says.
        /// </summary>
        /// <exception cref="ArgumentException"><see cref="SmoothMaxFormulation.Fused"/> with parameters that are not float32 on the CPU.</exception>
        public Tensor Generate(Tensor parameters)
        {
            bool fusable = parameters.device_type == DeviceType.CPU && parameters.dtype == ScalarType.Float32;
            if (Formulation == SmoothMaxFormulation.Tensor || (Formulation == SmoothMaxFormulation.Auto && !fusable)) return GenerateTensor(parameters);
            return GenerateFused(parameters);
        }

        /// <summary>Full masks <c>[K,OutHeight,OutWidth]</c> in [0,1] by the fused CPU kernel (float32 CPU parameters <c>[K, ParamHeight·ParamWidth]</c>).</summary>
        /// <exception cref="ArgumentException">The parameters are not float32 on the CPU, or have the wrong shape.</exception>
        public Tensor GenerateFused(Tensor parameters)
        {
            using var scope = NewDisposeScope();
            using Scalar zero = 0.0, one = 1.0; // rooted (see ApplyPyramid)
            return _kernel.Apply(parameters).clamp(zero, one).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Full masks <c>[K,OutHeight,OutWidth]</c> in [0,1] by the tensor formulation (any device and dtype): unfold the
        /// zero-padded parameter grid, upsample each cell's neighbourhood to its pixels, weight, softmax over the neighbours and sum.
        /// </summary>
        public Tensor GenerateTensor(Tensor parameters)
        {
            using var scope = NewDisposeScope();
            if (_weight is null)
            {
                int sideW = 2 * _radius + 1, nW = sideW * sideW;
                var wts = new float[nW * OutHeight * OutWidth];
                for (int ky = 0, j = 0; ky < sideW; ky++)
                for (int kx = 0; kx < sideW; kx++, j++)
                for (int u = 0; u < OutHeight; u++)
                for (int v = 0; v < OutWidth; v++)
                    wts[(j * OutHeight + u) * OutWidth + v] = Weight(u, v, ky, kx);
                _weight = tensor(wts, new long[] { nW, OutHeight, OutWidth }, device: _device).DetachFromDisposeScope();
            }
            long k = parameters.shape[0];
            int side = 2 * _radius + 1;
            var grid = parameters.view(k, 1, ParamHeight, ParamWidth);
            var padded = nn.functional.pad(grid, new long[] { _padding, _padding, _padding, _padding });
            var cells = nn.functional.unfold(padded, side).view(k, side * side, _midH, _midW);
            var up = nn.functional.interpolate(cells, new long[] { _midH * _step, _midW * _step }, mode: InterpolationMode.Nearest);
            up = up[.., .., TensorIndex.Slice(0, OutHeight), TensorIndex.Slice(0, OutWidth)];
            var values = up * _weight.unsqueeze(0);
            using Scalar coldness = Coldness, zero = 0.0, one = 1.0; // rooted (see ApplyPyramid)
            var m = (values * (values * coldness).softmax(1)).sum(new long[] { 1 });
            return m.clamp(zero, one).MoveToOuterDisposeScope();
        }

        /// <summary>The part <c>[K,H,W]</c> of full masks <c>[K,OutHeight,OutWidth]</c> that lies over the image.</summary>
        public Tensor Crop(Tensor full) =>
            full[.., TensorIndex.Slice(Offset, Offset + Height), TensorIndex.Slice(Offset, Offset + Width)].contiguous();

        /// <summary>Disposes the precomputed kernel weights of the tensor formulation.</summary>
        public void Dispose() { _weight?.Dispose(); _weight = null; }
    }

    /// <summary>
    /// The blur pyramid <c>[L,C,H,W]</c> in TorchRay's order: level l blurred with σ_max·(1 − l/(L−1)), so the last level is
    /// the image and <see cref="ApplyPyramid"/> reads level m·(L−1) (mask m = 1 keeps the pixel). It is the shared
    /// <see cref="GaussianPyramid.Build"/> (ascending σ = σ_max·k/(L−1)) flipped along the level axis, with TorchRay's
    /// <c>imsmooth</c> radius ⌈4σ⌉. The border is the constant <paramref name="fill"/> (one value per channel; TorchRay: the
    /// mean colour) or, when it is null, replicated.
    /// </summary>
    public static Tensor BlurPyramid(Tensor image, int levels, double maxBlur, IReadOnlyList<float>? fill = null)
    {
        using var scope = NewDisposeScope();
        var border = fill is null ? BlurBorder.Replicate : BlurBorder.Constant(fill);
        var ascending = GaussianPyramid.Build(image, GaussianPyramid.LinearSigmas(levels, maxBlur), border, Gaussian.TorchRayTruncate);
        return ascending.flip(0).MoveToOuterDisposeScope();
    }

    /// <summary>Perturbed images <c>[K,C,H,W]</c>: per pixel, the pyramid read at level m·(L−1) with linear interpolation.</summary>
    public static Tensor ApplyPyramid(Tensor pyramid, Tensor masks)
    {
        long l = pyramid.shape[0], c = pyramid.shape[1], h = pyramid.shape[2], w = pyramid.shape[3], k = masks.shape[0];
        // Explicit Scalars held by `using` until the end: TorchSharp's implicit number → Scalar conversions make temporaries
        // that the GC may finalise while libtorch still reads them ("Unknown scalar type" after ~20,000 iterations).
        using Scalar top = (double)(l - 1), zero = 0.0, one = 1L, topIndex = l - 1;
        var level = masks.view(k, 1, 1, h, w) * top;
        var lo = level.detach().floor().clamp(zero, top);
        var frac = level - lo;
        var loI = lo.to_type(ScalarType.Int64).expand(k, 1, c, h, w);
        var hiI = (loI + one).clamp(max: topIndex);
        var y = pyramid.unsqueeze(0).expand(k, l, c, h, w);
        var y0 = y.gather(1, loI);
        var y1 = y.gather(1, hiI);
        return ((one - frac) * y0 + frac * y1).squeeze(1);
    }

    /// <summary>
    /// The rows of <paramref name="masks"/> <c>[K, N]</c> sorted ascending, stably (TorchRay's <c>vecsort</c>; ties in position order):
    /// <see cref="StableSortValues"/> (radix sort, same permutation) for float32 CPU masks unless <see cref="Formulation"/> is
    /// <see cref="SmoothMaxFormulation.Tensor"/>, libtorch's stable sort otherwise.
    /// </summary>
    Tensor SortedMask(Tensor masks) =>
        Formulation != SmoothMaxFormulation.Tensor && masks.device_type == DeviceType.CPU && masks.dtype == ScalarType.Float32
            ? StableSortValues.Apply(masks)
            : masks.sort(1, descending: false, stable: true).Values;

    /// <summary>The masks <c>[K,H,W]</c> (one per area, after the final smoothing) and the diagnostics.</summary>
    public (Tensor Masks, SaliencyDiagnostics Diagnostics) Masks(Classifier model, Tensor image, int classIndex)
    {
        MethodSupport.CheckPositive(Options.Iterations, nameof(Options.Iterations), Name);
        MethodSupport.CheckPositive(Options.Step, nameof(Options.Step), Name);
        MethodSupport.CheckPositive(Options.Sigma, nameof(Options.Sigma), Name);
        MethodSupport.CheckPositive(Options.BatchSize, nameof(Options.BatchSize), Name);
        if (Options.BlurLevels < 2) throw new ArgumentOutOfRangeException(nameof(Options.BlurLevels), $"{Name}: at least 2 blur levels are needed; got {Options.BlurLevels}.");
        if (Options.Areas.Count == 0 || Options.Areas.Any(a => !(a > 0 && a < 1)))
            throw new ArgumentOutOfRangeException(nameof(Options.Areas), $"{Name}: areas must be fractions in (0,1); got [{string.Join(", ", Options.Areas)}].");
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classIndex, Name).to_type(ScalarType.Float32);
        int h = (int)x.shape[1], w = (int)x.shape[2];
        var pyramid = BlurPyramid(x, Options.BlurLevels, Options.MaxBlur, Options.ReplicateBorder ? null : model.Mean);
        using var gen = new MaskGenerator(h, w, Options.Step, Options.Sigma, x.device, formulation: Formulation);
        int areas = Options.Areas.Count;
        int n = Options.AreaOnImageOnly ? h * w : gen.OutHeight * gen.OutWidth;
        var results = new List<Tensor>();
        var rewards = new double[areas];
        var batchSize = Math.Min(Options.BatchSize, areas);
        for (int start = 0; start < areas; start += batchSize)
        {
            int k = Math.Min(batchSize, areas - start);
            var reference = ones(k, n, device: x.device);
            for (int i = 0; i < k; i++) reference[i, TensorIndex.Slice(0, (long)(n * (1 - Options.Areas[start + i])))] = 0;
            var p = ones(k, gen.ParamHeight * gen.ParamWidth, device: x.device);
            Tensor? velocity = null;
            double lambda = Options.AreaWeight;
            // Rooted Scalars for the update (see ApplyPyramid: implicit temporaries can be finalised mid-call).
            using Scalar momentum = Options.Momentum, dampened = 1 - Options.Momentum, rate = Options.LearningRate, two = 2.0, zero = 0.0, one = 1.0;
            for (int t = 0; t < Options.Iterations; t++)
            {
                using var inner = NewDisposeScope();
                using Scalar weight = lambda;
                var pv = p.detach().requires_grad_(true);
                Tensor grad;
                using (enable_grad())
                {
                    var full = gen.Generate(pv);
                    var m = gen.Crop(full);
                    var xp = ApplyPyramid(pyramid, m);
                    if (Options.Jitter && t % 2 == 0) xp = xp.flip(3);
                    var reward = MethodSupport.ClassOutput(model, xp, classIndex, Options.Output);
                    var sorted = SortedMask((Options.AreaOnImageOnly ? m : full).reshape(k, n)); // stable: ties (the periodic initial mask has many) are broken by position
                    var regul = (sorted - reference).pow(two).mean(new long[] { 1 }) * weight;
                    var energy = (reward - regul).sum();
                    grad = autograd.grad(new[] { -energy }, new[] { pv })[0];
                    if (t == Options.Iterations - 1)
                    {
                        var rr = reward.detach().cpu().to_type(ScalarType.Float64).data<double>().ToArray();
                        for (int i = 0; i < k; i++) rewards[start + i] = rr[i];
                    }
                }
                // SGD with momentum and dampening as torch.optim.SGD: v ← g (first step), v ← μv + (1 − μ)g.
                var v = velocity is null ? grad.clone() : velocity * momentum + grad * dampened;
                velocity?.Dispose();
                velocity = v.detach().MoveToOuterDisposeScope();
                var np = (p - velocity * rate).clamp(zero, one).detach().MoveToOuterDisposeScope();
                p.Dispose();
                p = np;
                lambda *= Options.AreaWeightGrowth;
            }
            using (no_grad())
            {
                var masks = gen.Crop(gen.Generate(p)).unsqueeze(1);
                if (Options.Smooth > 0)
                    masks = Gaussian.Blur(masks, Options.Smooth * Math.Min(h, w), BlurBorder.Zero, Gaussian.TorchRayTruncate);
                results.Add(masks.squeeze(1));
            }
        }
        var all = cat(results.ToArray(), 0);
        var areasFound = all.reshape(areas, -1).mean(new long[] { 1 }).cpu().to_type(ScalarType.Float64).data<double>().ToArray();
        var diag = new Dictionary<string, object>
        {
            ["areas"] = Options.Areas.ToArray(),
            ["rewards"] = rewards,
            ["mask_areas"] = areasFound,
            [SaliencyDiagnostics.Key.Iterations] = Options.Iterations,
        };
        return (all.detach().cpu().MoveToOuterDisposeScope(), new SaliencyDiagnostics(diag));
    }

    /// <summary>
    /// Optimises one preserve mask per area of <see cref="ExtremalPerturbationOptions.Areas"/> for <paramref name="classIndex"/>
    /// and returns their sum, <c>[H,W]</c> float32 on the CPU (larger = more salient), with the diagnostics
    /// <c>areas</c>, <c>rewards</c>, <c>mask_areas</c> and <c>iterations</c>.
    /// </summary>
    /// <param name="model">The classifier explained.</param>
    /// <param name="image">The image <c>[C,H,W]</c> in [0,1] at the model's input size.</param>
    /// <param name="classIndex">The class whose output (<see cref="ExtremalPerturbationOptions.Output"/>) the masks preserve.</param>
    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
    {
        var (masks, diag) = Masks(model, image, classIndex);
        using (masks)
        {
            using var scope = NewDisposeScope();
            return new SaliencyMap(MethodSupport.Finish(masks.sum(new long[] { 0 })), Name, classIndex, diag);
        }
    }
}
