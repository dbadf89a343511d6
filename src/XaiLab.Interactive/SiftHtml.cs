using System.Globalization;
using System.Text;
using TorchSharp;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>
/// Formatters of the SIFT feature-cell results (thesis chapter 4). They only read the results: no detector, no
/// decoder rendering is run here.
/// </summary>
public static class SiftHtml
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    static string Sigma(double s) => double.IsInfinity(s) ? "∞" : s.ToString(s < 10 ? "F2" : "F1", Inv);

    /// <summary>
    /// The scale space: each band T_l (channel mean) as a heatmap on a diverging colour scale symmetric about 0 (its own
    /// range, written under it), the top band T_M as the low-pass image, and the decomposition's figures. At most
    /// <paramref name="maxBands"/> bands are shown, evenly spaced, the finest and the top band always.
    /// </summary>
    public static string ScaleSpace(ScaleSpace s, int maxBands = 10)
    {
        using var scope = NewDisposeScope();
        int n = s.Layers.Count;
        var pick = Enumerable.Range(0, Math.Min(n, maxBands)).Select(i => maxBands >= n ? i : (int)Math.Round(i * (n - 1) / (double)(maxBands - 1))).Distinct().ToList();
        var bands = s.Bands.detach().to(CPU).to_type(ScalarType.Float32);
        int w = s.Width >= 96 ? 128 : 96;
        var items = new List<object>();
        foreach (var l in pick)
        {
            var L = s.Layers[l];
            var caption = $"T{l}: σ {Sigma(L.LowerSigma)}–{Sigma(L.UpperSigma)}, level {L.Level} ({L.Height}×{L.Width})";
            if (l == n - 1) { items.Add(new Picture(bands[l].clamp(0, 1), $"top {caption}", w)); continue; }
            var m = bands[l].mean(new long[] { 0 });
            double a = Math.Max(1e-12, m.abs().max().item<float>());
            items.Add(new Heatmap(m, caption, "diverging", -a, a, w));
        }
        var recon = s.Reconstruct();
        var stored = s.ReconstructStored();
        double storedVsFull = (stored.to(recon.device) - recon).abs().max().item<float>();
        long fullBytes = s.Bands.numel() * s.Bands.ElementSize;
        var facts = new Facts(null, new KeyValuePair<string, object?>[]
        {
            new("bands", $"{n} (T0 … T{n - 1}), ρ = {s.Options.LayersPerOctave:G3} per octave, σ0 = {s.Options.Sigma0:G3} px"),
            new("image", $"{s.Channels}×{s.Height}×{s.Width}"),
            new("levels", string.Join(", ", s.Layers.GroupBy(l => l.Level).Select(g => $"{g.Key}: {g.First().Height}×{g.First().Width} ×{g.Count()}"))),
            new("max |Σ up(S_l) − Σ T_l|", storedVsFull),
            new("carried resampling residual", s.ResamplingResidual),
            new("storage", $"{s.StoredBytes / 1024.0:F0} KiB multi-resolution, {fullBytes / 1024.0:F0} KiB full"),
        });
        return Html.Panel("Scale space (Eq 4.31)", "bands on a diverging scale (blue < 0 < red), each with its own range; Σ_l T_l = x",
            Html.Gallery(new Gallery(items, Math.Min(5, items.Count))) + facts.ToHtmlFacts());
    }

    /// <summary>Keypoints as circles of radius RadiusPerSigma·σ over the image (inline SVG over the PNG), white with a black halo.</summary>
    public static string Keypoints(KeypointView v)
    {
        using var scope = NewDisposeScope();
        var img = v.Image.detach().to(CPU).to_type(ScalarType.Float32);
        if (img.dim() == 2) img = img.unsqueeze(0);
        if (img.dim() != 3) throw new ArgumentException($"Keypoint view: expected an image [C,H,W]; got [{string.Join(",", v.Image.shape)}].");
        int h = (int)img.shape[1], w = (int)img.shape[2];
        int width = v.Width, height = (int)Math.Round((double)width * h / w);
        double sx = (double)width / w, sy = (double)height / h;
        var sb = new StringBuilder();
        sb.Append($"<div style=\"position:relative;width:{width}px;height:{height}px;max-width:100%;margin:0 auto\">");
        sb.Append($"<img src=\"{Html.DataUri(img.clamp(0, 1))}\" style=\"width:100%;height:100%;display:block\"/>");
        sb.Append(FormattableString.Invariant($"<svg viewBox=\"0 0 {width} {height}\" style=\"position:absolute;left:0;top:0;width:100%;height:100%\">"));
        var shown = v.Keypoints.Take(3000).ToList();
        var halo = new StringBuilder(); var line = new StringBuilder();
        foreach (var k in shown)
        {
            double cx = (k.X + 0.5) * sx, cy = (k.Y + 0.5) * sy, r = Math.Max(1.5, v.RadiusPerSigma * k.Sigma * sx);
            halo.Append(FormattableString.Invariant($"<circle cx=\"{cx:F1}\" cy=\"{cy:F1}\" r=\"{r:F1}\"/>"));
            line.Append(FormattableString.Invariant($"<circle cx=\"{cx:F1}\" cy=\"{cy:F1}\" r=\"{r:F1}\"><title>({k.X:F1}, {k.Y:F1}) σ {k.Sigma:F2}, response {k.Response:G3}</title></circle>"));
        }
        sb.Append($"<g fill=\"none\" stroke=\"#000\" stroke-width=\"2.6\" stroke-opacity=\"0.8\">{halo}</g><g fill=\"none\" stroke=\"#fff\" stroke-width=\"1.1\">{line}</g>");
        sb.Append("</svg></div>");
        var sig = v.Keypoints.Select(k => (double)k.Sigma).DefaultIfEmpty(double.NaN).ToArray();
        var caption = (v.Caption is null ? "" : v.Caption + ": ") + $"{v.Keypoints.Count} keypoints, σ {SvgCharts.Num(sig.Min())}–{SvgCharts.Num(sig.Max())} px, circles of radius {v.RadiusPerSigma:G3}σ" +
                      (shown.Count < v.Keypoints.Count ? $" (first {shown.Count} drawn)" : "");
        return Html.Figure(sb.ToString(), caption, width);
    }

    /// <summary>
    /// Feature cells of one band: hard Voronoi cells and smooth cells (colour per keypoint), and one cell isolated — the
    /// cell under the image centre, its hard indicator over the dimmed image and its indicator smoothed with the band's σ
    /// (Eq 4.26, before the sparsity cut-off) as a heatmap.
    /// </summary>
    public static string FeatureCells(FeatureCellsView v, int width = 176)
    {
        using var scope = NewDisposeScope();
        var labels = v.Labels.detach().to(CPU).to_type(ScalarType.Int64);
        int h = (int)labels.shape[0], w = (int)labels.shape[1];
        long cell = labels[h / 2, w / 2].item<long>();
        var inside = labels.eq(cell).to_type(ScalarType.Float32);
        var img = v.Image.detach().to(CPU).to_type(ScalarType.Float32);
        if (img.shape[0] == 1) img = img.expand(3, h, w);
        var isolated = (img * (0.25f + 0.75f * inside)).clamp(0, 1);
        var smooth = XaiLab.Imaging.Filters.Gaussian.Blur(inside.unsqueeze(0), Math.Max(0.5, v.Sigma), XaiLab.Imaging.Filters.BlurBorder.Reflect, XaiLab.Imaging.Filters.Gaussian.ScaleSpaceTruncate)[0];
        int cells = (int)labels.unique().Item1.numel();
        var kp = cell >= 0 && cell < v.Keypoints.Count ? v.Keypoints[(int)cell] : (SiftKeypoint?)null;
        var kpText = kp is { } k ? $" (keypoint at ({k.X:F0}, {k.Y:F0}), σ {k.Sigma:F1})" : "";
        var items = new List<object>
        {
            new Picture(v.HardCells, $"hard cells ({cells} in this band)", width),
            new Picture(v.SmoothCells, "smooth cells (blurred, cut off, redistributed)", width),
            new Picture(isolated, $"cell {cell}{kpText}: {inside.sum().item<float>():F0} px", width),
            new Heatmap(smooth, $"cell {cell} smoothed with σ {v.Sigma:F1} px", "viridis", 0, 1, width),
        };
        return Html.Panel($"Feature cells of band {v.Layer} (σ {v.Sigma:F2} px)", $"{v.Keypoints.Count} keypoints; colours identify cells",
            Html.Gallery(new Gallery(items, items.Count)));
    }

    /// <summary>The SIFT decomposition: K, bands, reconstruction error, sparsity and decoder storage, with the keypoints over the image.</summary>
    public static string Basis(SiftFeatureBasis b)
    {
        var d = b.Diagnostics;
        var body = "<div style=\"display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start\">" +
                   Keypoints(new KeypointView(b.Image, b.Keypoints, "keypoints", 240)) +
                   "<div>" + DiagnosticsFacts(d, b.Options).ToHtmlFacts() + LevelTable(d) + "</div></div>";
        return Html.Panel($"SIFT feature basis: K = {b.K} features", $"{b.Channels}×{b.Height}×{b.Width} image, decoder D(θ) with D(1) = x (Lemma 8, 10), kernel {b.Kernel}, {b.Device}", body);
    }

    /// <summary>The diagnostics alone (figures and the per-level table).</summary>
    public static string Diagnostics(SiftBasisDiagnostics d) =>
        Html.Panel($"SIFT basis: K = {d.Keypoints}", null, DiagnosticsFacts(d, null).ToHtmlFacts() + LevelTable(d));

    static Facts DiagnosticsFacts(SiftBasisDiagnostics d, SiftBasisOptions? o)
    {
        long nnz = d.Levels.Sum(l => l.Nonzeros);
        var items = new List<KeyValuePair<string, object?>>
        {
            new("K (keypoints)", d.Keypoints),
            new("bands", d.Bands),
            new("max |D(1) − x|", d.ReconstructionError),
            new("resampling residual", d.ResamplingResidual),
            new("uncovered voxels", d.UncoveredVoxels),
            new("non-zeros", nnz),
            new("decoder", $"{d.DecoderBytes / 1048576.0:F2} MiB (torch COO {d.TorchCooBytes / 1048576.0:F2} MiB, dense {d.DenseBytes / 1073741824.0:F2} GiB)"),
            new("build", $"{d.BuildSeconds:F2} s"),
        };
        if (o is not null)
        {
            items.Insert(3, new("sparsity s (Eq 4.37)", o.Sparsity));
            items.Insert(4, new("η (Eq 4.18)", o.Eta));
        }
        return new Facts(null, items);
    }

    static string LevelTable(SiftBasisDiagnostics d) =>
        Html.Table(new TableView(null, new[] { "level", "grid", "bands", "non-zeros", "stored MiB", "COO MiB" },
            d.Levels.Select(l => (IReadOnlyList<object?>)new object?[] { l.Level, $"{l.Height}×{l.Width}", l.Layers, l.Nonzeros, l.Bytes / 1048576.0, l.CooBytes / 1048576.0 }).ToArray()));

    internal static string ToHtmlFacts(this Facts f) => Html.Facts(f);
}
