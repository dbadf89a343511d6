using System.Collections;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.DotNet.Interactive.Formatting;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Visual;
using XaiLab.Saliency;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>Shape, dtype, device and statistics of a tensor (finite entries only; NaN when there are none).</summary>
public sealed record TensorStats(long[] Shape, string DType, string Device, long Count, double Min, double Max, double Mean, double Std, long NonFinite)
{
    /// <summary>Reads the statistics of <paramref name="t"/> (a float64 copy on the CPU; the tensor is not changed).</summary>
    public static TensorStats Of(Tensor t)
    {
        using var scope = NewDisposeScope();
        double min = double.NaN, max = double.NaN, mean = double.NaN, std = double.NaN;
        long nonFinite = 0;
        if (t.numel() > 0 && t.dtype != ScalarType.ComplexFloat32 && t.dtype != ScalarType.ComplexFloat64)
        {
            var f = t.detach().to(CPU).to_type(ScalarType.Float64).flatten();
            var ok = isfinite(f);
            nonFinite = f.numel() - ok.sum().item<long>();
            var v = f.masked_select(ok);
            if (v.numel() > 0)
            {
                min = v.min().item<double>(); max = v.max().item<double>(); mean = v.mean().item<double>();
                std = v.numel() > 1 ? v.std().item<double>() : 0;
            }
        }
        return new TensorStats(t.shape, t.dtype.ToString(), t.device.ToString(), t.numel(), min, max, mean, std, nonFinite);
    }

    /// <summary>"[3×128×128] Float32 cpu".</summary>
    public string Head => $"[{string.Join("×", Shape)}] {DType} {Device}";

    /// <summary>"min 0, max 1, mean 0.43, std 0.2" (and the count of NaN/∞ entries when there are any).</summary>
    public string Numbers => Count == 0 ? "empty" :
        $"min {SvgCharts.Num(Min)}, max {SvgCharts.Num(Max)}, mean {SvgCharts.Num(Mean)}, std {SvgCharts.Num(Std)}" + (NonFinite > 0 ? $", {NonFinite} NaN/∞" : "");

    /// <summary>"tensor HEAD — NUMBERS", the plain-text form.</summary>
    public override string ToString() => $"tensor {Head} — {Numbers}";
}

/// <summary>HTML fragments for the formatters: self-contained (images as data URIs), no external resources.</summary>
public static class Html
{
    /// <summary><paramref name="s"/> with the HTML special characters escaped (&amp;, &lt;, &gt;, quotes).</summary>
    public static string Escape(string s) => WebUtility.HtmlEncode(s);

    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The PNG of <paramref name="image"/> (<c>[C,H,W]</c>, C = 1 or 3, or <c>[H,W]</c>, values clamped to [0,1]) as a data URI.</summary>
    public static string DataUri(Tensor image) => "data:image/png;base64," + Convert.ToBase64String(ImageIO.EncodePng(image));

    /// <summary>An <c>&lt;img&gt;</c> with the PNG of <paramref name="image"/> inline; pixelated scaling for small images.</summary>
    public static string Img(Tensor image, int width, string? title = null)
    {
        var t = title is null ? "" : $" title=\"{Escape(title)}\"";
        return $"<img src=\"{DataUri(image)}\" style=\"width:{width}px;max-width:100%;image-rendering:pixelated;display:block;margin:0 auto\"{t}/>";
    }

    /// <summary>A figure: content above a caption.</summary>
    public static string Figure(string content, string? caption, int? width = null) =>
        "<figure style=\"display:inline-block;margin:3px;vertical-align:top;text-align:center\">" + content +
        (caption is null ? "" : $"<figcaption style=\"font:11px sans-serif;max-width:{Math.Max(width ?? 200, 120)}px;margin:2px auto 0 auto;overflow-wrap:anywhere\">{Escape(caption)}</figcaption>") + "</figure>";

    /// <summary>A titled, bordered panel for one result (title in bold, optional subtitle in grey).</summary>
    public static string Panel(string title, string? subtitle, string body) =>
        "<div class=\"xl-panel\" style=\"font:12px sans-serif;border:1px solid #ddd;border-radius:3px;padding:6px 8px;margin:3px 0;display:inline-block;max-width:100%;box-sizing:border-box;vertical-align:top\">" +
        $"<div style=\"font-weight:bold;font-size:13px\">{Escape(title)}</div>" +
        (subtitle is null ? "" : $"<div style=\"color:#666;margin-bottom:4px\">{Escape(subtitle)}</div>") + body + "</div>";

    /// <summary>True for shapes that display as an image: <c>[H,W]</c>, <c>[1,H,W]</c>, <c>[3,H,W]</c>.</summary>
    public static bool IsImageShape(Tensor t) =>
        (t.dim() == 2 && t.shape[0] > 1 && t.shape[1] > 1) || (t.dim() == 3 && (t.shape[0] == 1 || t.shape[0] == 3) && t.shape[1] > 1 && t.shape[2] > 1);

    static bool IsIntegral(Tensor t) => t.dtype is ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte;

    /// <summary>
    /// Any tensor, never as a dump of values: images in [0,1] as pictures; signed or unbounded images as heatmaps with a
    /// colour bar (diverging about 0 for signed ones); integer maps as label maps with one colour per label; batches
    /// <c>[N,C,H,W]</c> and stacks <c>[N,H,W]</c> as a strip of the first 8; other shapes as a curve (1-D) or a summary.
    /// The caption always gives shape, dtype, device and min/max/mean.
    /// </summary>
    public static string Tensor(Tensor t, int width = 192)
    {
        using var scope = NewDisposeScope();
        var stats = TensorStats.Of(t);
        if (t.numel() == 0 || t.dtype is ScalarType.ComplexFloat32 or ScalarType.ComplexFloat64 || stats.Count == stats.NonFinite) return Summary(t, stats);
        if (IsImageShape(t))
            return Figure(ImageOf(t, stats, width), null) + "<br/>" + StatsLine(stats);
        var x = t.detach().to(CPU);
        if (t.dim() == 4 && (t.shape[1] == 1 || t.shape[1] == 3) && t.shape[2] > 1 && t.shape[3] > 1)
            return Strip(Enumerable.Range(0, (int)Math.Min(8, t.shape[0])).Select(i => x[i]).ToArray(), stats, t.shape[0], "image");
        if (t.dim() == 3 && t.shape[1] > 1 && t.shape[2] > 1)
            return Strip(Enumerable.Range(0, (int)Math.Min(8, t.shape[0])).Select(i => x[i]).ToArray(), stats, t.shape[0], "slice");
        if (t.dim() == 1 && t.shape[0] >= 2 && t.shape[0] <= 100_000)
        {
            var v = x.to_type(ScalarType.Float64).data<double>().ToArray();
            var idx = Enumerable.Range(0, v.Length).Select(i => (double)i).ToArray();
            return "<div>" + SvgCharts.Lines(null, idx, new[] { new Series("value", v) }, "index", null, width: 300, height: 120, markers: false) + "</div>" + StatsLine(stats);
        }
        return Summary(t, stats);
    }

    static string ImageOf(Tensor t, TensorStats s, int width)
    {
        if (t.dtype == ScalarType.Bool) return Img(t.to_type(ScalarType.Float32), width, "bool: white = true");
        if (IsIntegral(t) && t.dim() == 2) return Img(LabelColours(t), width, "labels, one colour each");
        if (s.Min >= 0 && s.Max <= 1) return Img(t.to_type(ScalarType.Float32), width);
        var m = t.dim() == 3 ? t.to_type(ScalarType.Float32).mean(new long[] { 0 }) : t.to_type(ScalarType.Float32);
        bool signed = s.Min < 0 && s.Max > 0;
        double a = Math.Max(Math.Abs(s.Min), Math.Abs(s.Max));
        return HeatmapCore(m, signed ? "diverging" : "viridis", signed ? -a : s.Min, signed ? a : s.Max, width);
    }

    /// <summary>Colours an integer label map <c>[H,W]</c> with one well-separated colour per label (golden-ratio hues).</summary>
    public static Tensor LabelColours(Tensor labels)
    {
        using var scope = NewDisposeScope();
        var l = labels.detach().to(CPU).to_type(ScalarType.Int64).contiguous();
        var v = l.data<long>().ToArray();
        int n = v.Length;
        var rgb = new float[3 * n];
        for (int i = 0; i < n; i++)
        {
            var (r, g, b) = LabelColour(v[i]);
            rgb[i] = r; rgb[n + i] = g; rgb[2 * n + i] = b;
        }
        return tensor(rgb, new long[] { 3, labels.shape[0], labels.shape[1] }).MoveToOuterDisposeScope();
    }

    /// <summary>The colour of label <paramref name="k"/>: hue k·φ mod 1, alternating saturation and value.</summary>
    public static (float R, float G, float B) LabelColour(long k)
    {
        double h = ((k * 0.6180339887498949) % 1.0 + 1) % 1.0 * 6;
        double s = (k & 1) == 0 ? 0.65 : 0.45, val = (k % 3) == 0 ? 0.95 : 0.8;
        int i = (int)Math.Floor(h); double f = h - i;
        double p = val * (1 - s), q = val * (1 - s * f), u = val * (1 - s * (1 - f));
        var (r, g, b) = (i % 6) switch { 0 => (val, u, p), 1 => (q, val, p), 2 => (p, val, u), 3 => (p, q, val), 4 => (u, p, val), _ => (val, p, q) };
        return ((float)r, (float)g, (float)b);
    }

    static string Strip(Tensor[] items, TensorStats s, long total, string what)
    {
        var sb = new StringBuilder("<div style=\"display:flex;flex-wrap:wrap;gap:2px;align-items:flex-end\">");
        bool unit = s.Min >= 0 && s.Max <= 1;
        bool signed = s.Min < 0 && s.Max > 0;
        double a = Math.Max(Math.Abs(s.Min), Math.Abs(s.Max));
        string cm = signed ? "diverging" : "viridis";
        double lo = signed ? -a : s.Min, hi = signed ? a : s.Max;
        for (int i = 0; i < items.Length; i++)
        {
            var it = items[i].to_type(ScalarType.Float32);
            string content;
            if (unit && (it.dim() == 2 || it.shape[0] == 1 || it.shape[0] == 3)) content = Img(it, 96);
            else
            {
                var m = it.dim() == 3 ? it.mean(new long[] { 0 }) : it;
                content = Img(Colormap.ByName(cm).Apply(m, lo, hi), 96);
            }
            sb.Append(Figure(content, $"{what} {i}", 96));
        }
        sb.Append("</div>");
        if (!unit) sb.Append(ColourBar(cm, lo, hi, 200));
        if (total > items.Length) sb.Append($"<div style=\"font:11px sans-serif;color:#666\">first {items.Length} of {total} shown</div>");
        return "<div style=\"display:inline-block;vertical-align:top\">" + sb + StatsLine(s) + "</div>";
    }

    static string StatsLine(TensorStats s) =>
        $"<div style=\"font:11px monospace;color:#345;margin:2px 4px\">tensor {Escape(s.Head)} — {Escape(s.Numbers)}</div>";

    /// <summary>Shape, dtype, device and statistics of a tensor (no values).</summary>
    public static string Summary(Tensor t) => Summary(t, TensorStats.Of(t));

    static string Summary(Tensor t, TensorStats s) =>
        "<table style=\"font:12px monospace;border-collapse:collapse\">" +
        Row("tensor", $"[{string.Join("×", s.Shape)}]") + Row("dtype", s.DType) + Row("device", s.Device) + Row("elements", s.Count.ToString("N0", Inv)) +
        (s.Count > 0 && !double.IsNaN(s.Min) ? Row("min / max", $"{SvgCharts.Num(s.Min)} / {SvgCharts.Num(s.Max)}") + Row("mean ± std", $"{SvgCharts.Num(s.Mean)} ± {SvgCharts.Num(s.Std)}") : "") +
        (s.NonFinite > 0 ? Row("NaN/∞", s.NonFinite.ToString(Inv)) : "") +
        (t.requires_grad ? Row("requires grad", "yes") : "") + "</table>";

    static string Row(string k, string v) => $"<tr><td style=\"color:#666;padding:0 10px 0 0\">{Escape(k)}</td><td>{Escape(v)}</td></tr>";

    /// <summary>A horizontal colour bar with its range (and, from 150 px on, its midpoint) written under it.</summary>
    public static string ColourBar(string colormap, double lo, double hi, int width)
    {
        var cm = Colormap.ByName(colormap);
        using var bar = cm.Bar(Math.Max(16, width), 10);
        return $"<div style=\"width:{width}px;max-width:100%;margin:1px auto 0 auto\"><img src=\"{DataUri(bar)}\" style=\"width:100%;height:9px;display:block\" alt=\"colour scale\"/>" +
               $"<div style=\"display:flex;justify-content:space-between;font:10px monospace;color:#333\"><span>{Escape(SvgCharts.Num(lo))}</span>{(width >= 150 ? $"<span>{Escape(SvgCharts.Num((lo + hi) / 2))}</span>" : "")}<span>{Escape(SvgCharts.Num(hi))}</span></div></div>";
    }

    static string HeatmapCore(Tensor map, string colormap, double lo, double hi, int width)
    {
        using var img = Colormap.ByName(colormap).Apply(map, lo, hi);
        return Img(img, width) + ColourBar(colormap, lo, hi, width);
    }

    /// <summary>Range of a map for a colour map: the given bounds, else symmetric about 0 for "diverging", else min..max.</summary>
    static (double Lo, double Hi) Range(Tensor m, string colormap, double? min, double? max)
    {
        if (min is { } a && max is { } b) return (a, b);
        double lo = m.min().item<float>(), hi = m.max().item<float>();
        if (colormap is "diverging" or "coolwarm")
        {
            double r = Math.Max(Math.Abs(lo), Math.Abs(hi));
            return (min ?? -r, max ?? r);
        }
        return (min ?? lo, max ?? hi);
    }

    /// <summary>A heatmap <c>[H,W]</c> (or <c>[1,H,W]</c>) as an inline PNG in its colour map, with a colour bar and the caption.</summary>
    /// <exception cref="ArgumentException">The map is not 2-D or the colour map is unknown.</exception>
    public static string Heatmap(Heatmap h)
    {
        using var scope = NewDisposeScope();
        var m = h.Map.detach().to(CPU).to_type(ScalarType.Float32);
        if (m.dim() == 3 && m.shape[0] == 1) m = m[0];
        if (m.dim() != 2) throw new ArgumentException($"A heatmap must be [H,W]; got [{string.Join(",", h.Map.shape)}].");
        Colormap.ByName(h.Colormap);
        var (lo, hi) = Range(m, h.Colormap.ToLowerInvariant(), h.Min, h.Max);
        return Figure(HeatmapCore(m, h.Colormap, lo, hi, h.Width), h.Caption, h.Width);
    }

    /// <summary>A map blended over the image (alpha <see cref="Overlay.Alpha"/>) as an inline PNG, with a colour bar of the map's range and the caption.</summary>
    public static string Overlay(Overlay o)
    {
        using var scope = NewDisposeScope();
        var m = o.Map.detach().to(CPU).to_type(ScalarType.Float32);
        if (m.dim() == 3 && m.shape[0] == 1) m = m[0];
        var blended = Colormap.ByName(o.Colormap).Overlay(o.Image, m, o.Alpha);
        double lo = m.min().item<float>(), hi = m.max().item<float>();
        return Figure(Img(blended, o.Width) + ColourBar(o.Colormap, lo, hi, o.Width), o.Caption, o.Width);
    }

    /// <summary>An image <c>[C,H,W]</c> in [0,1] as an inline PNG with its caption.</summary>
    public static string Picture(Picture p) => Figure(Img(p.Image, p.Width), p.Caption, p.Width);

    /// <summary>A saliency map: heatmap (diverging about 0 when signed) with colour bar, title and its diagnostics.</summary>
    public static string Saliency(SaliencyMap s)
    {
        using var scope = NewDisposeScope();
        var m = s.Map.detach().to(CPU).to_type(ScalarType.Float32);
        bool signed = m.min().item<float>() < 0 && m.max().item<float>() > 0;
        var body = Heatmap(new Heatmap(m, $"[{s.Height}×{s.Width}]", signed ? "diverging" : "viridis", Width: 192));
        if (s.Diagnostics is { Count: > 0 } d)
            body += Facts(new Facts(null, d.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)).ToArray()));
        return Panel($"{s.Method} — class {s.ClassIndex}", null, body);
    }

    /// <summary>Renders any item of a gallery: XaiLab's types directly, nested galleries recursively, anything else through its registered HTML formatter.</summary>
    public static string Item(object? item) => item switch
    {
        null => "",
        Tensor t => Tensor(t),
        Picture p => Picture(p),
        Heatmap h => Heatmap(h),
        Overlay o => Overlay(o),
        SaliencyMap s => Saliency(s),
        Gallery g => Gallery(g),
        TableView t => Table(t),
        Facts f => Facts(f),
        RawHtml r => r.Html,
        string s => $"<div style=\"font:12px sans-serif;padding:6px;max-width:260px;overflow-wrap:anywhere\">{Escape(s)}</div>",
        Plotly.NET.GenericChart c => PlotlyEmbedding.ChartHtml(c),
        _ => item.ToDisplayString(HtmlFormatter.MimeType),
    };

    static bool IsWide(object? item) => item is Plotly.NET.GenericChart || (item is Gallery g && g.Items.Any(IsWide));

    /// <summary>
    /// A grid of items. Columns are as wide as their content; a grid with charts shares the box width equally so that
    /// each chart sizes itself to its column.
    /// </summary>
    public static string Gallery(Gallery g)
    {
        var sb = new StringBuilder("<div class=\"xl-gallery\" style=\"max-width:100%\">");
        if (g.Title is not null) sb.Append($"<div style=\"font:bold 13px sans-serif;margin:2px 0\">{Escape(g.Title)}</div>");
        int cols = Math.Max(1, Math.Min(g.Columns, Math.Max(1, g.Items.Count)));
        var track = g.Items.Any(IsWide) ? "minmax(0,1fr)" : "max-content";
        sb.Append($"<div style=\"display:grid;grid-template-columns:repeat({cols},{track});gap:4px;align-items:start\">");
        foreach (var item in g.Items) sb.Append("<div style=\"min-width:0\">").Append(Item(item)).Append("</div>");
        return sb.Append("</div></div>").ToString();
    }

    /// <summary>A compact text for a table cell or a fact.</summary>
    public static string CellText(object? v) => v switch
    {
        null => "–",
        double d => SvgCharts.Num(d),
        float f => SvgCharts.Num(f),
        decimal m => m.ToString(Inv),
        int or long or short or byte => ((IFormattable)v).ToString("N0", Inv),
        bool b => b ? "yes" : "no",
        string s => s,
        TimeSpan ts => ts.TotalSeconds < 120 ? $"{ts.TotalSeconds:F1} s" : ts.ToString(@"h\:mm\:ss", Inv),
        Tensor t => TensorStats.Of(t).ToString(),
        IDictionary dict => string.Join(", ", dict.Keys.Cast<object>().Select(k => $"{k} {CellText(dict[k])}")),
        IEnumerable e => Abbreviate(e),
        IFormattable f => f.ToString(null, Inv),
        _ => v.ToString() ?? "",
    };

    static string Abbreviate(IEnumerable e)
    {
        var items = e.Cast<object?>().Take(9).Select(CellText).ToList();
        return "[" + string.Join(", ", items.Take(8)) + (items.Count > 8 ? ", …" : "") + "]";
    }

    static bool IsNumber(object? v) => v is double or float or int or long or short or decimal;

    /// <summary>A table: header row, numbers right-aligned, long tables scroll inside a box of bounded height.</summary>
    public static string Table(TableView t)
    {
        t.Validate();
        var sb = new StringBuilder("<div style=\"display:inline-block;vertical-align:top;max-width:100%;margin:3px 0\">");
        if (t.Title is not null) sb.Append($"<div style=\"font:bold 13px sans-serif;margin-bottom:2px\">{Escape(t.Title)}</div>");
        sb.Append("<div style=\"max-height:420px;overflow:auto\"><table style=\"font:12px sans-serif;border-collapse:collapse\"><thead><tr>");
        foreach (var c in t.Columns) sb.Append($"<th style=\"text-align:left;border-bottom:1px solid #999;padding:2px 8px;position:sticky;top:0;background:#fff\">{Escape(c)}</th>");
        sb.Append("</tr></thead><tbody>");
        for (int r = 0; r < t.Rows.Count; r++)
        {
            sb.Append(r % 2 == 1 ? "<tr style=\"background:#f6f6f6\">" : "<tr>");
            foreach (var v in t.Rows[r])
                sb.Append($"<td style=\"padding:1px 8px;{(IsNumber(v) ? "text-align:right;font-variant-numeric:tabular-nums" : "")}\">{Escape(CellText(v))}</td>");
            sb.Append("</tr>");
        }
        return sb.Append("</tbody></table></div></div>").ToString();
    }

    /// <summary>Named figures as a two-column table.</summary>
    public static string Facts(Facts f)
    {
        var sb = new StringBuilder("<div style=\"display:inline-block;vertical-align:top;margin:3px 0\">");
        if (f.Title is not null) sb.Append($"<div style=\"font:bold 13px sans-serif;margin-bottom:2px\">{Escape(f.Title)}</div>");
        sb.Append("<table style=\"font:12px sans-serif;border-collapse:collapse\">");
        foreach (var kv in f.Items)
            sb.Append($"<tr><td style=\"color:#555;padding:1px 12px 1px 0;vertical-align:top\">{Escape(kv.Key)}</td><td style=\"font-variant-numeric:tabular-nums\">{Escape(CellText(kv.Value))}</td></tr>");
        return sb.Append("</table></div>").ToString();
    }

    /// <summary>The one-line session banner: XaiLab version, device, scale and TorchSharp version.</summary>
    public static string Session(LabSession s) =>
        $"<div style=\"font:12px sans-serif;border-left:3px solid #3b7;padding:4px 8px\"><b>XaiLab {Escape(s.XaiLabVersion)}</b> — " +
        $"device {Escape(s.Device)}, scale <b>{s.Scale.ToString().ToLowerInvariant()}</b>, TorchSharp {Escape(s.TorchSharpVersion)}</div>";
}
