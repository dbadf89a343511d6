using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Methods;

/// <summary>Which output of the classifier a gradient-based method differentiates.</summary>
public enum ExplainedOutput
{
    /// <summary>The activated score F(x) of the class (softmax or sigmoid, thesis Eq 1.3).</summary>
    Score,
    /// <summary>The class logit before the activation (Grad-CAM's y^c; what TorchRay's benchmark backpropagates).</summary>
    Logit,
}

/// <summary>Shared input checks and small tensor helpers of the saliency methods.</summary>
public static class MethodSupport
{
    /// <summary>
    /// Checks that <paramref name="image"/> is <c>[C,H,W]</c> with the model's channel count (and input size, if fixed)
    /// and that <paramref name="classIndex"/> is valid. Returns the image as float32 on the model's device, detached.
    /// </summary>
    /// <exception cref="ArgumentException">Wrong rank, channel count or size.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Class index out of range.</exception>
    public static Tensor PrepareImage(Classifier model, Tensor image, int classIndex, string method)
    {
        if (image is null) throw new ArgumentNullException(nameof(image));
        if (image.dim() != 3)
            throw new ArgumentException($"{method}: expected one image [C,H,W]; got shape [{string.Join(",", image.shape)}].", nameof(image));
        if (image.shape[0] != model.Channels)
            throw new ArgumentException($"{method}: model '{model.Name}' expects {model.Channels} channel(s); got image [{string.Join(",", image.shape)}].", nameof(image));
        if (model.InputSize is { } s && (image.shape[1] != s.H || image.shape[2] != s.W))
            throw new ArgumentException($"{method}: model '{model.Name}' expects {s.H}×{s.W} images; got {image.shape[1]}×{image.shape[2]}.", nameof(image));
        model.CheckClass(classIndex);
        var dtype = image.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        return image.detach().to(model.Device).to_type(dtype);
    }

    /// <summary>The explained output <c>[N]</c> of class <paramref name="classIndex"/> for a batch <c>[N,C,H,W]</c>.</summary>
    public static Tensor ClassOutput(Classifier model, Tensor batch, int classIndex, ExplainedOutput output) =>
        (output == ExplainedOutput.Score ? model.Scores(batch) : model.Logits(batch))[.., classIndex];

    /// <summary>
    /// An image shaped like <paramref name="like"/> <c>[C,H,W]</c> filled with the model's mean colour
    /// (<see cref="Classifier.Mean"/>): the image that normalises to zero, i.e. what TorchRay's zero padding or zero
    /// masking of the normalised input means in image space.
    /// </summary>
    public static Tensor MeanImage(Classifier model, Tensor like)
    {
        using var scope = NewDisposeScope();
        var m = tensor(model.Mean.ToArray(), new long[] { model.Mean.Count, 1, 1 }, dtype: like.dtype, device: like.device);
        return m.expand(like.shape).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Moves a finished map to the CPU as float32 <c>[h,w]</c>, detached, out of the caller's dispose scope.</summary>
    internal static Tensor Finish(Tensor map) =>
        map.detach().to(CPU).to_type(ScalarType.Float32).contiguous().MoveToOuterDisposeScope();

    internal static void CheckPositive(int value, string name, string method)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, $"{method}: {name} must be positive; got {value}.");
    }

    internal static void CheckPositive(double value, string name, string method)
    {
        if (!(value > 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, $"{method}: {name} must be a positive finite number; got {value}.");
    }
}

/// <summary>Gaussian filtering of images and masks <c>[N,C,H,W]</c> (separable, kernel radius ⌈3σ⌉).</summary>
public static class ImageFilters
{
    /// <summary>How the border is extended before filtering.</summary>
    public enum Border
    {
        /// <summary>Repeat the edge pixel (a blurred photo keeps its brightness at the border).</summary>
        Replicate,
        /// <summary>Zeros outside the image (used to smooth masks: mass does not leak in from outside).</summary>
        Zero,
        /// <summary>A given colour per channel outside the image (e.g. the model's mean colour = TorchRay's zero padding of the normalised image).</summary>
        Constant,
    }

    /// <summary>
    /// Normalised 1-D Gaussian kernel of standard deviation <paramref name="sigma"/> pixels, radius
    /// ⌈<paramref name="radiusFactor"/>·σ⌉ (at least 1). TorchRay's <c>imsmooth</c> uses radius ⌈4σ⌉ (<see cref="TorchRayRadius"/>).
    /// </summary>
    public static Tensor Kernel1D(double sigma, ScalarType dtype = ScalarType.Float32, Device? device = null, double radiusFactor = 3)
    {
        int r = Math.Max(1, (int)Math.Ceiling(radiusFactor * sigma));
        var k = new double[2 * r + 1];
        double sum = 0;
        for (int i = -r; i <= r; i++) { k[i + r] = Math.Exp(-0.5 * i * i / (sigma * sigma)); sum += k[i + r]; }
        for (int i = 0; i < k.Length; i++) k[i] /= sum;
        return tensor(k, dtype: dtype, device: device ?? CPU);
    }

    /// <summary>The kernel radius factor of TorchRay's <c>imsmooth</c>: the kernel spans i ∈ [−⌈4σ⌉, ⌈4σ⌉].</summary>
    public const double TorchRayRadius = 4;

    /// <summary>
    /// Blurs <paramref name="x"/> <c>[N,C,H,W]</c> with a Gaussian of standard deviation <paramref name="sigma"/> pixels
    /// (same σ for rows and columns), each channel separately. σ ≤ 0 returns a copy. The output has the input's shape.
    /// Replicate padding is applied in steps when the radius exceeds the image size, so any σ works.
    /// The kernel radius is ⌈<paramref name="radiusFactor"/>·σ⌉ (3 by default; <see cref="TorchRayRadius"/> = TorchRay's <c>imsmooth</c>).
    /// With <see cref="Border.Constant"/>, the outside takes the per-channel values <paramref name="fill"/> (length C).
    /// </summary>
    /// <exception cref="ArgumentException">The input is not 4-D, or <paramref name="fill"/> is missing or has the wrong length.</exception>
    public static Tensor GaussianBlur(Tensor x, double sigma, Border border = Border.Replicate, double radiusFactor = 3, IReadOnlyList<float>? fill = null)
    {
        if (x.dim() != 4) throw new ArgumentException($"GaussianBlur expects [N,C,H,W]; got [{string.Join(",", x.shape)}].", nameof(x));
        if (!(sigma > 0)) return x.clone();
        using var scope = NewDisposeScope();
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var k = Kernel1D(sigma, x.dtype, x.device, radiusFactor);
        int r = (int)(k.shape[0] / 2);
        var y = x;
        if (border == Border.Constant)
        {
            if (fill is null || fill.Count != c)
                throw new ArgumentException($"GaussianBlur: a constant border needs one fill value per channel ({c}); got {(fill is null ? "none" : fill.Count.ToString())}.", nameof(fill));
            // Blurring is linear: blur(x − f) with zero padding, plus f, pads with the colour f.
            var f = tensor(fill.ToArray(), new long[] { 1, c, 1, 1 }, dtype: x.dtype, device: x.device);
            y = x - f;
            y = nn.functional.pad(y.reshape(n * c, 1, h, w), new long[] { r, r, r, r }, PaddingModes.Zeros);
            y = nn.functional.conv2d(y, k.view(1, 1, 1, -1));
            y = nn.functional.conv2d(y, k.view(1, 1, -1, 1));
            return (y.reshape(n, c, h, w) + f).MoveToOuterDisposeScope();
        }
        y = x.reshape(n * c, 1, h, w);
        var mode = border == Border.Zero ? PaddingModes.Zeros : PaddingModes.Replicate;
        y = nn.functional.pad(y, new long[] { r, r, r, r }, mode);
        y = nn.functional.conv2d(y, k.view(1, 1, 1, -1));
        y = nn.functional.conv2d(y, k.view(1, 1, -1, 1));
        return y.reshape(n, c, h, w).MoveToOuterDisposeScope();
    }
}
