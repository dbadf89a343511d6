using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace XaiLab.Denoising;

/// <summary>Rotations of images and the disc of interest (thesis §7.1, Eq 7.1–7.3), in the grid convention of <see cref="Projector"/>.</summary>
public static class ImageOps
{
    /// <summary>
    /// The indicator of the unit disc (Eq 7.2) on an n×n grid: 1 where the pixel centre has <c>|r| ≤ radius</c>, else 0.
    /// <c>[n,n]</c> float32.
    /// </summary>
    public static Tensor DiscMask(int size, double radius = 1.0, Device? device = null)
    {
        var c = Projector.PixelCentres(size);
        var m = new float[size * size];
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++)
                m[i * size + j] = c[i] * c[i] + c[j] * c[j] <= radius * radius ? 1f : 0f;
        return tensor(m, device: device).view(size, size);
    }

    /// <summary>Width (pixels) of the cosine taper of <see cref="InputWindow"/>.</summary>
    public const double InputTaperPixels = 4;

    /// <summary>
    /// The aperture the noisy images are seen through (thesis Eq 7.1–7.2, J = L²(D²)): 1 for r ≤ 1 − 2t/n, a raised
    /// cosine down to 0 at r = 1, 0 beyond, with t = <see cref="InputTaperPixels"/>. A function of the continuous radius
    /// that is smooth, so a band-limited rotation maps <c>W·x</c> to <c>W·(R x)</c> to within ~1e-4; the hard disc
    /// (<see cref="DiscMask"/>) is a staircase of pixels that no rotation preserves, and rotating a hard-edged input
    /// leaves an error of order (rim pixels / disc pixels) in any equivariance measure. <c>[n,n]</c> float32.
    /// </summary>
    public static Tensor InputWindow(int size, Device? device = null)
    {
        var c = Projector.PixelCentres(size);
        double r0 = 1 - 2 * InputTaperPixels / size;
        var m = new float[size * size];
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++)
            {
                double r = Math.Sqrt(c[i] * c[i] + c[j] * c[j]);
                m[i * size + j] = r <= r0 ? 1f : r >= 1 ? 0f : (float)(0.5 * (1 + Math.Cos(Math.PI * (r - r0) / (1 - r0))));
            }
        return tensor(m, device: device).view(size, size);
    }

    /// <summary>
    /// Rotates each image about the image centre by its angle (radians, counter-clockwise in (x, y); the content at
    /// position p moves to R_θ p), by bilinear <c>grid_sample</c> (border padding, <c>align_corners=false</c>).
    /// Exact only in distribution for band-limited content; bilinear interpolation also smooths a little.
    /// </summary>
    /// <param name="images"><c>[B,C,H,W]</c>, H = W.</param>
    /// <param name="angles">B angles in radians.</param>
    public static Tensor Rotate(Tensor images, IReadOnlyList<double> angles)
    {
        if (images.dim() != 4 || images.shape[2] != images.shape[3])
            throw new ArgumentException($"images must be [B,C,H,W] with H = W, got [{string.Join(",", images.shape)}].");
        if (angles.Count != images.shape[0]) throw new ArgumentException($"Expected {images.shape[0]} angles, got {angles.Count}.");
        using var scope = NewDisposeScope();
        // (R_θ f)(p) = f(R_−θ p): the sampling grid maps output p to input R_−θ p = [[c, s], [−s, c]] p.
        var theta = new float[angles.Count * 6];
        for (int b = 0; b < angles.Count; b++)
        {
            float c = (float)Math.Cos(angles[b]), s = (float)Math.Sin(angles[b]);
            theta[6 * b + 0] = c; theta[6 * b + 1] = s; theta[6 * b + 2] = 0;
            theta[6 * b + 3] = -s; theta[6 * b + 4] = c; theta[6 * b + 5] = 0;
        }
        var th = tensor(theta, device: images.device).view(angles.Count, 2, 3).to(images.dtype);
        var grid = F.affine_grid(th, images.shape, align_corners: false);
        return F.grid_sample(images, grid, mode: GridSampleMode.Bilinear, padding_mode: GridSamplePaddingMode.Border, align_corners: false)
            .MoveToOuterDisposeScope();
    }
}
