using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.SiftCells;

/// <summary>
/// Data for a picture of the SIFT feature cells at one scale-space band (thesis §4.1.3, Fig 4.4/4.5), for a notebook
/// formatter: the image <c>[C,H,W]</c>, its keypoints, the band index and representative σ (original pixels), the
/// hard Voronoi label map <c>[H,W]</c> (int64 keypoint indices, nearest-upsampled from the band's grid), and
/// colourings <c>[3,H,W]</c> of the hard cells and of the smooth (blurred, sparsified, redistributed) cells.
/// </summary>
public sealed record FeatureCellsView(
    Tensor Image, IReadOnlyList<SiftKeypoint> Keypoints, int Layer, double Sigma, Tensor Labels, Tensor HardCells, Tensor SmoothCells);

/// <summary>Draws keypoints over an image for display.</summary>
public static class KeypointDrawing
{
    /// <summary>
    /// Returns a copy of <paramref name="image"/> (<c>[C,H,W]</c>, C = 1 or 3, values in [0,1]) as <c>[3,H,W]</c> with a
    /// one-pixel circle of radius <c>radiusPerSigma·σ</c> (at least 1 px) around each keypoint and a dot at its centre,
    /// in colour (r,g,b) ∈ [0,1]³ (default yellow). Keypoints with centres outside the image are skipped.
    /// </summary>
    public static Tensor Draw(Tensor image, IEnumerable<SiftKeypoint> keypoints, double radiusPerSigma = 2, (float R, float G, float B)? colour = null)
    {
        ScaleSpace.CheckImage(image, nameof(image));
        if (image.shape[0] != 1 && image.shape[0] != 3) throw new ArgumentException($"Draw expects a grey [1,H,W] or RGB [3,H,W] image; got {image.shape[0]} channels.", nameof(image));
        if (!(radiusPerSigma > 0)) throw new ArgumentOutOfRangeException(nameof(radiusPerSigma), radiusPerSigma, "radiusPerSigma must be > 0.");
        var (cr, cg, cb) = colour ?? (1f, 0.9f, 0.1f);
        int h = (int)image.shape[1], w = (int)image.shape[2], plane = h * w;
        using var rgb = (image.shape[0] == 1 ? image.expand(3, h, w) : image).to(ScalarType.Float32).cpu().contiguous();
        var d = rgb.data<float>().ToArray();
        void Put(int x, int y)
        {
            if (x < 0 || y < 0 || x >= w || y >= h) return;
            int i = y * w + x;
            d[i] = cr; d[plane + i] = cg; d[2 * plane + i] = cb;
        }
        foreach (var k in keypoints)
        {
            if (k.X < -0.5 || k.Y < -0.5 || k.X > w - 0.5 || k.Y > h - 0.5) continue;
            double r = Math.Max(1, radiusPerSigma * k.Sigma);
            int steps = Math.Max(16, (int)Math.Ceiling(2 * Math.PI * r * 1.5));
            for (int s = 0; s < steps; s++)
            {
                double a = 2 * Math.PI * s / steps;
                Put((int)Math.Round(k.X + r * Math.Cos(a)), (int)Math.Round(k.Y + r * Math.Sin(a)));
            }
            Put((int)Math.Round(k.X), (int)Math.Round(k.Y));
        }
        Devices.EnsureNativeLoaded();
        return tensor(d, new long[] { 3, h, w });
    }
}
