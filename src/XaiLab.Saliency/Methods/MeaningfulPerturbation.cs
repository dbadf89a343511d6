using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Saliency.Methods;

/// <summary>
/// Options of <see cref="MeaningfulPerturbation"/>. Defaults are the published ones of Fong &amp; Vedaldi (ICCV 2017, §4)
/// for 224×224 images: λ1 = 1e-4, λ2 = 1e-2, β = 3, 300 Adam iterations at learning rate 0.1, a 28×28 mask (one mask
/// cell per 8 image pixels) upsampled bilinearly, blur σ = 10 px, jitter up to 4 px. Pixel quantities are in image
/// pixels; for other image sizes scale <see cref="BlurSigma"/> and <see cref="Jitter"/> with the image if wanted.
/// The L1 and TV sums are taken over the upsampled mask and expressed on a 224×224 image
/// (<see cref="MeaningfulPerturbation.Penalties"/>), so that λ1 and λ2 keep their published balance against the score at any resolution.
/// </summary>
public sealed record MeaningfulPerturbationOptions
{
    /// <summary>Weight λ1 of the deletion-area term ‖1 − m‖₁; default 1e-4.</summary>
    public double L1Weight { get; init; } = 1e-4;
    /// <summary>Weight λ2 of the total-variation term; default 1e-2.</summary>
    public double TvWeight { get; init; } = 1e-2;
    /// <summary>Exponent β of the TV term Σ (|∂_y m|^β + |∂_x m|^β); default 3.</summary>
    public double TvBeta { get; init; } = 3;
    /// <summary>Optimisation steps; default 300.</summary>
    public int Iterations { get; init; } = 300;
    /// <summary>Adam learning rate; default 0.1.</summary>
    public double LearningRate { get; init; } = 0.1;
    /// <summary>Image pixels per mask cell; default 8 (28×28 masks for 224×224 images).</summary>
    public int MaskDownsampling { get; init; } = 8;
    /// <summary>σ (pixels) of the Gaussian blur that deleted regions take; default 10.</summary>
    public double BlurSigma { get; init; } = 10;
    /// <summary>Largest random translation τ (pixels, per axis) of the image in each step (Eq 1.10's expectation over τ); default 4; 0 = off.</summary>
    public int Jitter { get; init; } = 4;
    /// <summary>Seed of the jitter; default 0.</summary>
    public long Seed { get; init; }
}

/// <summary>
/// Meaningful Perturbation (Fong &amp; Vedaldi 2017; thesis §1.2.3E, Eq 1.10), deletion game: find a mask m ∈ [0,1]
/// (1 = keep the pixel, 0 = replace it by the blurred image) minimising
/// <c>λ1‖1 − m‖₁ + λ2 TV_β(m) + E_τ F(τ(x) ⊙ m + τ(blur(x)) ⊙ (1 − m))</c> with Adam, clamping m to [0,1] after
/// every step. F is the activated class score. The saliency <c>[H,W]</c> is the deleted amount <c>1 − m</c>
/// (upsampled), so larger = more salient. Diagnostics: <c>final_score</c> (F of the perturbed, unjittered image),
/// <c>initial_score</c>, <c>deleted_fraction</c> (mean of 1 − m), <c>final_loss</c>.
/// </summary>
public sealed class MeaningfulPerturbation(MeaningfulPerturbationOptions? options = null) : ISaliencyMethod
{
    /// <summary>λ1, λ2, β, iterations, learning rate, mask size, blur σ and jitter (published defaults, see <see cref="MeaningfulPerturbationOptions"/>).</summary>
    public MeaningfulPerturbationOptions Options { get; } = options ?? new MeaningfulPerturbationOptions();
    /// <summary>Registry name <c>meaningful-perturbation</c>.</summary>
    public string Name => "meaningful-perturbation";

    const double ReferencePixels = 224.0 * 224.0;

    /// <summary>
    /// The two regularisers of Eq 1.10 for an upsampled mask <paramref name="up"/> <c>[1,1,H,W]</c>, expressed on a 224×224
    /// image (the resolution λ1 = 1e-4 and λ2 = 1e-2 were published for), so that they keep their balance against a score in
    /// [0,1] at any resolution: L1 = (224²/HW)·Σ|1 − m| (the deleted area counted in 224-px pixels: deleting 10 % of the image
    /// costs λ1·L1 = 0.5) and TV = (224/L)^(2−β)·Σ(|∂_y m|^β + |∂_x m|^β), L = √(HW): the same mask drawn at 224 px has
    /// (224/L)² times as many pixels and gradients L/224 times as large. At 224×224 both are the plain lattice sums.
    /// (Until pointing-game result format 4 both sums were divided by H·W once more than this: regularisers about 16,000×
    /// (L1) and 3,000× (TV) too weak at 128 px, masks that deleted half of the image and saliency maps whose maximum was a
    /// plateau of ties, so that the pointing game's first-index argmax fell on the top rows: 17 % on fashion-scenes-multi.)
    /// </summary>
    /// <param name="up">The mask at image resolution, <c>[1,1,H,W]</c> (differentiable).</param>
    /// <param name="beta">TV exponent β.</param>
    public static (Tensor L1, Tensor Tv) Penalties(Tensor up, double beta)
    {
        double h = up.shape[^2], w = up.shape[^1], side = Math.Sqrt(h * w);
        var l1 = (1 - up).abs().sum() * (ReferencePixels / (h * w));
        var dyM = (up[.., .., 1.., ..] - up[.., .., ..^1, ..]).abs().pow(beta);
        var dxM = (up[.., .., .., 1..] - up[.., .., .., ..^1]).abs().pow(beta);
        var tv = (dyM.sum() + dxM.sum()) * Math.Pow(Math.Sqrt(ReferencePixels) / side, 2 - beta);
        return (l1, tv);
    }

    /// <summary>The deleted amount <c>1 − m</c> <c>[H,W]</c> of the optimised mask (Eq 1.10) for class <paramref name="classIndex"/> of <paramref name="image"/> <c>[C,H,W]</c>.</summary>
    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
    {
        MethodSupport.CheckPositive(Options.Iterations, nameof(Options.Iterations), Name);
        MethodSupport.CheckPositive(Options.MaskDownsampling, nameof(Options.MaskDownsampling), Name);
        MethodSupport.CheckPositive(Options.LearningRate, nameof(Options.LearningRate), Name);
        if (Options.Jitter < 0) throw new ArgumentOutOfRangeException(nameof(Options.Jitter), $"{Name}: jitter must be ≥ 0; got {Options.Jitter}.");
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classIndex, Name).to_type(ScalarType.Float32).unsqueeze(0);
        int h = (int)x.shape[2], w = (int)x.shape[3];
        var blurred = Gaussian.Blur(x, Options.BlurSigma);
        int mh = (int)Math.Ceiling((double)h / Options.MaskDownsampling), mw = (int)Math.Ceiling((double)w / Options.MaskDownsampling);
        using var m = new TorchSharp.Modules.Parameter(ones(new long[] { 1, 1, mh, mw }, device: x.device), true);
        var adam = optim.Adam(new[] { m }, lr: Options.LearningRate);
        var rng = new Random((int)(Options.Seed & 0x7fffffff) ^ (int)(Options.Seed >> 31));
        double loss = double.NaN, initial = double.NaN;
        Tensor Upsample(Tensor small) => nn.functional.interpolate(small, new long[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false);
        for (int it = 0; it < Options.Iterations; it++)
        {
            using var inner = NewDisposeScope();
            using var _ = enable_grad();
            var up = Upsample(m);
            var composite = x * up + blurred * (1 - up);
            if (Options.Jitter > 0)
            {
                long dy = rng.Next(-Options.Jitter, Options.Jitter + 1), dx = rng.Next(-Options.Jitter, Options.Jitter + 1);
                composite = composite.roll(new long[] { dy, dx }, new long[] { 2, 3 });
            }
            var f = model.Scores(composite)[0, classIndex];
            var (l1, tv) = Penalties(up, Options.TvBeta);
            var total = Options.L1Weight * l1 + Options.TvWeight * tv + f;
            if (it == 0) initial = f.item<float>();
            loss = total.item<float>();
            adam.zero_grad();
            total.backward();
            adam.step();
            using (no_grad()) m.clamp_(0, 1);
        }
        using var ng = no_grad();
        var finalUp = Upsample(m.detach());
        var finalScore = model.Scores(x * finalUp + blurred * (1 - finalUp))[0, classIndex].item<float>();
        var sal = (1 - finalUp)[0, 0];
        return new SaliencyMap(MethodSupport.Finish(sal), Name, classIndex, new Dictionary<string, object>
        {
            [SaliencyDiagnostics.Key.FinalScore] = (double)finalScore,
            [SaliencyDiagnostics.Key.InitialScore] = initial,
            ["deleted_fraction"] = sal.mean().item<float>(),
            ["final_loss"] = loss,
            [SaliencyDiagnostics.Key.Iterations] = Options.Iterations,
        });
    }
}
