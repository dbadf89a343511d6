using Microsoft.DotNet.Interactive.Formatting;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Visual;
using XaiLab.Interactive;
using XaiLab.Saliency;
using static TorchSharp.torch;

namespace XaiLab.Tests.Foundation;

/// <summary>Formatter registration is process-global: these tests share one non-parallel collection.</summary>
[CollectionDefinition("formatters", DisableParallelization = true)]
public class FormatterCollection;

[Collection("formatters")]
[Trait("Category", "Unit")]
public class FormatterTests
{
    public FormatterTests() => Lab.Start();

    [Fact]
    public void ImageTensorRendersAsInlinePngThatDecodesToTheSamePixels()
    {
        using var gen = new Generator(61, CPU);
        using var img = rand(3, 10, 12, generator: gen);
        var html = img.ToDisplayString(HtmlFormatter.MimeType);
        var b64 = System.Text.RegularExpressions.Regex.Match(html, "data:image/png;base64,([A-Za-z0-9+/=]+)").Groups[1].Value;
        Assert.NotEmpty(b64);
        using var back = ImageIO.Decode(Convert.FromBase64String(b64));
        Assert.Equal(new long[] { 3, 10, 12 }, back.shape);
        Assert.True((back - img).abs().max().item<float>() <= 0.5f / 255 + 1e-6f);
    }

    [Fact]
    public void NonImageTensorShowsShapeAndStatistics()
    {
        using var t = arange(5, dtype: ScalarType.Float32);
        var html = t.ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("tensor [5]", html);
        Assert.Contains("max 4", html);
    }

    [Fact]
    public void SaliencyMapRendersAsHeatmapWithColourScale()
    {
        using var s = new SaliencyMap(linspace(0, 1, 64).reshape(8, 8), "test-method", 3);
        var html = s.ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("test-method — class 3", html);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(html, "<img").Count);   // the map and its colour bar
        Assert.Contains(">0<", html);                                                            // the scale's ends
        Assert.Contains(">1<", html);
    }

    [Fact]
    public void PlotlyChartEmbedsPlotlyJsOncePerSession()
    {
        Lab.Start();
        var c1 = Charts.Line(new[] { 0.0, 1, 2 }, new[] { 1.0, 3, 2 }).ToDisplayString(HtmlFormatter.MimeType);
        var c2 = Charts.Line(new[] { 0.0, 1, 2 }, new[] { 2.0, 1, 2 }).ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("data-xailab-plotly", c1);
        Assert.True(c1.Length > 1_000_000);
        Assert.DoesNotContain("data-xailab-plotly", c2);
        Assert.Contains("Plotly.newPlot", c2);
        Assert.DoesNotMatch("<script[^>]+src=", c1 + c2);
    }

    [Fact]
    public void ColormapEndsAndOverlayShape()
    {
        var (r0, g0, b0) = Colormap.Viridis.At(0);
        var (r1, g1, b1) = Colormap.Viridis.At(1);
        Assert.True(b0 > r0 && r1 > b1 && g1 > 0.8f);        // dark blue → yellow
        using var img = zeros(3, 16, 16);
        using var map = zeros(4, 4);
        using var o = Colormap.Inferno.Overlay(img, map, 0.5);
        Assert.Equal(new long[] { 3, 16, 16 }, o.shape);
        Assert.Throws<ArgumentException>(() => Colormap.ByName("rainbow-unicorn"));
        Assert.Equal(Colormap.Viridis.At(1), Colormap.Viridis.At(7));     // clamped
        // Luminance of viridis and inferno increases monotonically (perceptual order = value order).
        foreach (var cm in new[] { Colormap.Viridis, Colormap.Inferno })
        {
            double L(double x) { var (r, g, b) = cm.At(x); return 0.2126 * r + 0.7152 * g + 0.0722 * b; }
            for (int i = 1; i <= 40; i++) Assert.True(L(i / 40.0) > L((i - 1) / 40.0), $"{cm.Name} at {i / 40.0}");
        }
        using var applied = Colormap.Viridis.Apply(tensor(new float[] { 0, 1, 2, 3 }, new long[] { 2, 2 }));
        Assert.Equal(new long[] { 3, 2, 2 }, applied.shape);
        Assert.Equal(Colormap.Viridis.At(1).R, applied[0, 1, 1].item<float>(), 6);
    }

    [Fact]
    public void PathExplorerHasOneFramePerTimeASliderAndTheCurve()
    {
        var times = new[] { 0.0, 0.5, 1.0 };
        using var gen = new Generator(67, CPU);
        using var frames = rand(3, 3, 8, 8, generator: gen);
        using var masks = stack(new[] { zeros(4, 4), full(4, 4, 0.5f), ones(4, 4) });
        var top = times.Select(t => (IReadOnlyList<(string, double)>)new[] { ("cat", 1 - t), ("dog", t) }).ToList();
        var e = new PathExplorer("test path", times, new[] { new PathTrack("φ", frames, masks, new[] { 1.0, 0.6, 0.1 }, top) },
            new[] { new KeyValuePair<string, string>("score", "0.57") }, Array.Empty<object>());
        var html = e.ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("type=\"range\" min=\"0\" max=\"2\"", html);
        Assert.Contains("<polyline", html);
        // 3 frames + 3 masks as data URIs in the script data, and the masks' grey colour bar
        Assert.Equal(7, System.Text.RegularExpressions.Regex.Matches(html, "data:image/png;base64,").Count);
        Assert.Contains("cat 1.000", html);
        Assert.Contains("score", html);

        var bad = e with { Times = new[] { 0.0, 1.0 } };
        var ex = Assert.Throws<ArgumentException>(() => bad.ToHtml());
        Assert.Contains("Track 'φ'", ex.Message);
    }
}
