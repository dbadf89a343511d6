using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;
using XaiLab.Imaging.Filters;

namespace XaiLab.Saliency.Methods;

/// <summary>How per-channel values become one value per pixel.</summary>
public enum ChannelReduction
{
    /// <summary>max_c |g_c| — TorchRay's <c>gradient_to_saliency</c> (Simonyan et al. 2014 take the same maximum).</summary>
    MaxAbs,
    /// <summary>Σ_c |g_c|.</summary>
    SumAbs,
    /// <summary>Σ_c g_c (signed; e.g. Integrated Gradients' attributions summed over colour).</summary>
    Sum,
}

/// <summary>Options of <see cref="GradientMethod"/>.</summary>
public sealed record GradientOptions
{
    /// <summary>Channel reduction; default <see cref="ChannelReduction.MaxAbs"/> as in TorchRay's benchmark.</summary>
    public ChannelReduction Reduction { get; init; } = ChannelReduction.MaxAbs;
    /// <summary>Differentiated output; default the logit, as TorchRay's benchmark does.</summary>
    public ExplainedOutput Output { get; init; } = ExplainedOutput.Logit;
    /// <summary>
    /// Gaussian smoothing of the map before the argmax, σ = Smooth·max(H,W) pixels (kernel radius ⌈4σ⌉, replicated
    /// border, as TorchRay's <c>imsmooth</c>); default 0.02, TorchRay's pointing-game benchmark; 0 = the raw gradient.
    /// </summary>
    public double Smooth { get; init; } = 0.02;
}

/// <summary>
/// Plain gradient saliency (thesis §1.2.2B; Simonyan, Vedaldi &amp; Zisserman 2014): the map is
/// <c>max_c |∂y/∂x_c|</c> per pixel, <c>[H,W]</c> at image resolution, where y is the class logit (default) or score,
/// then smoothed with a Gaussian of σ = <see cref="GradientOptions.Smooth"/>·max(H,W) as TorchRay's benchmark does
/// (<c>gradient(…, smooth=0.02)</c>). Deviation kept: TorchRay smooths after resizing the map to the original image
/// (σ relative to that size); we smooth at the model's input size and the evaluation resizes afterwards — identical when
/// the image is scored at the model's size.
/// </summary>
public sealed class GradientMethod(GradientOptions? options = null) : ISaliencyMethod
{
    /// <summary>Channel reduction, smoothing (σ as a fraction of max(H,W)) and the explained output.</summary>
    public GradientOptions Options { get; } = options ?? new GradientOptions();
    /// <summary>Registry name <c>gradient</c>.</summary>
    public string Name => "gradient";

    /// <summary>The gradient map <c>[H,W]</c> of class <paramref name="classIndex"/> for <paramref name="image"/> <c>[C,H,W]</c> (one backward pass).</summary>
    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
    {
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classIndex, Name).unsqueeze(0).requires_grad_(true);
        using var _ = enable_grad();
        var y = MethodSupport.ClassOutput(model, x, classIndex, Options.Output).sum();
        var g = autograd.grad(new[] { y }, new[] { x })[0][0];
        var map = Reduce(g, Options.Reduction);
        if (Options.Smooth < 0 || double.IsNaN(Options.Smooth) || double.IsInfinity(Options.Smooth))
            throw new ArgumentOutOfRangeException(nameof(Options.Smooth), $"{Name}: smoothing must be a finite number ≥ 0; got {Options.Smooth}.");
        if (Options.Smooth > 0)
            map = Gaussian.Blur(map, Options.Smooth * Math.Max(map.shape[0], map.shape[1]), BlurBorder.Replicate, Gaussian.TorchRayTruncate);
        return new SaliencyMap(MethodSupport.Finish(map), Name, classIndex,
            new Dictionary<string, object> { [SaliencyDiagnostics.Key.Output] = y.to_type(ScalarType.Float64).item<double>() });
    }

    /// <summary>Reduces <c>[C,H,W]</c> to <c>[H,W]</c>.</summary>
    public static Tensor Reduce(Tensor g, ChannelReduction reduction) => reduction switch
    {
        ChannelReduction.MaxAbs => g.abs().amax(new long[] { 0 }),
        ChannelReduction.SumAbs => g.abs().sum(new long[] { 0 }),
        _ => g.sum(new long[] { 0 }),
    };
}

/// <summary>Options of the <see cref="CentreMethod"/> (it has none).</summary>
public sealed record CentreOptions;

/// <summary>
/// The "centre" null method of the pointing game (Zhang et al. 2016; thesis Table 2.1 "Ctr."): it ignores the model and
/// returns a bump <c>[H,W]</c>, <c>s(y,x) = −((y−H/2)² + (x−W/2)²)</c>, whose argmax is the pixel (⌊W/2⌋, ⌊H/2⌋):
/// TorchRay's benchmark points at (W/2, H/2) in pixel-index coordinates. Deviation kept: with an odd side TorchRay's
/// point falls between two pixels; a map can only point at a pixel, and the first maximum in row-major order is the
/// one at ⌊W/2⌋ (resp. ⌊H/2⌋). When the evaluation resizes the map to another image size the point moves by at most a pixel.
/// </summary>
public sealed class CentreMethod : ISaliencyMethod
{
    /// <summary>Registry name <c>centre</c>.</summary>
    public string Name => "centre";
    /// <summary>No options (an empty record, so that the registry treats every method alike).</summary>
    public CentreOptions Options { get; } = new();

    /// <summary>The centre bump <c>[H,W]</c> for the image size; the model, the image content and the class are ignored.</summary>
    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
    {
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classIndex, Name);
        long h = x.shape[1], w = x.shape[2];
        var ys = arange(h, dtype: ScalarType.Float32) - h / 2.0;
        var xs = arange(w, dtype: ScalarType.Float32) - w / 2.0;
        var map = -(ys.pow(2).unsqueeze(1) + xs.pow(2).unsqueeze(0));
        return new SaliencyMap(MethodSupport.Finish(map), Name, classIndex);
    }
}
