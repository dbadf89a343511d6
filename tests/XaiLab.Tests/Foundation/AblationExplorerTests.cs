using Microsoft.DotNet.Interactive.Formatting;
using XaiLab.Interactive;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Tests.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Tests.Foundation;

[Collection("formatters")]
[Trait("Category", "Unit")]
public class AblationExplorerTests
{
    const int C = 3, H = 24, W = 24, R0 = 4, R1 = 10, C0 = 14, C1 = 20;

    static AblationPathOptions Options(AblationScore score) => new()
    {
        Steps = 6, MaskSize = 12, RegularisationSigma = 2, Baseline = zeros(C, H, W), Score = score, MaxIterations = 30, Seed = 1,
    };

    [Fact]
    public void ExplorerOfAPathShowsEveryTimeWithTheModelsScores()
    {
        Lab.Start();
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var r = AblationPath.Optimise(model, image, 0, Options(AblationScore.Retaining));
        var e = AblationExplorer.From(r, model);
        Assert.Equal(r.Steps + 2, e.Times.Length);
        Assert.Equal(0.0, e.Times[0]);
        Assert.Equal(1.0, e.Times[^1]);
        var track = Assert.Single(e.Tracks);
        // The explorer's curve is the model's score along the final path, as the optimiser reported it.
        for (int i = 0; i < e.Times.Length; i++) Assert.Equal(r.Curve.Score[i], track.Score[i], 4);
        Assert.Equal("region", track.Top[0][0].Class);                // t = 0: the image is 'region'
        Assert.NotEqual("region", track.Top[^1][0].Class);            // t = 1: the baseline is not
        // Frame 0 is the image, the last frame the baseline.
        Assert.True((track.Frames[0] - image).abs().max().item<float>() < 1e-5f);
        Assert.True(track.Frames[^1].abs().max().item<float>() < 1e-5f);
        var html = r.ToDisplayString(HtmlFormatter.MimeType);          // the plain result formatter
        Assert.Contains("Ablation path", html);
        Assert.Contains(e.ToHtml()[..20], e.ToDisplayString(HtmlFormatter.MimeType)[..20]);
    }

    [Fact]
    public void StraddlingPairGivesTwoTracksAndContrastiveGivesTheComplement()
    {
        using var model = RegionNet.Classifier(C, H, W, R0, R1, C0, C1);
        using var image = RegionNet.Image(C, H, W, R0, R1, C0, C1);
        using var pair = AblationPath.Optimise(model, image, 0, Options(AblationScore.Straddling));
        Assert.Equal(2, AblationExplorer.From(pair, model).Tracks.Count);
        using var con = AblationPath.Optimise(model, image, 0, Options(AblationScore.Contrastive));
        var e = AblationExplorer.From(con, model);
        Assert.Equal(2, e.Tracks.Count);
        // The complement path also starts at the image and ends at the baseline.
        Assert.True((e.Tracks[1].Frames[0] - image).abs().max().item<float>() < 1e-5f);
        Assert.True(e.Tracks[1].Frames[^1].abs().max().item<float>() < 1e-5f);
    }
}
