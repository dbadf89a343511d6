using System.Text;
using TorchSharp;
using XaiLab.Denoising;
using XaiLab.Imaging.Models;
using XaiLab.Imaging.Visual;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Evaluation;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>
/// Formatters of the evaluation, training and denoising results and of the comparison records. They only read the
/// results (no model is run); every one is a titled panel with its figures, and charts where the result has a curve.
/// </summary>
public static class ResultHtml
{
    static string Pct(double v) => double.IsNaN(v) ? "NaN" : (100 * v).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);

    static double[] Epochs<T>(IReadOnlyList<T> h, Func<T, int> epoch) => h.Select(e => (double)epoch(e)).ToArray();

    /// <summary>
    /// Pointing-game summary (thesis §2.7.3, Remark 10): a table with both averaging rules (TorchRay's mean over all
    /// classes, absent ones counting 0, and the mean over the classes with trials) per method and subset, and bars.
    /// </summary>
    public static string PointingGame(PointingGameSummary s)
    {
        var table = new TableView(null, new[] { "method", "subset", "TorchRay %", "present-class %", "hits / trials", "images", "classes" },
            s.Rows.Select(r => (IReadOnlyList<object?>)new object?[] { r.Method, r.Subset, Pct(r.TorchRayAccuracy), Pct(r.PresentClassAccuracy), $"{r.Hits}/{r.Trials}", r.Images, r.Classes }).ToArray());
        var methods = s.Rows.Select(r => r.Method).Distinct().ToArray();
        var subsets = s.Rows.Select(r => r.Subset).Distinct().ToArray();
        var series = new List<Series>();
        foreach (var sub in subsets)
        {
            series.Add(new Series($"{sub}: TorchRay", methods.Select(m => s.Rows.FirstOrDefault(r => r.Method == m && r.Subset == sub) is { } r ? 100 * r.TorchRayAccuracy : double.NaN).ToArray()));
            series.Add(new Series($"{sub}: present classes", methods.Select(m => s.Rows.FirstOrDefault(r => r.Method == m && r.Subset == sub) is { } r ? 100 * r.PresentClassAccuracy : double.NaN).ToArray()));
        }
        var chart = SvgCharts.Bars("accuracy %", methods, series, "%", "F1", 100, 440);
        return Html.Panel($"Pointing game: {s.Dataset}, model {s.Model}", $"{s.ImagesPlanned} images, tolerance {s.Tolerance:G3} px",
            "<div style=\"display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start\">" + Html.Table(table) + chart + "</div>");
    }

    /// <summary>Insertion or deletion curve with its AUC (Eq 2.3/2.4).</summary>
    public static string PixelAblation(PixelAblationResult r) =>
        Html.Panel($"{r.Mode}: AUC {r.Auc:F3}", $"baseline {r.Baseline}, {r.T.Length} points",
            SvgCharts.Lines(null, r.T, new[] { new Series("F", r.Scores) }, r.Mode == AblationMode.Insertion ? "fraction inserted" : "fraction deleted", "class score F"));

    /// <summary>Cascading model randomisation: Spearman ρ (signed and absolute maps) after each stage.</summary>
    public static string Randomisation(ModelRandomisationResult r)
    {
        var k = Enumerable.Range(1, r.Stages.Count).Select(i => (double)i).ToArray();
        var chart = SvgCharts.Lines(null, k, new[] { new Series("Spearman ρ", r.Stages.Select(s => s.Spearman).ToArray()), new Series("Spearman ρ of |map|", r.Stages.Select(s => s.SpearmanAbs).ToArray()) },
            "layers randomised", "ρ with the trained model's map");
        var table = new TableView(null, new[] { "stage", "last layer randomised", "ρ", "ρ |map|" },
            r.Stages.Select((s, i) => (IReadOnlyList<object?>)new object?[] { i + 1, s.RandomisedLayers.Count > 0 ? s.RandomisedLayers[^1] : "–", s.Spearman, s.SpearmanAbs }).ToArray());
        return Html.Panel($"Model randomisation: {r.Method}", $"{r.Mode}; ρ ≈ 1 after randomisation = the method ignores the weights",
            "<div style=\"display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start\">" + chart + Html.Table(table) + "</div>");
    }

    /// <summary>Planted-marker faithfulness: reliant scenes and how often the method points at the marker.</summary>
    public static string Faithfulness(MarkerFaithfulnessResult f) =>
        Html.Panel($"Marker faithfulness: {f.Method}", null, Html.Facts(new Facts(null, new KeyValuePair<string, object?>[]
        {
            new("scenes", f.Scenes), new("model relies on the marker", f.Reliant), new("points at the marker", f.PointsAtMarker), new("rate", $"{Pct(f.Rate)} %"),
        })));

    /// <summary>Seconds per image of several methods: table and bars.</summary>
    public static string Benchmark(MethodBenchmarkResult b)
    {
        var table = new TableView(null, new[] { "method", "images", "mean s", "min s", "max s", "parameters" },
            b.Timings.Select(t => (IReadOnlyList<object?>)new object?[] { t.Method, t.Images, t.MeanSeconds, t.MinSeconds, t.MaxSeconds, t.Parameters }).ToArray());
        var chart = SvgCharts.Bars("seconds per image", b.Timings.Select(t => t.Method).ToArray(), new[] { new Series("mean", b.Timings.Select(t => t.MeanSeconds).ToArray()) }, "s");
        return Html.Panel($"Method timings on {b.Model} ({b.Height}×{b.Width})", $"{b.Device}, {b.Cores} cores, {b.TorchThreads} torch threads",
            "<div style=\"display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start\">" + chart + Html.Table(table) + "</div>");
    }

    /// <summary>A classifier's held-out figure and its per-class values.</summary>
    public static string Evaluation(EvaluationResult e)
    {
        var cls = Enumerable.Range(0, e.PerClass.Count).Select(i => $"class {i}").ToArray();
        return Html.Panel($"{e.Model} on {e.Dataset}/{e.Split}: {e.Metric} {e.Value:F3}", $"{e.Images} images, {e.Duration.TotalSeconds:F1} s",
            SvgCharts.Bars($"per class {(e.Metric == "mAP" ? "average precision" : "accuracy")}", cls, new[] { new Series(e.Metric, e.PerClass.ToArray()) }, null, "F3", 1, 360));
    }

    /// <summary>The planted marker's effect on a model.</summary>
    public static string Marker(MarkerEffect m) =>
        Html.Panel($"Marker effect on {m.Model}", $"{m.Images} scenes of other classes than {m.MarkerClass}",
            Html.Facts(new Facts(null, new KeyValuePair<string, object?>[] { new("predicted as marker class, with marker", $"{Pct(m.WithMarker)} %"),
                new("without marker", $"{Pct(m.WithoutMarker)} %"), new("increase", $"{Pct(m.Increase)} points") })));

    /// <summary>A Fashion model's training run: loss and validation metric per epoch and the held-out figure.</summary>
    public static string FashionTraining(FashionTrainingResult r)
    {
        var x = Epochs(r.Epochs, e => e.Epoch);
        var charts = SvgCharts.Lines("training loss", x, new[] { new Series("loss", r.Epochs.Select(e => e.Loss).ToArray()) }, "epoch", null, width: 300, height: 180) +
                     SvgCharts.Lines($"validation {r.Metric}", x, new[] { new Series(r.Metric, r.Epochs.Select(e => e.ValMetric).ToArray()) }, "epoch", null, width: 300, height: 180);
        var facts = new Facts(null, new KeyValuePair<string, object?>[]
        {
            new($"test {r.Test.Metric}", r.Test.Value), new("test images", r.Test.Images), new("parameters", r.Parameters),
            new("training", $"{r.TrainSeconds:F0} s, {r.Options.Epochs} epochs × {r.Options.ScenesPerEpoch} scenes"),
            new("marker", r.Marker is { } m ? $"{Pct(m.WithMarker)} % → {Pct(m.WithoutMarker)} % without" : "–"), new("weights", $"{r.WeightsPath} ({r.WeightBytes / 1024.0:F0} KiB)"),
        });
        return Html.Panel($"Training {r.Model} ({r.Architecture}) on {r.Dataset}", null,
            "<div style=\"display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start\">" + charts + Html.Facts(facts) + "</div>");
    }

    /// <summary>The ResNet18 head's L2 sweep and its held-out figure.</summary>
    public static string ResNet18Training(FashionResNet18TrainingResult r)
    {
        var l2 = r.Sweep.Select(s => s.L2).ToArray();
        var chart = SvgCharts.Bars("accuracy per L2 strength", l2.Select(v => $"L2 {v:G3}").ToArray(),
            new[] { new Series("train", r.Sweep.Select(s => s.TrainAccuracy).ToArray()), new Series("validation", r.Sweep.Select(s => s.ValAccuracy).ToArray()) }, null, "F3", 1, 360);
        var facts = new Facts(null, new KeyValuePair<string, object?>[]
        {
            new("chosen L2", r.ChosenL2), new($"test {r.Test.Metric}", r.Test.Value), new("backbone", $"{r.Backbone} at {r.BackboneSide} px"),
            new("time", $"features {r.FeatureSeconds:F0} s, head {r.HeadSeconds:F0} s"), new("forward+backward", $"{r.ForwardBackwardMsPerImage:F0} ms/image ({r.Threads} threads)"),
        });
        return Html.Panel($"Training {r.Model}", null, "<div style=\"display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start\">" + chart + Html.Facts(facts) + "</div>");
    }

    /// <summary>A denoiser's training run (Figs 7.7–7.9): validation PSNR, MSE and both equivariance errors per epoch.</summary>
    public static string DenoisingTraining(DenoisingTrainingResult r)
    {
        if (r.History.Count == 0) return Html.Panel($"Denoiser {r.Net}", "no epochs recorded", "");
        var x = Epochs(r.History, e => e.Epoch);
        const int w = 260, h = 170;
        var charts =
            SvgCharts.Lines("validation PSNR (dB)", x, new[] { new Series("PSNR", r.History.Select(e => e.ValidationPsnr).ToArray()) }, "epoch", null, width: w, height: h) +
            SvgCharts.Lines("MSE (log)", x, new[] { new Series("validation", r.History.Select(e => e.ValidationMse).ToArray()), new Series("training loss", r.History.Select(e => e.TrainLoss).ToArray()) }, "epoch", null, logY: true, width: w, height: h) +
            SvgCharts.Lines("equivariance error (log)", x, new[] { new Series("random angle", r.History.Select(e => e.EquivarianceError).ToArray()), new Series("quarter turns", r.History.Select(e => e.QuarterTurnError).ToArray()) }, "epoch", null, logY: true, width: w, height: h);
        var f = r.Final;
        return Html.Panel($"Denoiser {r.Net}: {f.ValidationPsnr:F2} dB after epoch {f.Epoch}" + (r.Cancelled ? " (cancelled)" : ""),
            $"{r.Parameters:N0} parameters, {r.Device}, {r.History.Sum(e => e.Seconds):F1} s; equivariance error {f.EquivarianceError:G3}, quarter turns {f.QuarterTurnError:G3}",
            "<div style=\"display:flex;flex-wrap:wrap;gap:4px\">" + charts + "</div>");
    }

    /// <summary>One epoch of a denoiser's training, as one line.</summary>
    public static string DenoisingEpoch(DenoisingEpoch e) =>
        $"<div style=\"font:12px sans-serif\"><b>epoch {e.Epoch}</b>: validation MSE {SvgCharts.Num(e.ValidationMse)}, PSNR {e.ValidationPsnr:F2} dB, " +
        $"equivariance error {SvgCharts.Num(e.EquivarianceError)} (quarter turns {SvgCharts.Num(e.QuarterTurnError)}), training loss {SvgCharts.Num(e.TrainLoss)}, {e.Seconds:F1} s</div>";

    /// <summary>A sparse resampling matrix (spiral CNN): shape, non-zeros, triangles, targets outside the hull.</summary>
    public static string Resampling(SparseResampling s) =>
        Html.Panel($"Sparse resampling {s.RowCount}×{s.ColCount}", null, Html.Facts(new Facts(null, new KeyValuePair<string, object?>[]
            { new("non-zeros", s.Values.Length), new("triangles", s.Triangles), new("targets outside the hull", s.OutsideHull),
              new("non-zeros per row", s.RowCount == 0 ? 0.0 : s.Values.Length / (double)s.RowCount) })));

    /// <summary>Noisy / denoised / clean triptychs with the PSNR inside the disc under each image.</summary>
    public static string Denoising(DenoisingComparison c)
    {
        using var scope = NewDisposeScope();
        Tensor As4(Tensor t, string what)
        {
            var x = t.detach().to(CPU).to_type(ScalarType.Float32);
            if (x.dim() == 2) x = x.unsqueeze(0).unsqueeze(0);
            else if (x.dim() == 3) x = x.unsqueeze(1);
            if (x.dim() != 4 || x.shape[1] != 1 || x.shape[2] != x.shape[3])
                throw new ArgumentException($"Denoising comparison: '{what}' must be [B,1,n,n] (or [n,n]); got [{string.Join(",", t.shape)}].");
            return x;
        }
        var clean = As4(c.Clean, "clean");
        var noisy = As4(c.Noisy, "noisy");
        var outs = c.Outputs.Select(kv => (kv.Key, T: As4(kv.Value, kv.Key))).ToList();
        foreach (var (name, t) in outs.Append(("noisy", noisy)))
            if (!t.shape.SequenceEqual(clean.shape)) throw new ArgumentException($"Denoising comparison: '{name}' is [{string.Join(",", t.shape)}], clean is [{string.Join(",", clean.shape)}].");
        int n = (int)Math.Min(c.Count, clean.shape[0]);
        double lo = clean.min().item<float>(), hi = clean.max().item<float>();
        var items = new List<object>();
        for (int i = 0; i < n; i++)
        {
            var ci = clean[TensorIndex.Slice(i, i + 1)];
            string Psnr(Tensor e) => $"{DenoisingMetrics.Psnr(DenoisingMetrics.DiscMse(e[TensorIndex.Slice(i, i + 1)], ci)):F2} dB";
            items.Add(new Heatmap(noisy[i, 0], $"noisy #{i}: {Psnr(noisy)}", "gray", Width: c.Width));
            foreach (var (name, t) in outs) items.Add(new Heatmap(t[i, 0], $"{name}: {Psnr(t)}", "gray", lo, hi, c.Width));
            items.Add(new Heatmap(clean[i, 0], "clean", "gray", lo, hi, c.Width));
        }
        return Html.Panel(c.Title ?? "Denoising", "PSNR inside the disc against the clean image (peak 1); denoised and clean share the clean image's grey scale",
            Html.Gallery(new Gallery(items, outs.Count + 2)));
    }

    /// <summary>Saliency maps of several methods on several images, one row per image.</summary>
    public static string Comparison(MethodComparison m)
    {
        m.Validate();
        var items = new List<object>();
        for (int i = 0; i < m.Images.Count; i++)
            for (int k = 0; k < m.Methods.Count; k++)
            {
                var caption = i == 0 ? m.Methods[k] + (m.SecondsPerImage is { } s ? $" ({s[k]:F2} s)" : "") + " · " + m.ImageLabels[i] : m.ImageLabels[i];
                items.Add(new Overlay(m.Images[i], m.Maps[i][k], caption, m.Alpha, Width: m.Width));
            }
        return Html.Panel(m.Title ?? "Method comparison", $"{m.Methods.Count} methods × {m.Images.Count} images; each map on its own colour scale (inferno, min → max)",
            "<div style=\"overflow-x:auto\">" + Html.Gallery(new Gallery(items, m.Methods.Count)) + "</div>");
    }

    /// <summary>A sweep: a table shaded by value and grouped bars.</summary>
    public static string Sweep(SweepMatrix s)
    {
        s.Validate();
        var finite = s.Values.SelectMany(v => v).Where(double.IsFinite).ToArray();
        double lo = finite.DefaultIfEmpty(0).Min(), hi = finite.DefaultIfEmpty(1).Max();
        var sb = new StringBuilder("<div style=\"display:inline-block;vertical-align:top;max-width:100%;overflow-x:auto\"><table style=\"font:12px sans-serif;border-collapse:collapse\"><tr>");
        sb.Append($"<th style=\"text-align:left;border-bottom:1px solid #999;padding:2px 8px\">{Html.Escape(s.RowHeader)}</th>");
        foreach (var c in s.Columns) sb.Append($"<th style=\"border-bottom:1px solid #999;padding:2px 8px\">{Html.Escape(c)}</th>");
        sb.Append("</tr>");
        for (int r = 0; r < s.Rows.Count; r++)
        {
            sb.Append($"<tr><td style=\"padding:1px 8px\">{Html.Escape(s.Rows[r])}</td>");
            for (int c = 0; c < s.Columns.Count; c++)
            {
                double v = s.Values[r][c];
                var note = s.Notes?[r][c];
                string bg = "#fff";
                if (double.IsFinite(v) && s.HigherIsBetter is { } up && hi > lo)
                {
                    double q = (v - lo) / (hi - lo);
                    if (!up) q = 1 - q;
                    int g = (int)Math.Round(255 - 90 * q);
                    bg = $"rgb({g},{Math.Min(255, g + 40)},{g})";
                }
                var text = double.IsFinite(v) ? v.ToString(s.ValueFormat, System.Globalization.CultureInfo.InvariantCulture) : "–";
                sb.Append($"<td style=\"padding:1px 8px;text-align:right;background:{bg};font-variant-numeric:tabular-nums\">{Html.Escape(text)}" +
                          (note is null ? "" : $" <span style=\"color:#666\">({Html.Escape(note)})</span>") + "</td>");
            }
            sb.Append("</tr>");
        }
        sb.Append("</table>");
        if (s.Unit is not null) sb.Append($"<div style=\"font:11px sans-serif;color:#666\">values: {Html.Escape(s.Unit)}{(s.HigherIsBetter is { } u ? u ? ", greener = higher" : ", greener = lower" : "")}</div>");
        sb.Append("</div>");
        var series = s.Columns.Select((c, k) => new Series(c, s.Values.Select(row => row[k]).ToArray())).ToArray();
        var chart = SvgCharts.Bars(null, s.Rows, series, s.Unit, s.ValueFormat.StartsWith("F") ? "F" + Math.Min(2, int.Parse(s.ValueFormat[1..])) : "G3", null, 440);
        return Html.Panel(s.Title ?? "Sweep", null, "<div style=\"display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start\">" + sb + chart + "</div>");
    }

    /// <summary>
    /// An ablation path: the interactive explorer rebuilt from the result (recorded scores; see
    /// <see cref="AblationExplorer.FromResult"/>), or for non-spatial path spaces the figures and the recorded score curve.
    /// </summary>
    public static string AblationPath(AblationPathResult r)
    {
        var explorer = AblationExplorer.FromResult(r);
        if (explorer is not null) return explorer.ToHtml();
        var curve = SvgCharts.Lines("F(x(t)) along the path (recorded)", r.Curve.Times, new[] { new Series("F", r.Curve.Score) }, "t", null, width: 320, height: 180);
        var facts = new Facts(null, new KeyValuePair<string, object?>[]
        {
            new("score", $"{r.ScoreKind} {r.Score:F4} (P↑ {r.RetainingScore:F4})"), new("saturation", r.Saturation), new("iterations", $"{r.Iterations} ({r.StopReason})"),
            new("path space", r.PathSpace), new("mask shape", $"[{string.Join("×", r.Up.shape)}]"), new("warnings", r.Warnings.Count == 0 ? "none" : string.Join("; ", r.Warnings)),
        });
        return Html.Panel($"Ablation path for class {r.ClassIndex} '{r.ClassName}'", "non-spatial path space: explore it with AblationExplorer.From(result, model, space)",
            "<div style=\"display:flex;flex-wrap:wrap;gap:10px\">" + curve + Html.Facts(facts) + "</div>");
    }

    /// <summary>A blurred baseline with its σ and the classes it separates.</summary>
    public static string Baseline(BlurredBaseline b) =>
        Html.Figure(Html.Img(b.Baseline, 160), $"blurred baseline, σ {b.Sigma:G3} px: class {b.TargetClass} → {b.BaselineClass}" + (b.ChangesClass ? "" : " (class not changed)"), 160);

    /// <summary>A score curve F(x(t)) over t.</summary>
    public static string Curve(ScoreCurve c) =>
        SvgCharts.Lines("F(x(t))", c.Times, new[] { new Series("F", c.Score) }, "t", null, width: 320, height: 180);
}
