using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>A heatmap <c>[H,W]</c> drawn with a colour map and a colour bar (min..max of the map, or the given range).</summary>
public sealed record Heatmap(Tensor Map, string? Caption = null, string Colormap = "viridis", double? Min = null, double? Max = null, int Width = 192);

/// <summary>A saliency map blended over its image (<c>(1−α)·image + α·colour(map)</c>).</summary>
public sealed record Overlay(Tensor Image, Tensor Map, string? Caption = null, double Alpha = 0.5, string Colormap = "inferno", int Width = 192);

/// <summary>An image <c>[C,H,W]</c> or <c>[H,W]</c> with a caption.</summary>
public sealed record Picture(Tensor Image, string? Caption = null, int Width = 192);

/// <summary>Items (tensors, pictures, heatmaps, overlays, saliency maps, strings) laid out in a grid.</summary>
public sealed record Gallery(IReadOnlyList<object> Items, int Columns = 4, string? Title = null);

/// <summary>Shorthands for notebook cells.</summary>
public static class Show
{
    public static Picture Image(Tensor image, string? caption = null, int width = 192) => new(image, caption, width);
    public static Heatmap Heatmap(Tensor map, string? caption = null, string colormap = "viridis", int width = 192) => new(map, caption, colormap, Width: width);
    public static Overlay Overlay(Tensor image, Tensor map, string? caption = null, double alpha = 0.5, int width = 192) => new(image, map, caption, alpha, Width: width);
    public static Gallery Grid(int columns, params object[] items) => new(items, columns);
    public static Gallery Row(params object[] items) => new(items, items.Length);
}

/// <summary>HTML shown as it is (progress lines, explorers).</summary>
public sealed record RawHtml(string Html)
{
    public override string ToString() => Html;
}
