using XaiLab.Denoising;

namespace XaiLab.Tests.Denoising;

/// <summary>The chapter-7 summary and verdicts are computed from the histories, claim by claim.</summary>
[Trait("Category", "Unit")]
public class ChapterSevenTests
{
    static DenoisingTrainingResult Result(double eq0, double eqFinal, double valPsnr, double trainPsnr) => new("x",
        [new DenoisingEpoch(0, double.NaN, 0.1, 0.1, 10, eq0, eq0, 1), new DenoisingEpoch(1, 0.01, Math.Pow(10, -trainPsnr / 10), Math.Pow(10, -valPsnr / 10), valPsnr, eqFinal, eqFinal, 2)],
        100, false, "cpu", 1e-4);

    static Baselines Yard(double mean, double wiener) => new("SNR", [new("noisy input", 1, 0, "SNR"), new("mean image", 0, mean, "SNR"), new("Wiener", 0, wiener, "SNR"), new("low-pass σ=2 px", 0, wiener - 1, "SNR")], 2);

    [Fact]
    public void VerdictsFollowTheNumbersOfTheRuns()
    {
        var y = Yard(19, 18);
        var runs = new List<ChapterSevenRun>
        {
            new(ChapterSevenScenario.Snr4, DenoiserKind.Cartesian, 0, Result(0.3, 0.012, 24.0, 24.5), y),
            new(ChapterSevenScenario.Snr4, DenoiserKind.Spiral, 0, Result(0.02, 0.01, 24.2, 24.4), y),
            new(ChapterSevenScenario.Snr64, DenoiserKind.Cartesian, 0, Result(0.3, 0.09, 20.0, 21.0), y),
            new(ChapterSevenScenario.Snr64, DenoiserKind.Spiral, 0, Result(0.02, 0.01, 20.3, 20.6), y),
            new(ChapterSevenScenario.Snr64Augmented, DenoiserKind.Cartesian, 0, Result(0.3, 0.04, 20.1, 20.5), y),
            new(ChapterSevenScenario.Snr64Augmented, DenoiserKind.Spiral, 0, Result(0.02, 0.01, 20.3, 20.5), y),
        };
        var v = ChapterSeven.Verdicts(runs);
        Assert.Equal(6, v.Count);
        Assert.All(v, x => Assert.True(x.Holds, x.Claim + ": " + x.Evidence));
        Assert.Contains("×1.20", v[2].Evidence);    // 0.012 / 0.01 at SNR 1/4
        Assert.Contains("×9.00", v[2].Evidence);    // 0.09 / 0.01 at SNR 1/64

        // Flip the facts one at a time: each verdict must follow.
        runs[1] = runs[1] with { Result = Result(0.02, 0.01, 22.0, 22.1) };              // spiral 2 dB worse at 1/4
        runs[5] = runs[5] with { Result = Result(0.02, 0.005, 20.3, 20.5) };
        runs[4] = runs[4] with { Result = Result(0.3, 0.1, 20.1, 20.5) };                // augmented ratio 0.1/0.005 = 20 > 9: the gap widens
        runs[2] = runs[2] with { Result = Result(0.3, 0.09, 20.5, 22.0) };               // Cartesian better at 1/64
        v = ChapterSeven.Verdicts(runs);
        Assert.False(v[0].Holds); Assert.True(v[1].Holds); Assert.True(v[2].Holds); Assert.False(v[3].Holds); Assert.False(v[4].Holds);
        Assert.True(v[5].Holds);                                                         // 22.0 dB still beats 19 dB

        runs[0] = runs[0] with { Result = Result(0.3, 0.012, 18.5, 19.0) };
        Assert.False(ChapterSeven.Verdicts(runs)[5].Holds);
        Assert.Contains("scenario not run", ChapterSeven.Verdicts(runs.Take(2).ToList())[4].Evidence);
    }

    [Fact]
    public void SummaryAveragesSeedsAndReportsTheirSpread()
    {
        var y = Yard(19, 18);
        var runs = new List<ChapterSevenRun>
        {
            new(ChapterSevenScenario.Snr4, DenoiserKind.Spiral, 0, Result(0.02, 0.01, 24.0, 24.5), y),
            new(ChapterSevenScenario.Snr4, DenoiserKind.Spiral, 1, Result(0.02, 0.03, 26.0, 26.5), y),
        };
        var row = Assert.Single(ChapterSeven.Summarise(runs));
        Assert.Equal(2, row.Seeds);
        Assert.Equal(25.0, row.BestValidationPsnr, 9);
        Assert.Equal(Math.Sqrt(2), row.BestValidationPsnrSd, 9);
        Assert.Equal(0.02, row.FinalEquivariance, 12);
        Assert.Equal(0.5, row.OverfitGap, 9);
        Assert.Equal(19, row.MeanImagePsnr);
        Assert.Equal(18, row.BestClassicalPsnr);
    }
}
