using System.Reflection;
using TorchSharp;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>
/// A heatmap <c>[H,W]</c> drawn with a colour map and a colour bar (min..max of the map, or the given range; the
/// diverging map defaults to a range symmetric about 0 so that white means 0).
/// </summary>
public sealed record Heatmap(Tensor Map, string? Caption = null, string Colormap = "viridis", double? Min = null, double? Max = null, int Width = 192);

/// <summary>A saliency map blended over its image (<c>(1−α)·image + α·colour(map)</c>), with the map's colour bar.</summary>
public sealed record Overlay(Tensor Image, Tensor Map, string? Caption = null, double Alpha = 0.5, string Colormap = "inferno", int Width = 192);

/// <summary>An image <c>[C,H,W]</c> or <c>[H,W]</c> with a caption.</summary>
public sealed record Picture(Tensor Image, string? Caption = null, int Width = 192);

/// <summary>
/// Items laid out in a grid: anything with a formatter (tensors, pictures, heatmaps, overlays, saliency maps, charts,
/// tables, results, strings) and other galleries, so layouts nest (a row of galleries, a grid of charts).
/// </summary>
public sealed record Gallery(IReadOnlyList<object> Items, int Columns = 4, string? Title = null);

/// <summary>
/// A table: a title, column headers and rows of cells (numbers are printed compactly, tensors as summaries, strings as
/// they are). <see cref="Show.Table{T}"/> builds one from records or anonymous objects.
/// </summary>
public sealed record TableView(string? Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<object?>> Rows)
{
    /// <exception cref="ArgumentException">A row has another number of cells than there are columns.</exception>
    public void Validate()
    {
        for (int i = 0; i < Rows.Count; i++)
            if (Rows[i].Count != Columns.Count)
                throw new ArgumentException($"Table '{Title}': row {i} has {Rows[i].Count} cells for {Columns.Count} columns.");
    }
}

/// <summary>Named figures of one result (a two-column table), e.g. a check's numbers.</summary>
public sealed record Facts(string? Title, IReadOnlyList<KeyValuePair<string, object?>> Items);

/// <summary>
/// SIFT keypoints over their image: a circle of radius <see cref="RadiusPerSigma"/>·σ around each keypoint (thesis
/// §4.1.2), drawn as a white line with a black halo so that it stays visible on any background.
/// </summary>
public sealed record KeypointView(Tensor Image, IReadOnlyList<SiftKeypoint> Keypoints, string? Caption = null, int Width = 320, double RadiusPerSigma = 2);

/// <summary>
/// Denoiser outputs beside their input and ground truth (noisy / denoised… / clean), with the PSNR inside the disc
/// (thesis §7.4, <see cref="XaiLab.Denoising.DenoisingMetrics"/>) under each image. Tensors are <c>[B,1,n,n]</c>;
/// outputs are keyed by the denoiser's name. Only the first <see cref="Count"/> images are shown (PSNR per image).
/// </summary>
public sealed record DenoisingComparison(Tensor Noisy, IReadOnlyDictionary<string, Tensor> Outputs, Tensor Clean, string? Title = null, int Count = 2, int Width = 128);

/// <summary>
/// Saliency maps of several methods on several images: a grid with one row per image and one column per method,
/// each map blended over its image with its own colour bar; optional seconds per method head the columns.
/// </summary>
/// <param name="Maps">Maps[i][m]: the map <c>[h,w]</c> of method m on image i.</param>
/// <param name="Title">Shown above the grid (null: none).</param>
/// <param name="Images">The images <c>[C,H,W]</c> in [0,1], one row each.</param>
/// <param name="ImageLabels">A label per image (the row headers).</param>
/// <param name="Methods">The method names (the column headers).</param>
/// <param name="SecondsPerImage">Seconds per image of each method, shown in the column headers, or null.</param>
/// <param name="Width">Width in pixels of each cell.</param>
/// <param name="Alpha">Opacity of the maps over the images, in [0,1].</param>
public sealed record MethodComparison(string? Title, IReadOnlyList<Tensor> Images, IReadOnlyList<string> ImageLabels, IReadOnlyList<string> Methods,
    IReadOnlyList<IReadOnlyList<Tensor>> Maps, IReadOnlyList<double>? SecondsPerImage = null, int Width = 112, double Alpha = 0.6)
{
    /// <exception cref="ArgumentException">The counts of images, labels, methods and maps disagree.</exception>
    public void Validate()
    {
        if (Images.Count != Maps.Count || ImageLabels.Count != Images.Count)
            throw new ArgumentException($"Method comparison: {Images.Count} images, {ImageLabels.Count} labels and {Maps.Count} map rows must agree.");
        for (int i = 0; i < Maps.Count; i++)
            if (Maps[i].Count != Methods.Count) throw new ArgumentException($"Method comparison: image {i} has {Maps[i].Count} maps for {Methods.Count} methods.");
        if (SecondsPerImage is not null && SecondsPerImage.Count != Methods.Count)
            throw new ArgumentException($"Method comparison: {SecondsPerImage.Count} timings for {Methods.Count} methods.");
    }
}

/// <summary>
/// A parameter sweep or a comparison of settings: one value per (row, column), shown as a table shaded by value and as a
/// grouped bar chart (one bar per column in each row). Missing values are NaN.
/// </summary>
/// <param name="Values">Values[r][c].</param>
/// <param name="Notes">Optional text per cell shown after the value (e.g. "3/4" hits of trials).</param>
/// <param name="HigherIsBetter">Shading direction: true = darker green for larger values, false for smaller, null = neutral.</param>
/// <param name="RowHeader">Header of the row-name column (the swept quantity).</param>
/// <param name="Rows">The row names.</param>
/// <param name="Columns">The column names (one bar each in the chart).</param>
/// <param name="Unit">Unit shown with the values (e.g. %, s), or null.</param>
/// <param name="ValueFormat">.NET format of the printed values (default F3).</param>
/// <param name="Title">Shown above the table and chart (null: none).</param>
public sealed record SweepMatrix(string? Title, string RowHeader, IReadOnlyList<string> Rows, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<double>> Values,
    string? Unit = null, IReadOnlyList<IReadOnlyList<string?>>? Notes = null, bool? HigherIsBetter = true, string ValueFormat = "F3")
{
    /// <exception cref="ArgumentException">Rows, columns and values disagree.</exception>
    public void Validate()
    {
        if (Values.Count != Rows.Count) throw new ArgumentException($"Sweep matrix '{Title}': {Values.Count} value rows for {Rows.Count} rows.");
        for (int r = 0; r < Values.Count; r++)
            if (Values[r].Count != Columns.Count) throw new ArgumentException($"Sweep matrix '{Title}': row '{Rows[r]}' has {Values[r].Count} values for {Columns.Count} columns.");
        if (Notes is not null && (Notes.Count != Rows.Count || Notes.Any(n => n.Count != Columns.Count)))
            throw new ArgumentException($"Sweep matrix '{Title}': notes must have the shape of the values.");
    }
}

/// <summary>Shorthands for notebook cells.</summary>
public static class Show
{
    /// <summary>An image <c>[C,H,W]</c> in [0,1], shown <paramref name="width"/> pixels wide.</summary>
    public static Picture Image(Tensor image, string? caption = null, int width = 192) => new(image, caption, width);
    /// <summary>A map <c>[H,W]</c> in a colour map (viridis, inferno, diverging, gray), with a colour bar.</summary>
    public static Heatmap Heatmap(Tensor map, string? caption = null, string colormap = "viridis", int width = 192) => new(map, caption, colormap, Width: width);
    /// <summary>A map <c>[H,W]</c> blended over an image <c>[C,H,W]</c> with opacity <paramref name="alpha"/> in [0,1].</summary>
    public static Overlay Overlay(Tensor image, Tensor map, string? caption = null, double alpha = 0.5, int width = 192) => new(image, map, caption, alpha, Width: width);
    /// <summary>The items (pictures, heatmaps, any formattable value) in a grid of <paramref name="columns"/> columns.</summary>
    public static Gallery Grid(int columns, params object[] items) => new(items, columns);
    /// <summary>The items side by side in one row.</summary>
    public static Gallery Row(params object[] items) => new(items, items.Length);
    /// <summary>A titled grid.</summary>
    public static Gallery Titled(string title, int columns, params object[] items) => new(items, columns, title);
    /// <summary>Keypoints as circles of their scale over the image.</summary>
    public static KeypointView Keypoints(Tensor image, IReadOnlyList<SiftKeypoint> keypoints, string? caption = null, int width = 320) => new(image, keypoints, caption, width);

    /// <summary>Named figures as a two-column table.</summary>
    public static Facts Facts(string? title, params (string Name, object? Value)[] items) =>
        new(title, items.Select(i => new KeyValuePair<string, object?>(i.Name, i.Value)).ToArray());

    /// <summary>
    /// A table of records, anonymous objects or tuples: one column per public property (or field), in declaration order.
    /// For a sequence of <c>object</c> the columns are those of the first row's runtime type.
    /// </summary>
    public static TableView Table<T>(IEnumerable<T> rows, string? title = null)
    {
        var all = rows.ToList();
        var type = typeof(T) == typeof(object) && all.FirstOrDefault(r => r is not null) is { } first ? first.GetType() : typeof(T);
        var members = TableMembers(type);
        var list = all.Select(r => (IReadOnlyList<object?>)members.Select(m => r is null ? null : m.Get(r)).ToArray()).ToArray();
        return new TableView(title, members.Select(m => m.Name).ToArray(), list);
    }

    static (string Name, Func<object, object?> Get)[] TableMembers(Type t)
    {
        var props = t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
            .Select(p => (p.Name, (Func<object, object?>)(o => p.GetValue(o)))).ToArray();
        if (props.Length > 0) return props;
        return t.GetFields(BindingFlags.Public | BindingFlags.Instance).Select(f => (f.Name, (Func<object, object?>)(o => f.GetValue(o)))).ToArray();
    }
}

/// <summary>HTML shown as it is (progress lines, explorers).</summary>
public sealed record RawHtml(string Html)
{
    /// <summary>The HTML itself.</summary>
    public override string ToString() => Html;
}
