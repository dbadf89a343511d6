using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging;

/// <summary>
/// Colour maps for heatmaps: a scalar map <c>[H,W]</c> becomes an RGB image <c>[3,H,W]</c> in [0,1].
/// Each map is a table of anchor colours, interpolated linearly (our own tables: <see cref="Viridis"/> follows the
/// published viridis anchor colours — perceptually uniform, readable in greyscale; <see cref="Jet"/> is the classic
/// rainbow blue→cyan→yellow→red).
/// </summary>
public sealed class Colormap
{
    readonly float[,] _anchors; // [n,3] in [0,1]

    Colormap(string name, string[] hex)
    {
        Name = name;
        _anchors = new float[hex.Length, 3];
        for (int i = 0; i < hex.Length; i++)
            for (int c = 0; c < 3; c++)
                _anchors[i, c] = Convert.ToInt32(hex[i].Substring(1 + 2 * c, 2), 16) / 255f;
    }

    public string Name { get; }

    /// <summary>Viridis (dark purple → blue → green → yellow), 10 anchors.</summary>
    public static Colormap Viridis { get; } = new("viridis", new[]
        { "#440154", "#482878", "#3E4A89", "#31688E", "#26828E", "#1F9E89", "#35B779", "#6DCD59", "#B4DE2C", "#FDE725" });

    /// <summary>Jet-like rainbow (dark blue → blue → cyan → yellow → red → dark red).</summary>
    public static Colormap Jet { get; } = new("jet", new[]
        { "#00007F", "#0000FF", "#007FFF", "#00FFFF", "#7FFF7F", "#FFFF00", "#FF7F00", "#FF0000", "#7F0000" });

    /// <summary>Greyscale (black → white).</summary>
    public static Colormap Gray { get; } = new("gray", new[] { "#000000", "#FFFFFF" });

    /// <summary>The map named <paramref name="name"/> (viridis, jet, gray).</summary>
    public static Colormap Get(string name) => name.ToLowerInvariant() switch
    {
        "viridis" => Viridis,
        "jet" => Jet,
        "gray" or "grey" => Gray,
        _ => throw new ArgumentException($"Unknown colour map '{name}'; known: viridis, jet, gray."),
    };

    /// <summary>The colour (r,g,b in [0,1]) of a value v ∈ [0,1] (clamped; NaN → the lowest colour).</summary>
    public (float R, float G, float B) At(double v)
    {
        if (double.IsNaN(v)) v = 0;
        int n = _anchors.GetLength(0);
        double x = Math.Clamp(v, 0, 1) * (n - 1);
        int i = Math.Min((int)Math.Floor(x), n - 2);
        float f = (float)(x - i);
        return (_anchors[i, 0] + f * (_anchors[i + 1, 0] - _anchors[i, 0]),
                _anchors[i, 1] + f * (_anchors[i + 1, 1] - _anchors[i, 1]),
                _anchors[i, 2] + f * (_anchors[i + 1, 2] - _anchors[i, 2]));
    }

    /// <summary>
    /// Colours a map <c>[H,W]</c>: values are scaled linearly from [min,max] (default: the map's own range; a
    /// constant map becomes the middle colour) to [0,1]. Returns <c>[3,H,W]</c> float32 on the CPU.
    /// </summary>
    public Tensor Apply(Tensor map, double? min = null, double? max = null)
    {
        if (map.dim() != 2) throw new ArgumentException($"A colour map applies to a 2-D map [H,W]; got [{string.Join(",", map.shape)}].");
        using var scope = NewDisposeScope();
        var v = map.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
        var finite = v.Where(double.IsFinite).ToArray();
        double lo = min ?? (finite.Length > 0 ? finite.Min() : 0), hi = max ?? (finite.Length > 0 ? finite.Max() : 1);
        int h = (int)map.shape[0], w = (int)map.shape[1], plane = h * w;
        var rgb = new float[3 * plane];
        for (int i = 0; i < plane; i++)
        {
            double u = hi > lo ? (v[i] - lo) / (hi - lo) : 0.5;
            var (r, g, b) = At(u);
            rgb[i] = r; rgb[plane + i] = g; rgb[2 * plane + i] = b;
        }
        return tensor(rgb, new long[] { 3, h, w }).MoveToOuterDisposeScope();
    }

    /// <summary>Blends a coloured map over an image <c>[3,H,W]</c> (the map is resized bilinearly to it): <c>(1−α)·image + α·colour</c>.</summary>
    public Tensor Overlay(Tensor image, Tensor map, double alpha = 0.5)
    {
        if (image.dim() != 3 || image.shape[0] is not (1 or 3)) throw new ArgumentException($"Overlay needs an image [C,H,W] with C = 1 or 3; got [{string.Join(",", image.shape)}].");
        using var scope = NewDisposeScope();
        long H = image.shape[1], W = image.shape[2];
        var m = map.detach().cpu().to_type(ScalarType.Float32);
        if (m.shape[0] != H || m.shape[1] != W)
            m = nn.functional.interpolate(m.unsqueeze(0).unsqueeze(0), new long[] { H, W }, mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
        var c = Apply(m);
        var img = image.detach().cpu().to_type(ScalarType.Float32).expand(3, H, W);
        return (img * (1 - alpha) + c * alpha).MoveToOuterDisposeScope();
    }
}
