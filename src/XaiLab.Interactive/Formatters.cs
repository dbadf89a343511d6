using System.Globalization;
using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;
using TorchSharp;
using XaiLab.Denoising;
using XaiLab.Imaging.Models;
using XaiLab.Saliency;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>
/// Registers XaiLab's formatters with .NET Interactive: for every public result type an HTML view (compact, titled,
/// offline) and a <c>text/plain</c> summary for terminals. Registration is process-global, thread-safe and idempotent
/// (a lock; later calls return at once).
/// </summary>
public static class Formatters
{
    static readonly object Gate = new();
    static volatile bool _registered;

    /// <summary>The types that get an XaiLab formatter (for tests and documentation).</summary>
    public static IReadOnlyList<Type> Types { get; } = new[]
    {
        typeof(Tensor), typeof(SaliencyMap), typeof(Heatmap), typeof(Overlay), typeof(Picture), typeof(Gallery), typeof(TableView), typeof(Facts),
        typeof(LabSession), typeof(RawHtml), typeof(PathExplorer), typeof(AblationPathResult), typeof(ScoreCurve), typeof(BlurredBaseline),
        typeof(ScaleSpace), typeof(KeypointView), typeof(FeatureCellsView), typeof(SiftFeatureBasis), typeof(SiftBasisDiagnostics),
        typeof(DenoisingComparison), typeof(DenoisingTrainingResult), typeof(DenoisingEpoch), typeof(SparseResampling),
        typeof(FashionTrainingResult), typeof(FashionResNet18TrainingResult), typeof(EvaluationResult), typeof(MarkerEffect),
        typeof(PointingGameSummary), typeof(PixelAblationResult), typeof(ModelRandomisationResult), typeof(MarkerFaithfulnessResult),
        typeof(MethodBenchmarkResult), typeof(MethodComparison), typeof(SweepMatrix), typeof(GenericChart),
    };

    /// <summary>Registers all formatters once per process.</summary>
    public static void Register()
    {
        if (_registered) return;
        lock (Gate)
        {
            if (_registered) return;
            Add<Tensor>(t => Html.Tensor(t), t => TensorStats.Of(t).ToString());
            Add<SaliencyMap>(Html.Saliency, s => $"saliency map {s.Method}, class {s.ClassIndex}: {TensorStats.Of(s.Map)}");
            Add<Heatmap>(Html.Heatmap, h => $"heatmap {h.Caption}: {TensorStats.Of(h.Map)}");
            Add<Overlay>(Html.Overlay, o => $"overlay {o.Caption}: map {TensorStats.Of(o.Map)}");
            Add<Picture>(Html.Picture, p => $"picture {p.Caption}: {TensorStats.Of(p.Image)}");
            Add<Gallery>(Html.Gallery, g => $"{g.Title ?? "gallery"}: {g.Items.Count} items in {g.Columns} columns");
            Add<TableView>(Html.Table, TableText);
            Add<Facts>(Html.Facts, f => (f.Title is null ? "" : f.Title + "\n") + string.Join("\n", f.Items.Select(kv => $"  {kv.Key}: {Html.CellText(kv.Value)}")));
            Add<LabSession>(Html.Session, s => $"XaiLab {s.XaiLabVersion}: device {s.Device}, scale {s.Scale.ToString().ToLowerInvariant()}, TorchSharp {s.TorchSharpVersion}");
            Add<RawHtml>(h => h.Html, h => "(HTML)");
            Add<PathExplorer>(e => e.ToHtml(), e => $"{e.Title}: {e.Tracks.Count} track(s), {e.Times.Length} times; " + string.Join(", ", e.Diagnostics.Select(kv => $"{kv.Key} {kv.Value}")));
            Add<AblationPathResult>(ResultHtml.AblationPath, r => r.ToString());
            Add<ScoreCurve>(ResultHtml.Curve, c => $"score curve: {c.Times.Length} points, F from {SvgCharts.Num(c.Score.FirstOrDefault())} to {SvgCharts.Num(c.Score.LastOrDefault())}");
            Add<BlurredBaseline>(ResultHtml.Baseline, b => $"blurred baseline σ {b.Sigma:G3} px, class {b.TargetClass} → {b.BaselineClass}");
            Add<ScaleSpace>(s => SiftHtml.ScaleSpace(s), s => $"scale space: {s.Layers.Count} bands of {s.Channels}×{s.Height}×{s.Width}, levels {string.Join(",", s.Layers.Select(l => l.Level).Distinct())}, residual {s.ResamplingResidual:E2}");
            Add<KeypointView>(SiftHtml.Keypoints, v => $"{v.Keypoints.Count} keypoints over a [{string.Join("×", v.Image.shape)}] image");
            Add<FeatureCellsView>(v => SiftHtml.FeatureCells(v), v => $"feature cells of band {v.Layer} (σ {v.Sigma:F2}), {v.Keypoints.Count} keypoints");
            Add<SiftFeatureBasis>(SiftHtml.Basis, b => $"SIFT basis: K = {b.K}, {b.Layers.Count} bands, max |D(1) − x| = {b.Diagnostics.ReconstructionError:E2}, sparsity {b.Options.Sparsity:G3}");
            Add<SiftBasisDiagnostics>(SiftHtml.Diagnostics, d => $"SIFT basis: K = {d.Keypoints}, {d.Bands} bands, max |D(1) − x| = {d.ReconstructionError:E2}, {d.DecoderBytes / 1048576.0:F2} MiB");
            Add<DenoisingComparison>(ResultHtml.Denoising, c => $"{c.Title ?? "denoising"}: {string.Join(", ", c.Outputs.Keys)} against clean");
            Add<DenoisingTrainingResult>(ResultHtml.DenoisingTraining, r => r.History.Count == 0 ? $"denoiser {r.Net}: no epochs" :
                $"denoiser {r.Net}: {r.History.Count - 1} epochs, PSNR {r.Final.ValidationPsnr:F2} dB, equivariance error {r.Final.EquivarianceError:G3}, {r.Parameters} parameters");
            Add<DenoisingEpoch>(ResultHtml.DenoisingEpoch, e => $"epoch {e.Epoch}: val MSE {e.ValidationMse:G3}, PSNR {e.ValidationPsnr:F2} dB, equivariance {e.EquivarianceError:G3}");
            Add<SparseResampling>(ResultHtml.Resampling, s => $"sparse resampling {s.RowCount}×{s.ColCount}, {s.Values.Length} non-zeros");
            Add<FashionTrainingResult>(ResultHtml.FashionTraining, r => $"{r.Model}: test {r.Test.Metric} {r.Test.Value:F3} after {r.Epochs.Count} epochs");
            Add<FashionResNet18TrainingResult>(ResultHtml.ResNet18Training, r => $"{r.Model}: test {r.Test.Metric} {r.Test.Value:F3}, L2 {r.ChosenL2:G3}");
            Add<EvaluationResult>(ResultHtml.Evaluation, e => $"{e.Model} on {e.Dataset}/{e.Split}: {e.Metric} {e.Value:F3} ({e.Images} images)");
            Add<MarkerEffect>(ResultHtml.Marker, m => $"marker effect on {m.Model}: {m.WithMarker:P1} with, {m.WithoutMarker:P1} without");
            Add<PointingGameSummary>(ResultHtml.PointingGame, s => PointingGameRunner.FormatTable(s));
            Add<PixelAblationResult>(ResultHtml.PixelAblation, r => $"{r.Mode} AUC {r.Auc:F3} ({r.T.Length} points, baseline {r.Baseline})");
            Add<ModelRandomisationResult>(ResultHtml.Randomisation, r => $"model randomisation of {r.Method}: Spearman {string.Join(" ", r.Stages.Select(s => s.Spearman.ToString("F2", CultureInfo.InvariantCulture)))}");
            Add<MarkerFaithfulnessResult>(ResultHtml.Faithfulness, f => $"{f.Method}: points at the marker in {f.PointsAtMarker}/{f.Reliant} reliant scenes");
            Add<MethodBenchmarkResult>(ResultHtml.Benchmark, b => string.Join("\n", b.Timings.Select(t => $"{t.Method,-26} {t.MeanSeconds:F3} s/image")));
            Add<MethodComparison>(ResultHtml.Comparison, m => $"{m.Title ?? "method comparison"}: {string.Join(", ", m.Methods)} on {m.Images.Count} images");
            Add<SweepMatrix>(ResultHtml.Sweep, SweepText);
            Add<GenericChart>(c => PlotlyEmbedding.ChartHtml(c), c => "(Plotly chart)");
            Add<XaiLab.Saliency.Evaluation.Sweeps.SweepTable>(SweepView.ToHtml, t => t.ToText());
            _registered = true;
        }
    }

    static void Add<T>(Func<T, string> html, Func<T, string> text)
    {
        Formatter.Register<T>(html, HtmlFormatter.MimeType);
        Formatter.Register<T>(text, PlainTextFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(T), HtmlFormatter.MimeType);
    }

    static string TableText(TableView t)
    {
        var cells = t.Rows.Select(r => r.Select(Html.CellText).ToArray()).ToArray();
        var widths = t.Columns.Select((c, i) => Math.Max(c.Length, cells.Select(r => r[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        var lines = new List<string>();
        if (t.Title is not null) lines.Add(t.Title);
        lines.Add(string.Join("  ", t.Columns.Select((c, i) => c.PadRight(widths[i]))));
        lines.AddRange(cells.Select(r => string.Join("  ", r.Select((v, i) => v.PadRight(widths[i])))));
        return string.Join("\n", lines);
    }

    static string SweepText(SweepMatrix s) =>
        (s.Title is null ? "" : s.Title + "\n") + $"{s.RowHeader}: " + string.Join(" | ", s.Columns) + "\n" +
        string.Join("\n", s.Rows.Select((r, i) => $"{r}: " + string.Join(" | ", s.Values[i].Select(v => v.ToString(s.ValueFormat, CultureInfo.InvariantCulture)))));
}
