using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive.Formatting;
using XaiLab.Denoising;
using XaiLab.Imaging;
using XaiLab.Imaging.Models;
using XaiLab.Interactive;
using XaiLab.Saliency;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.SiftCells;
using XaiLab.Tests.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Tests.Foundation;

/// <summary>
/// Every result type's formatter: its HTML is self-contained (no external URL, every inline PNG decodes), has the parts
/// the result is about, and a text/plain summary exists. Each test registers the formatters itself (idempotent), so
/// the order of tests does not matter.
/// </summary>
[Collection("formatters")]
[Trait("Category", "Unit")]
public class ResultFormatterTests
{
    public ResultFormatterTests() => Formatters.Register();

    /// <summary>Asserts no external reference and that every inline PNG decodes; returns the decoded images.</summary>
    static List<Tensor> AssertSelfContained(string html)
    {
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);
        Assert.DoesNotMatch("(src|href)=\"(?!data:)", html);
        var images = new List<Tensor>();
        foreach (Match m in Regex.Matches(html, "data:image/png;base64,([A-Za-z0-9+/=]+)"))
            images.Add(ImageIO.Decode(Convert.FromBase64String(m.Groups[1].Value)));
        return images;
    }

    /// <summary>The HTML with entities decoded (× is written as &amp;#215;) and JSON's escaped '+' restored (explorer data).</summary>
    static string HtmlOf(object o) => System.Net.WebUtility.HtmlDecode(o.ToDisplayString(HtmlFormatter.MimeType)).Replace("\\u002B", "+");
    static string TextOf(object o) => o.ToDisplayString(PlainTextFormatter.MimeType);

    [Fact]
    public void EveryListedTypeHasAnHtmlAndATextFormatter()
    {
        foreach (var t in Formatters.Types)
        {
            Assert.Contains(HtmlFormatter.MimeType, Formatter.GetPreferredMimeTypesFor(t));
            Assert.NotNull(Formatter.GetPreferredFormatterFor(t, PlainTextFormatter.MimeType));
        }
        // Registering again (also from several threads at once) changes nothing.
        Parallel.For(0, 8, _ => Formatters.Register());
        using var gen = new Generator(43, CPU);
        using var img = rand(3, 8, 8, generator: gen);
        Assert.Contains("data:image/png", HtmlOf(img));
    }

    [Fact]
    public void TensorsOfAnyRankShowShapeDtypeAndStatisticsButNoValues()
    {
        using var v = tensor(new float[] { 0.125f, 7.5f, -3.25f, 1.0f });
        var html = HtmlOf(v);
        Assert.Contains("[4] Float32", html);
        Assert.Contains("min -3.25, max 7.5", html);
        Assert.DoesNotContain("0.125", html);                                   // a summary, not a dump
        using var big = arange(5 * 6 * 7 * 8 * 2, dtype: ScalarType.Float32).reshape(5, 6, 7, 8, 2);
        var h5 = HtmlOf(big);
        Assert.Contains("[5×6×7×8×2]", h5);
        Assert.Contains("0 / 3359", h5);                                       // min / max
        Assert.True(h5.Length < 4000, "a 5-D tensor is summarised in a few lines");
        Assert.StartsWith("tensor [4] Float32 cpu — min -3.25, max 7.5, mean 1.34, std 4.49", TextOf(v));
        // A signed image is a heatmap on the diverging scale symmetric about 0, with a colour bar (range written out).
        using var signed = linspace(-2, 1, 64).reshape(8, 8);
        var hs = HtmlOf(signed);
        Assert.Contains(">-2<", hs); Assert.Contains(">2<", hs);
        Assert.Equal(2, AssertSelfContained(hs).Count);
        // A batch [N,3,H,W] shows as a strip of images.
        using var gen = new Generator(47, CPU);
        using var batch = rand(3, 3, 6, 6, generator: gen);
        Assert.Equal(3, AssertSelfContained(HtmlOf(batch)).Count);
        // Integer label maps get one colour per label (not a white image with one black blob).
        using var labels = tensor(new long[] { 0, 0, 1, 1, 2, 2, 3, 3, 0, 0, 1, 1, 2, 2, 3, 3 }).reshape(2, 8);
        var decoded = AssertSelfContained(HtmlOf(labels)).Single();
        Assert.Equal(4, decoded.permute(1, 2, 0).reshape(-1, 3).unique(dim: 0).Item1.shape[0]);
    }

    [Fact]
    public void OverlayHasAColourBarAndNestedRowsRenderTheirItems()
    {
        using var gen = new Generator(53, CPU);
        using var img = rand(3, 16, 16, generator: gen);
        using var map = linspace(0, 5, 16).reshape(4, 4);
        var overlay = new Overlay(img, map, "ov");
        var html = HtmlOf(overlay);
        Assert.Equal(2, AssertSelfContained(html).Count);                       // the blend and its colour bar
        Assert.Contains(">5<", html);
        var nested = Show.Row(Show.Heatmap(map, "outer"), Show.Row(overlay, Show.Image(img, "inner")));
        var hn = HtmlOf(nested);
        Assert.DoesNotContain("System.Object[]", hn);
        Assert.DoesNotContain("Items =", hn);
        Assert.Contains("inner", hn);
        Assert.Equal(2 + 2 + 1, AssertSelfContained(hn).Count);                  // heatmap+bar, overlay+bar, picture
        // A grid of charts shares the box equally so that each chart sizes to its column.
        var charts = HtmlOf(Show.Row(Charts.Line(new[] { 0.0, 1 }, new[] { 0.0, 1 }), Charts.Line(new[] { 0.0, 1 }, new[] { 1.0, 0 })));
        Assert.Contains("repeat(2,minmax(0,1fr))", charts);
        Assert.Contains("delete L.width", charts);
    }

    [Fact]
    public void TablesFactsAndSweepsShowTheirNumbers()
    {
        var t = Show.Table(new[] { new { Method = "gradient", Auc = 0.4321 }, new { Method = "rise", Auc = 0.61 } }, "AUC");
        var html = HtmlOf(t);
        AssertSelfContained(html);
        Assert.Contains("<th", html); Assert.Contains("gradient", html); Assert.Contains("0.432", html);
        Assert.Matches("rise +0.61", TextOf(t));
        Assert.Throws<ArgumentException>(() => HtmlOf(new TableView("bad", new[] { "a", "b" }, new[] { new object?[] { 1 } })));
        var sweep = new SweepMatrix("pointing", "setting", new[] { "σ = 2", "σ = 8" }, new[] { "clt", "avg" },
            new[] { new[] { 0.5, 0.75 }, new[] { double.NaN, 1.0 } }, "accuracy", new[] { new string?[] { "1/2", "3/4" }, new string?[] { null, "4/4" } });
        var hs = HtmlOf(sweep);
        AssertSelfContained(hs);
        Assert.Contains("0.750", hs); Assert.Contains("(3/4)", hs); Assert.Contains("–", hs);
        Assert.Equal(3, Regex.Matches(hs, "<rect [^>]*fill=\"#").Count);        // three finite values → three bars
        var facts = HtmlOf(Show.Facts("check", ("error", 1.5e-7), ("n", 12000)));
        Assert.Contains("1.5E-7", facts); Assert.Contains("12,000", facts);
    }

    [Fact]
    public void SaliencyMapShowsDiagnosticsAndSignedMapsAreDiverging()
    {
        using var s = new SaliencyMap(linspace(-1, 3, 16).reshape(4, 4), "ig", 2, new Dictionary<string, object> { ["completeness_error"] = 0.00123 });
        var html = HtmlOf(s);
        Assert.Contains("ig — class 2", html);
        Assert.Contains("completeness_error", html);
        Assert.Contains(">-3<", html);                                           // symmetric about 0: −3 … 3
        Assert.Equal(2, AssertSelfContained(html).Count);
    }

    [Fact]
    public void ScaleSpaceShowsBandsOnADivergingScaleAndTheReconstruction()
    {
        var g = new Generator(5);
        using var image = rand(new long[] { 1, 32, 32 }, generator: g);
        using var space = ScaleSpace.Build(image);
        var html = HtmlOf(space);
        var imgs = AssertSelfContained(html);
        int shown = Math.Min(10, space.Layers.Count);
        Assert.Equal(2 * (shown - 1) + 1, imgs.Count);                          // band heatmaps with bars + the top band
        Assert.Contains("T0: σ 0.00–0.50", html);
        Assert.Contains("max |Σ up(S_l) − Σ T_l|", html);
        Assert.StartsWith("scale space: " + space.Layers.Count + " bands", TextOf(space));
    }

    [Fact]
    public void KeypointsAreCirclesOfTheirScaleWithAHalo()
    {
        using var image = zeros(3, 40, 80);
        var kps = new[] { new SiftKeypoint(10, 20, 3, 0.1f, 0, 1), new SiftKeypoint(60, 5, 1.5f, 0.05f, 0, 2) };
        var html = HtmlOf(Show.Keypoints(image, kps, "two", width: 160));
        Assert.Single(AssertSelfContained(html));
        // width 160 for 80 px: scale 2; radius 2σ·2 = 12 for σ 3; centre (10.5·2, 20.5·2).
        Assert.Contains("cx=\"21.0\" cy=\"41.0\" r=\"12.0\"", html);
        Assert.Equal(4, Regex.Matches(html, "<circle").Count);                 // halo + line per keypoint
        Assert.Contains("stroke=\"#000\"", html); Assert.Contains("stroke=\"#fff\"", html);
        Assert.Contains("2 keypoints, σ 1.5–3 px", html);
    }

    [Fact]
    public void SiftBasisAndFeatureCellsShowKErrorSparsityAndOneIsolatedCell()
    {
        using var image = ImageIO.Load(Path.Combine(Assets.Root, "photos", "chelsea.png"));
        using var small = nn.functional.interpolate(image.unsqueeze(0), new long[] { 48, 48 }, mode: InterpolationMode.Bilinear, align_corners: false).squeeze(0).clamp(0, 1);
        using var basis = SiftFeatureBasis.Build(small, new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 } });
        var html = HtmlOf(basis);
        AssertSelfContained(html);
        Assert.Contains($"K = {basis.K}", html);
        Assert.Contains("max |D(1) − x|", html);
        Assert.Contains(SvgCharts.Num(basis.Diagnostics.ReconstructionError), html);
        Assert.Contains("sparsity s (Eq 4.37)", html);
        Assert.Contains($"SIFT basis: K = {basis.K}", HtmlOf(basis.Diagnostics));
        var view = basis.View(Math.Min(3, basis.Layers.Count - 1));
        var hv = HtmlOf(view);
        var imgs = AssertSelfContained(hv);
        Assert.Equal(5, imgs.Count);                                             // hard, smooth, isolated, smoothed cell + bar
        long cell = view.Labels[24, 24].item<long>();
        Assert.Contains($"cell {cell}", hv);
        // The isolated cell keeps full brightness inside and is dimmed outside.
        var iso = imgs[2];
        var inside = view.Labels.eq(cell);
        using var expected = (view.Image * (0.25f + 0.75f * inside.to_type(ScalarType.Float32))).clamp(0, 1);
        Assert.True((iso - expected).abs().max().item<float>() <= 1 / 255f + 1e-4f);
    }

    [Fact]
    public void DenoisingComparisonReportsThePsnrOfEachImage()
    {
        var g = new Generator(3);
        using var clean = rand(new long[] { 2, 1, 16, 16 }, generator: g);
        using var noisy = clean + 0.3f * randn(new long[] { 2, 1, 16, 16 }, generator: g);
        using var den = clean + 0.05f * randn(new long[] { 2, 1, 16, 16 }, generator: g);
        var c = new DenoisingComparison(noisy, new Dictionary<string, Tensor> { ["net"] = den }, clean, "test");
        var html = HtmlOf(c);
        Assert.Equal(2 * 3 * 2, AssertSelfContained(html).Count);              // 2 images × (noisy, net, clean) × (map + bar)
        for (int i = 0; i < 2; i++)
        {
            var p = DenoisingMetrics.Psnr(DenoisingMetrics.DiscMse(den[TensorIndex.Slice(i, i + 1)], clean[TensorIndex.Slice(i, i + 1)]));
            Assert.Contains($"net: {p:F2} dB", html);
        }
        Assert.Throws<ArgumentException>(() => HtmlOf(c with { Clean = clean[0] }));
    }

    [Fact]
    public void TrainingRunsShowCurvesPerEpoch()
    {
        var hist = Enumerable.Range(0, 4).Select(e => new DenoisingEpoch(e, e == 0 ? double.NaN : 0.1 / e, 0.04 / (e + 1), 0.05 / (e + 1), 10 * Math.Log10((e + 1) / 0.05), 0.2 / (e + 1), 0.01, 1.5)).ToList();
        var r = new DenoisingTrainingResult("spiral", hist, 12345, false, "cpu");
        var html = HtmlOf(r);
        AssertSelfContained(html);
        Assert.Contains("validation PSNR (dB)", html);
        Assert.Contains("equivariance error (log)", html);
        Assert.Equal(3, Regex.Matches(html, "<svg").Count);
        Assert.Contains($"{hist[^1].ValidationPsnr:F2} dB after epoch 3", html);
        Assert.Contains("12,345 parameters", html);
        Assert.StartsWith("denoiser spiral: 3 epochs", TextOf(r));
        var eval = new EvaluationResult("m", "d", "test", "accuracy", 0.8, 10, new[] { 0.5, 1.0 }, TimeSpan.FromSeconds(2));
        var ft = new FashionTrainingResult("m", "cnn", "d", "accuracy", 100, new FashionTrainingOptions(), new[] { new EpochLog(1, 1.2, 0.6, 3), new EpochLog(2, 0.8, 0.7, 3) },
            eval, null, 6, 2048, "w.dat");
        var hf = HtmlOf(ft);
        AssertSelfContained(hf);
        Assert.Contains("training loss", hf); Assert.Contains("validation accuracy", hf);
        Assert.Contains("accuracy 0.800", HtmlOf(eval));
    }

    [Fact]
    public void PointingGameSummaryHasBothAveragingRulesAndBars()
    {
        var s = new PointingGameSummary("fashion", "cnn", 40, 15, new[]
        {
            new PointingSummaryRow("centre", "all", 0.5, 0.625, 40, 8, 25, 40, ""),
            new PointingSummaryRow("centre", "difficult", 0.1, 0.4, 5, 2, 2, 5, ""),
            new PointingSummaryRow("gradient", "all", 0.7, 0.875, 40, 8, 35, 40, ""),
        });
        var html = HtmlOf(s);
        AssertSelfContained(html);
        Assert.Contains("TorchRay %", html); Assert.Contains("present-class %", html);
        Assert.Contains(">62.5<", html); Assert.Contains(">87.5<", html); Assert.Contains("25/40", html);
        Assert.Equal(6, Regex.Matches(html, "<rect [^>]*fill=\"#").Count);     // 2 methods × 4 series, gradient has no difficult rows
        Assert.Contains("pointing game: fashion", TextOf(s));
    }

    [Fact]
    public void EvaluationResultsRender()
    {
        var pa = new PixelAblationResult(AblationMode.Insertion, new[] { 0, 0.5, 1 }, new[] { 0.1, 0.6, 0.9 }, 0.55, "blur");
        Assert.Contains("Insertion: AUC 0.550", HtmlOf(pa));
        var mr = new ModelRandomisationResult("gradient", RandomisationMode.Cascading, new[] { new RandomisationStage(new[] { "fc" }, 0.9, 0.8), new RandomisationStage(new[] { "fc", "conv" }, 0.2, 0.3) });
        var hm = HtmlOf(mr);
        AssertSelfContained(hm);
        Assert.Contains("conv", hm); Assert.Contains("Spearman ρ of |map|", hm);
        Assert.DoesNotContain(">1.5<", hm);                                     // stages are whole numbers on the x axis
        var mf = new MarkerFaithfulnessResult("rise", 12, 8, 6, Array.Empty<MarkerCaseResult>());
        Assert.Contains("75.0 %", HtmlOf(mf));
        var mb = new MethodBenchmarkResult("cnn", 128, 128, "cpu", 2, 2, new[] { new MethodTiming("rise", 3, 1.5, 1.2, 1.9, "masks 500") });
        Assert.Contains("masks 500", HtmlOf(mb));
        using var gen = new Generator(59, CPU);
        using var img = rand(3, 8, 8, generator: gen);
        using var m1 = rand(4, 4, generator: gen);
        var mc = new MethodComparison("cmp", new[] { img }, new[] { "shirt" }, new[] { "a", "b" }, new[] { new[] { m1, m1 } }, new[] { 0.5, 1.25 });
        var hc = HtmlOf(mc);
        Assert.Equal(4, AssertSelfContained(hc).Count);
        Assert.Contains("b (1.25 s)", hc);
        Assert.Throws<ArgumentException>(() => HtmlOf(mc with { Methods = new[] { "a" } }));
    }

    [Fact]
    public void AblationResultFormatterIsTheExplorerWithTheRecordedScores()
    {
        const int C = 3, H = 24, W = 24;
        using var model = RegionNet.Classifier(C, H, W, 4, 10, 14, 20);
        using var image = RegionNet.Image(C, H, W, 4, 10, 14, 20);
        using var r = AblationPath.Optimise(model, image, 0, new AblationPathOptions { Steps = 6, MaskSize = 12, Baseline = zeros(C, H, W), MaxIterations = 10, Seed = 1 });
        var withModel = AblationExplorer.From(r, model);
        var own = AblationExplorer.FromResult(r)!;
        Assert.Equal(withModel.Times, own.Times);
        for (int i = 0; i < own.Times.Length; i++)
        {
            Assert.Equal(withModel.Tracks[0].Score[i], own.Tracks[0].Score[i], 4);
            Assert.True((withModel.Tracks[0].Frames[i] - own.Tracks[0].Frames[i]).abs().max().item<float>() < 1e-5f);
        }
        var html = HtmlOf(r);
        Assert.Contains("type=\"range\"", html);
        Assert.Contains("(recorded)", html);
        AssertSelfContained(html);
    }
}
