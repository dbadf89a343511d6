using System.Net;
using System.Text;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Visual;
using XaiLab.Saliency;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>HTML fragments for the formatters: self-contained (images as data URIs), no external resources.</summary>
public static class Html
{
    public static string Escape(string s) => WebUtility.HtmlEncode(s);

    /// <summary>An <c>&lt;img&gt;</c> with the PNG of <paramref name="image"/> inline; pixelated scaling for small images.</summary>
    public static string Img(Tensor image, int width, string? title = null)
    {
        var png = ImageIO.EncodePng(image);
        var t = title is null ? "" : $" title=\"{Escape(title)}\"";
        return $"<img src=\"data:image/png;base64,{Convert.ToBase64String(png)}\" style=\"width:{width}px;image-rendering:pixelated\"{t}/>";
    }

    /// <summary>A figure: content above a caption.</summary>
    public static string Figure(string content, string? caption) =>
        "<figure style=\"display:inline-block;margin:4px;vertical-align:top;text-align:center\">" + content +
        (caption is null ? "" : $"<figcaption style=\"font:12px sans-serif;max-width:260px\">{Escape(caption)}</figcaption>") + "</figure>";

    /// <summary>True for shapes that display as an image: <c>[H,W]</c>, <c>[1,H,W]</c>, <c>[3,H,W]</c>.</summary>
    public static bool IsImageShape(Tensor t) =>
        (t.dim() == 2 && t.shape[0] > 1 && t.shape[1] > 1) || (t.dim() == 3 && (t.shape[0] == 1 || t.shape[0] == 3) && t.shape[1] > 1 && t.shape[2] > 1);

    public static string Tensor(Tensor t, int width = 192)
    {
        if (IsImageShape(t) && t.dtype != ScalarType.Bool && t.dtype != ScalarType.ComplexFloat32)
            return Figure(Img(t, width), $"[{string.Join("×", t.shape)}] {t.dtype}, {t.device}");
        return Summary(t);
    }

    /// <summary>Shape, dtype, device and statistics of a tensor that is not an image.</summary>
    public static string Summary(Tensor t)
    {
        using var scope = NewDisposeScope();
        var sb = new StringBuilder($"<div style=\"font:12px monospace\">tensor [{string.Join("×", t.shape)}] {t.dtype} on {t.device}");
        if (t.numel() > 0 && t.is_floating_point())
        {
            var f = t.detach().to(CPU).to_type(ScalarType.Float64);
            sb.Append($" — min {f.min().item<double>():G4}, mean {f.mean().item<double>():G4}, max {f.max().item<double>():G4}");
        }
        if (t.numel() <= 64)
            sb.Append("<pre>").Append(Escape(t.ToString(TorchSharp.TensorStringStyle.Numpy))).Append("</pre>");
        return sb.Append("</div>").ToString();
    }

    public static string Heatmap(Heatmap h)
    {
        using var scope = NewDisposeScope();
        var cm = Colormap.ByName(h.Colormap);
        var m = h.Map.detach().to(CPU).to_type(ScalarType.Float32);
        if (m.dim() != 2) throw new ArgumentException($"A heatmap must be [H,W]; got [{string.Join(",", h.Map.shape)}].");
        double lo = h.Min ?? m.min().item<float>(), hi = h.Max ?? m.max().item<float>();
        var img = cm.Apply(m, lo, hi);
        var bar = cm.Bar(h.Width, 10);
        var content = Img(img, h.Width) + "<br/>" + $"<img src=\"data:image/png;base64,{Convert.ToBase64String(ImageIO.EncodePng(bar))}\" style=\"width:{h.Width}px;height:10px\"/>" +
                      $"<div style=\"display:flex;justify-content:space-between;width:{h.Width}px;font:10px monospace\"><span>{lo:G3}</span><span>{h.Colormap}</span><span>{hi:G3}</span></div>";
        return Figure(content, h.Caption);
    }

    public static string Overlay(Overlay o)
    {
        using var scope = NewDisposeScope();
        var blended = Colormap.ByName(o.Colormap).Overlay(o.Image, o.Map, o.Alpha);
        return Figure(Img(blended, o.Width), o.Caption);
    }

    public static string Saliency(SaliencyMap s) =>
        Heatmap(new Heatmap(s.Map, $"{s.Method} — class {s.ClassIndex}" + DiagnosticsText(s), "viridis"));

    static string DiagnosticsText(SaliencyMap s) =>
        s.Diagnostics is null || s.Diagnostics.Count == 0 ? "" : " (" + string.Join(", ", s.Diagnostics.Take(4).Select(kv => $"{kv.Key} {Format(kv.Value)}")) + ")";

    static string Format(object v) => v switch { double d => d.ToString("G4"), float f => f.ToString("G4"), _ => v.ToString() ?? "" };

    /// <summary>Renders any supported item (used by galleries).</summary>
    public static string Item(object item) => item switch
    {
        Tensor t => Tensor(t),
        Picture p => Figure(Img(p.Image, p.Width), p.Caption),
        Heatmap h => Heatmap(h),
        Overlay o => Overlay(o),
        SaliencyMap s => Saliency(s),
        string s => Figure($"<div style=\"font:13px sans-serif;padding:8px\">{Escape(s)}</div>", null),
        Plotly.NET.GenericChart c => $"<div style=\"display:inline-block;vertical-align:top;width:520px\">{PlotlyEmbedding.ChartHtml(c)}</div>",
        _ => Figure($"<pre>{Escape(item.ToString() ?? "")}</pre>", null),
    };

    public static string Gallery(Gallery g)
    {
        var sb = new StringBuilder("<div>");
        if (g.Title is not null) sb.Append($"<div style=\"font:bold 13px sans-serif\">{Escape(g.Title)}</div>");
        sb.Append($"<div style=\"display:grid;grid-template-columns:repeat({Math.Max(1, g.Columns)},max-content);gap:2px\">");
        foreach (var item in g.Items) sb.Append("<div>").Append(Item(item)).Append("</div>");
        return sb.Append("</div></div>").ToString();
    }

    /// <summary>
    /// An ablation-path result on its own (no classifier at hand): diagnostics, the score curve and the reductions.
    /// <see cref="AblationExplorer.From"/> gives the full interactive explorer.
    /// </summary>
    public static string AblationResult(XaiLab.Saliency.AblationPaths.AblationPathResult r)
    {
        using var scope = NewDisposeScope();
        var sb = new StringBuilder("<div style=\"font:12px sans-serif\">");
        sb.Append($"<b>Ablation path</b>, class {r.ClassIndex} '{Escape(r.ClassName)}': {r.ScoreKind} score {r.Score:F4}, saturation {r.Saturation:F3}, " +
                  $"{r.Iterations} iterations ({r.StopReason}), {Escape(r.PathSpace)}" + (r.BaselineSigma is { } s ? $", baseline σ {s:G3} px" : "") + "<br/>");
        foreach (var w in r.Warnings) sb.Append($"<span style=\"color:#a60\">⚠ {Escape(w)}</span><br/>");
        if (r.Up.dim() == 3)
        {
            var items = new List<object> { new Picture(r.Image, "image", 140), new Picture(r.Baseline, "baseline", 140) };
            var reductions = r.IsPair
                ? new[] { XaiLab.Saliency.AblationPaths.AblationReduction.ContrastiveAverage, XaiLab.Saliency.AblationPaths.AblationReduction.Average }
                : new[] { XaiLab.Saliency.AblationPaths.AblationReduction.Average, XaiLab.Saliency.AblationPaths.AblationReduction.ClassTransition };
            foreach (var red in reductions) items.Add(new Heatmap(r.Saliency(red), XaiLab.Saliency.AblationPaths.AblationPathMethod.ReductionName(red), Width: 140));
            sb.Append(Gallery(new Gallery(items, items.Count)));
        }
        sb.Append("<div style=\"font:11px monospace\">F(x(t)): ").Append(string.Join(" ", r.Curve.Score.Select(v => v.ToString("F2")))).Append("</div>");
        return sb.Append("</div>").ToString();
    }

    public static string Session(LabSession s) =>
        $"<div style=\"font:12px sans-serif;border-left:3px solid #3b7;padding:4px 8px\"><b>XaiLab {Escape(s.XaiLabVersion)}</b> — " +
        $"device {Escape(s.Device)}, scale <b>{s.Scale.ToString().ToLowerInvariant()}</b>, TorchSharp {Escape(s.TorchSharpVersion)}</div>";
}
