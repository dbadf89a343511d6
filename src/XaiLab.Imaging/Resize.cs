using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging;

/// <summary>
/// Bilinear resizing (align_corners = false, no antialiasing — TorchRay's and torchvision's <c>F.interpolate</c> convention)
/// of images, batches and maps, and the one routine that makes an image fit a <see cref="Classifier"/>. The commands
/// (<c>explain</c>, <c>bench methods</c>) and the pointing-game runner all call <see cref="ToModel"/>, so that a map computed
/// on a resized image and resized back means the same everywhere.
/// </summary>
public static class Resize
{
    /// <summary>
    /// <paramref name="x"/> resized bilinearly to <paramref name="height"/>×<paramref name="width"/>; accepts a map <c>[H,W]</c>,
    /// an image <c>[C,H,W]</c> or a batch <c>[N,C,H,W]</c> and returns the same rank, float32 (float64 stays float64).
    /// A tensor already of that size is returned as a copy.
    /// </summary>
    /// <exception cref="ArgumentException">Rank other than 2, 3 or 4, or a size ≤ 0.</exception>
    public static Tensor Bilinear(Tensor x, int height, int width)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"Resize: the target size must be positive; got {height}×{width}.");
        int rank = (int)x.dim();
        if (rank is < 2 or > 4) throw new ArgumentException($"Resize: expected [H,W], [C,H,W] or [N,C,H,W]; got [{string.Join(",", x.shape)}].");
        using var scope = NewDisposeScope();
        var dtype = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var b = x.to_type(dtype);
        if (b.shape[^2] == height && b.shape[^1] == width) return b.clone().MoveToOuterDisposeScope();
        for (int i = rank; i < 4; i++) b = b.unsqueeze(0);
        var r = nn.functional.interpolate(b, new long[] { height, width }, mode: InterpolationMode.Bilinear, align_corners: false);
        for (int i = rank; i < 4; i++) r = r.squeeze(0);
        return r.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Makes an image <c>[C,H,W]</c> in [0,1] fit <paramref name="model"/>: grey (the channel mean) for a 1-channel model given
    /// RGB, the grey channel repeated for a 3-channel model given grey, and a bilinear resize to the model's input size where
    /// it is fixed (values clamped to [0,1] against rounding). Each change is reported through <paramref name="note"/>.
    /// Returns a new tensor (float32, contiguous) the caller disposes.
    /// </summary>
    /// <exception cref="ArgumentException">The image is not <c>[C,H,W]</c> or its channel count cannot be made to fit.</exception>
    public static Tensor ToModel(Tensor image, Classifier model, Action<string>? note = null)
    {
        if (image.dim() != 3) throw new ArgumentException($"Resize.ToModel: expected an image [C,H,W]; got [{string.Join(",", image.shape)}].");
        using var scope = NewDisposeScope();
        var x = image.to_type(ScalarType.Float32);
        if (x.shape[0] == 3 && model.Channels == 1) { x = x.mean(new long[] { 0 }, keepdim: true); note?.Invoke("converted the RGB image to grey for a 1-channel model"); }
        else if (x.shape[0] == 1 && model.Channels == 3) { x = x.expand(3, x.shape[1], x.shape[2]); note?.Invoke("repeated the grey image over 3 channels"); }
        else if (x.shape[0] != model.Channels)
            throw new ArgumentException($"Model '{model.Name}' expects {model.Channels} channel(s); the image has {x.shape[0]}.");
        if (model.InputSize is { } s && (x.shape[1] != s.H || x.shape[2] != s.W))
        {
            note?.Invoke($"resized the image from {x.shape[1]}×{x.shape[2]} to the model's {s.H}×{s.W}");
            x = Bilinear(x, s.H, s.W).clamp(0, 1);
        }
        return x.contiguous().clone().MoveToOuterDisposeScope();
    }
}
