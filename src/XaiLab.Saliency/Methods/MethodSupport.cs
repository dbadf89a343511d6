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
