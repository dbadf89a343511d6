using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Visual;

/// <summary>
/// Perceptual colour maps for heatmaps: a map <c>[H,W]</c> becomes an RGB image <c>[3,H,W]</c> in [0,1].
/// Each map is a table of anchor colours interpolated linearly (anchors sampled from the published maps).
/// </summary>
public sealed class Colormap
{
    readonly float[,] _anchors; // [n,3]

    Colormap(string name, float[,] anchors) { Name = name; _anchors = anchors; }

    /// <summary>The map's name as <see cref="ByName"/> accepts it (viridis, inferno, diverging, gray).</summary>
    public string Name { get; }

    /// <summary>viridis (matplotlib's default): dark blue → green → yellow. Good for saliency (larger = brighter).</summary>
    public static Colormap Viridis { get; } = new("viridis", new float[,]
    {
        { 0.267f, 0.005f, 0.329f }, { 0.283f, 0.141f, 0.458f }, { 0.254f, 0.265f, 0.530f }, { 0.207f, 0.372f, 0.553f },
        { 0.164f, 0.471f, 0.558f }, { 0.128f, 0.567f, 0.551f }, { 0.135f, 0.659f, 0.518f }, { 0.267f, 0.749f, 0.441f },
        { 0.478f, 0.821f, 0.318f }, { 0.741f, 0.873f, 0.150f }, { 0.993f, 0.906f, 0.144f },
    });

    /// <summary>inferno: black → red → yellow; reads well over photographs.</summary>
    public static Colormap Inferno { get; } = new("inferno", new float[,]
    {
        { 0.001f, 0.000f, 0.014f }, { 0.087f, 0.045f, 0.225f }, { 0.258f, 0.039f, 0.406f }, { 0.416f, 0.090f, 0.433f },
        { 0.578f, 0.148f, 0.404f }, { 0.735f, 0.216f, 0.330f }, { 0.865f, 0.317f, 0.226f }, { 0.954f, 0.469f, 0.098f },
        { 0.988f, 0.645f, 0.040f }, { 0.964f, 0.843f, 0.273f }, { 0.988f, 0.998f, 0.645f },
    });

    /// <summary>A diverging blue–white–red map for signed quantities (e.g. contrastive saliency, gradients).</summary>
    public static Colormap Diverging { get; } = new("diverging", new float[,]
    {
        { 0.230f, 0.299f, 0.754f }, { 0.552f, 0.690f, 0.996f }, { 0.865f, 0.865f, 0.865f }, { 0.958f, 0.604f, 0.482f }, { 0.706f, 0.016f, 0.150f },
    });

    /// <summary>Grey ramp.</summary>
    public static Colormap Gray { get; } = new("gray", new float[,] { { 0, 0, 0 }, { 1, 1, 1 } });

    /// <summary>Looks a map up by name (viridis, inferno, diverging, gray).</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static Colormap ByName(string name) => name.ToLowerInvariant() switch
    {
        "viridis" => Viridis,
        "inferno" => Inferno,
        "diverging" or "coolwarm" => Diverging,
        "gray" or "grey" => Gray,
        _ => throw new ArgumentException($"Unknown colour map '{name}'. Known: viridis, inferno, diverging, gray."),
    };

    /// <summary>The RGB colour (each in [0,1]) at position <paramref name="v"/> ∈ [0,1] (clamped).</summary>
    public (float R, float G, float B) At(double v)
    {
        int n = _anchors.GetLength(0);
        double x = Math.Clamp(double.IsNaN(v) ? 0 : v, 0, 1) * (n - 1);
        int i = Math.Min((int)Math.Floor(x), n - 2);
        float f = (float)(x - i);
        return (_anchors[i, 0] + f * (_anchors[i + 1, 0] - _anchors[i, 0]),
                _anchors[i, 1] + f * (_anchors[i + 1, 1] - _anchors[i, 1]),
                _anchors[i, 2] + f * (_anchors[i + 1, 2] - _anchors[i, 2]));
    }

    /// <summary>
    /// Colours a map <c>[H,W]</c>: values are scaled linearly from [<paramref name="min"/>, <paramref name="max"/>]
    /// (default: the map's own min and max) to [0,1], then looked up. Returns float32 <c>[3,H,W]</c> on the CPU.
    /// </summary>
    public Tensor Apply(Tensor map, double? min = null, double? max = null)
    {
        if (map.dim() != 2) throw new ArgumentException($"Colormap.Apply expects a map [H,W]; got [{string.Join(",", map.shape)}].");
        using var scope = NewDisposeScope();
        var m = map.detach().to(CPU).to_type(ScalarType.Float32).contiguous();
        double lo = min ?? m.min().item<float>(), hi = max ?? m.max().item<float>();
        double span = hi - lo; if (!(span > 0)) span = 1;
        var v = m.data<float>().ToArray();
        int n = v.Length;
        var rgb = new float[3 * n];
        for (int i = 0; i < n; i++)
        {
            var (r, g, b) = At((v[i] - lo) / span);
            rgb[i] = r; rgb[n + i] = g; rgb[2 * n + i] = b;
        }
        return tensor(rgb, new long[] { 3, map.shape[0], map.shape[1] }).MoveToOuterDisposeScope();
    }

    /// <summary>A horizontal colour bar <c>[3,height,width]</c> from low (left) to high (right).</summary>
    public Tensor Bar(int width = 256, int height = 12)
    {
        var rgb = new float[3 * width * height];
        for (int x = 0; x < width; x++)
        {
            var (r, g, b) = At(x / (double)(width - 1));
            for (int y = 0; y < height; y++)
            {
                int i = y * width + x;
                rgb[i] = r; rgb[width * height + i] = g; rgb[2 * width * height + i] = b;
            }
        }
        return tensor(rgb, new long[] { 3, height, width });
    }

    /// <summary>
    /// Blends a coloured map over an image: <c>(1−α)·image + α·colour(map)</c>, the map resized bilinearly to the image.
    /// </summary>
    /// <param name="image"><c>[3,H,W]</c> (or <c>[1,H,W]</c>) in [0,1].</param>
    /// <param name="map"><c>[h,w]</c>, any range (normalised to its min..max).</param>
    /// <param name="alpha">Opacity α of the coloured map in [0,1].</param>
    public Tensor Overlay(Tensor image, Tensor map, double alpha = 0.5)
    {
        if (image.dim() != 3) throw new ArgumentException($"Overlay expects an image [C,H,W]; got [{string.Join(",", image.shape)}].");
        if (alpha < 0 || alpha > 1) throw new ArgumentOutOfRangeException(nameof(alpha), "alpha must lie in [0,1].");
        using var scope = NewDisposeScope();
        long h = image.shape[1], w = image.shape[2];
        var m = map.detach().to(CPU).to_type(ScalarType.Float32);
        if (m.shape[0] != h || m.shape[1] != w)
            m = nn.functional.interpolate(m.unsqueeze(0).unsqueeze(0), new long[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
        var img = image.detach().to(CPU).to_type(ScalarType.Float32);
        if (img.shape[0] == 1) img = img.expand(3, h, w);
        var c = Apply(m);
        return ((1 - alpha) * img + alpha * c).clamp(0, 1).MoveToOuterDisposeScope();
    }
}
