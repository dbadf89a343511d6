using System.Globalization;

namespace XaiLab.Denoising;

/// <summary>The three training scenarios of Figs 7.7–7.9.</summary>
public enum ChapterSevenScenario
{
    /// <summary>SNR 1/4 (Fig 7.7).</summary>
    Snr4,
    /// <summary>SNR 1/64 (Fig 7.8).</summary>
    Snr64,
    /// <summary>SNR 1/64 with a random in-plane rotation of every training pair in every epoch (Fig 7.9).</summary>
    Snr64Augmented,
}

/// <summary>One finished training run of the chapter-7 comparison.</summary>
/// <param name="Scenario">Which figure it belongs to.</param>
/// <param name="Net">Cartesian or spiral.</param>
/// <param name="Seed">Training seed (weights, batch order, augmentation).</param>
/// <param name="Result">The history with its equivariance floor.</param>
/// <param name="Baselines">The yardsticks on the same validation set.</param>
public sealed record ChapterSevenRun(ChapterSevenScenario Scenario, DenoiserKind Net, int Seed, DenoisingTrainingResult Result, Baselines Baselines);

/// <summary>
/// One row of the summary table: a (scenario, net) pair over its seeds, as mean and standard deviation over seeds
/// (sd 0 for one seed).
/// </summary>
/// <param name="Scenario">"SNR 1/4", "SNR 1/64", "SNR 1/64 + rotations".</param>
/// <param name="Net">"cartesian" or "spiral".</param>
/// <param name="Seeds">Number of seeds.</param>
/// <param name="BestValidationPsnr">Best-epoch validation PSNR (dB), mean over seeds.</param>
/// <param name="BestValidationPsnrSd">Its standard deviation over seeds.</param>
/// <param name="FinalValidationPsnr">Last-epoch validation PSNR (dB).</param>
/// <param name="FinalTrainPsnr">Last-epoch training PSNR (dB, eval mode).</param>
/// <param name="OverfitGap">Final training minus final validation PSNR (dB).</param>
/// <param name="InitialEquivariance">Equivariance error at epoch 0 (untrained).</param>
/// <param name="FinalEquivariance">Equivariance error at the last epoch.</param>
/// <param name="FinalEquivarianceSd">Its standard deviation over seeds.</param>
/// <param name="Floor">The measure's floor on the same images and angles (isotropic low-pass).</param>
/// <param name="FinalQuarterTurn">Quarter-turn equivariance error at the last epoch.</param>
/// <param name="MeanImagePsnr">The mean-image baseline (dB).</param>
/// <param name="BestClassicalPsnr">The better of Wiener and low-pass (dB).</param>
/// <param name="Seconds">Training wall time per run (s), mean.</param>
public sealed record ChapterSevenSummaryRow(string Scenario, string Net, int Seeds, double BestValidationPsnr, double BestValidationPsnrSd, double FinalValidationPsnr,
    double FinalTrainPsnr, double OverfitGap, double InitialEquivariance, double FinalEquivariance, double FinalEquivarianceSd, double Floor, double FinalQuarterTurn,
    double MeanImagePsnr, double BestClassicalPsnr, double Seconds);

/// <summary>A claim of the thesis' §7.4 with the verdict computed from the runs.</summary>
/// <param name="Claim">The claim in the thesis' words (shortened).</param>
/// <param name="Holds">Whether the runs bear it out under the stated criterion.</param>
/// <param name="Criterion">The test applied.</param>
/// <param name="Evidence">The numbers it was decided on.</param>
public sealed record ClaimVerdict(string Claim, bool Holds, string Criterion, string Evidence)
{
    /// <summary>"holds" or "does not hold".</summary>
    public string Verdict => Holds ? "holds" : "does not hold";
}

/// <summary>Summaries and verdicts of the chapter-7 comparison (thesis §7.4, Figs 7.7–7.9).</summary>
public static class ChapterSeven
{
    /// <summary>The scenario's display name.</summary>
    public static string Name(ChapterSevenScenario s) => s switch
    {
        ChapterSevenScenario.Snr4 => "SNR 1/4",
        ChapterSevenScenario.Snr64 => "SNR 1/64",
        _ => "SNR 1/64 + rotations",
    };

    /// <summary>The SNR of a scenario (1/4 or 1/64) and whether it augments.</summary>
    public static (double Snr, bool Augment) Settings(ChapterSevenScenario s) => s switch
    {
        ChapterSevenScenario.Snr4 => (0.25, false),
        ChapterSevenScenario.Snr64 => (1.0 / 64, false),
        _ => (1.0 / 64, true),
    };

    static (double Mean, double Sd) Stat(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double m = v.Average();
        return (m, v.Length < 2 ? 0 : Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)));
    }

    /// <summary>One row per (scenario, net) in the order scenario, then Cartesian before spiral.</summary>
    public static IReadOnlyList<ChapterSevenSummaryRow> Summarise(IReadOnlyList<ChapterSevenRun> runs) =>
        runs.GroupBy(r => (r.Scenario, r.Net)).OrderBy(g => g.Key.Scenario).ThenBy(g => g.Key.Net).Select(g =>
        {
            var best = Stat(g.Select(r => r.Result.Best.ValidationPsnr));
            var eq = Stat(g.Select(r => r.Result.Final.EquivarianceError));
            var b = g.First().Baselines;
            return new ChapterSevenSummaryRow(Name(g.Key.Scenario), g.Key.Net.ToString().ToLowerInvariant(), g.Count(), best.Mean, best.Sd,
                g.Average(r => r.Result.Final.ValidationPsnr), g.Average(r => r.Result.Final.TrainPsnr),
                g.Average(r => r.Result.Final.TrainPsnr - r.Result.Final.ValidationPsnr),
                g.Average(r => r.Result.History[0].EquivarianceError), eq.Mean, eq.Sd, g.Average(r => r.Result.EquivarianceFloor),
                g.Average(r => r.Result.Final.QuarterTurnError), b["mean image"].Psnr, Math.Max(b["Wiener"].Psnr, b["low-pass"].Psnr),
                g.Average(r => r.Result.History.Skip(1).Sum(h => h.Seconds)));
        }).ToList();

    /// <summary>
    /// The verdicts on the claims of §7.4, each from the runs (means over seeds). Criteria: "equal fidelity" = best
    /// validation PSNRs within 0.5 dB (or within two seed standard deviations); "equivariant from the start" =
    /// Cartesian/spiral equivariance error ≥ 3 at epoch 0 in every scenario; "catches up at high SNR, not at low" =
    /// final ratio ≤ 2 at SNR 1/4 and &gt; 2 at SNR 1/64; "better fidelity at low SNR" = spiral's best validation
    /// PSNR above the Cartesian's at SNR 1/64, and the Cartesian's overfitting gap larger; "augmentation narrows the
    /// gap" = the final ratio with augmentation below the one without and still &gt; 1. Also: both nets beat the
    /// mean image, Wiener and low-pass in every scenario. Missing scenarios give "does not hold" with the reason.
    /// </summary>
    public static IReadOnlyList<ClaimVerdict> Verdicts(IReadOnlyList<ChapterSevenRun> runs)
    {
        var c = CultureInfo.InvariantCulture;
        var rows = Summarise(runs);
        ChapterSevenSummaryRow? R(ChapterSevenScenario s, DenoiserKind k) =>
            rows.FirstOrDefault(r => r.Scenario == Name(s) && r.Net == k.ToString().ToLowerInvariant());
        var list = new List<ClaimVerdict>();
        ClaimVerdict Missing(string claim, string criterion) => new(claim, false, criterion, "scenario not run");

        // 1. Equal fidelity at high SNR.
        {
            const string claim = "both architectures denoise equally well (Fig 7.6, SNR 1/4)";
            const string crit = "best validation PSNRs at SNR 1/4 within max(0.5 dB, 2 sd over seeds)";
            var (a, b) = (R(ChapterSevenScenario.Snr4, DenoiserKind.Cartesian), R(ChapterSevenScenario.Snr4, DenoiserKind.Spiral));
            if (a is null || b is null) list.Add(Missing(claim, crit));
            else
            {
                double tol = Math.Max(0.5, 2 * Math.Max(a.BestValidationPsnrSd, b.BestValidationPsnrSd));
                list.Add(new(claim, Math.Abs(a.BestValidationPsnr - b.BestValidationPsnr) <= tol, crit,
                    string.Create(c, $"Cartesian {a.BestValidationPsnr:F2} ± {a.BestValidationPsnrSd:F2} dB, spiral {b.BestValidationPsnr:F2} ± {b.BestValidationPsnrSd:F2} dB (tolerance {tol:F2} dB)")));
            }
        }
        // 2. Spiral equivariant from the start.
        {
            const string claim = "the spiral net is nearly equivariant from the start, the Cartesian one far less";
            const string crit = "epoch-0 equivariance error Cartesian/spiral ≥ 3 in every scenario";
            var parts = new List<string>(); bool ok = true, any = false;
            foreach (ChapterSevenScenario s in Enum.GetValues<ChapterSevenScenario>())
            {
                var (a, b) = (R(s, DenoiserKind.Cartesian), R(s, DenoiserKind.Spiral));
                if (a is null || b is null) continue;
                any = true;
                double ratio = a.InitialEquivariance / b.InitialEquivariance;
                ok &= ratio >= 3;
                parts.Add(string.Create(c, $"{Name(s)}: {a.InitialEquivariance:G3} vs {b.InitialEquivariance:G3} (×{ratio:F1}, floor {b.Floor:G2})"));
            }
            list.Add(any ? new(claim, ok, crit, string.Join("; ", parts)) : Missing(claim, crit));
        }
        // 3. Cartesian catches up at high SNR but not at low.
        {
            const string claim = "the Cartesian net catches up in equivariance at SNR 1/4 (Fig 7.7) but not at SNR 1/64 (Fig 7.8)";
            const string crit = "final equivariance error Cartesian/spiral ≤ 2 at SNR 1/4 and > 2 at SNR 1/64";
            var (a4, b4, a64, b64) = (R(ChapterSevenScenario.Snr4, DenoiserKind.Cartesian), R(ChapterSevenScenario.Snr4, DenoiserKind.Spiral),
                R(ChapterSevenScenario.Snr64, DenoiserKind.Cartesian), R(ChapterSevenScenario.Snr64, DenoiserKind.Spiral));
            if (a4 is null || b4 is null || a64 is null || b64 is null) list.Add(Missing(claim, crit));
            else
            {
                double r4 = a4.FinalEquivariance / b4.FinalEquivariance, r64 = a64.FinalEquivariance / b64.FinalEquivariance;
                list.Add(new(claim, r4 <= 2 && r64 > 2, crit, string.Create(c,
                    $"SNR 1/4: {a4.FinalEquivariance:G3} vs {b4.FinalEquivariance:G3} (×{r4:F2}); SNR 1/64: {a64.FinalEquivariance:G3} vs {b64.FinalEquivariance:G3} (×{r64:F2}); floors {b4.Floor:G2}, {b64.Floor:G2}")));
            }
        }
        // 4. Spiral better fidelity at low SNR, Cartesian overfits more.
        {
            const string claim = "at SNR 1/64 the spiral net reaches the higher fidelity, the Cartesian one overfits slightly more";
            const string crit = "SNR 1/64: spiral best validation PSNR > Cartesian's, and Cartesian train−validation gap > spiral's";
            var (a, b) = (R(ChapterSevenScenario.Snr64, DenoiserKind.Cartesian), R(ChapterSevenScenario.Snr64, DenoiserKind.Spiral));
            if (a is null || b is null) list.Add(Missing(claim, crit));
            else list.Add(new(claim, b.BestValidationPsnr > a.BestValidationPsnr && a.OverfitGap > b.OverfitGap, crit, string.Create(c,
                $"best validation PSNR Cartesian {a.BestValidationPsnr:F2} ± {a.BestValidationPsnrSd:F2} dB, spiral {b.BestValidationPsnr:F2} ± {b.BestValidationPsnrSd:F2} dB; overfitting gap Cartesian {a.OverfitGap:F2} dB, spiral {b.OverfitGap:F2} dB")));
        }
        // 5. Augmentation narrows the gap but does not close it.
        {
            const string claim = "rotation augmentation brings the Cartesian net closer to the spiral's equivariance, but not all the way (Fig 7.9)";
            const string crit = "final Cartesian/spiral equivariance ratio with augmentation < without, and > 1";
            var (a, b, aa, ba) = (R(ChapterSevenScenario.Snr64, DenoiserKind.Cartesian), R(ChapterSevenScenario.Snr64, DenoiserKind.Spiral),
                R(ChapterSevenScenario.Snr64Augmented, DenoiserKind.Cartesian), R(ChapterSevenScenario.Snr64Augmented, DenoiserKind.Spiral));
            if (a is null || b is null || aa is null || ba is null) list.Add(Missing(claim, crit));
            else
            {
                double r = a.FinalEquivariance / b.FinalEquivariance, ra = aa.FinalEquivariance / ba.FinalEquivariance;
                list.Add(new(claim, ra < r && ra > 1, crit, string.Create(c,
                    $"ratio without augmentation ×{r:F2} ({a.FinalEquivariance:G3} vs {b.FinalEquivariance:G3}), with ×{ra:F2} ({aa.FinalEquivariance:G3} vs {ba.FinalEquivariance:G3})")));
            }
        }
        // 6. The nets learn: both beat every trivial and classical yardstick.
        {
            const string claim = "both nets beat the mean image, Wiener and low-pass (a precondition for reading the rest)";
            const string crit = "best validation PSNR > max(mean image, Wiener, low-pass) for every (scenario, net)";
            var parts = rows.Select(r => (r, ok: r.BestValidationPsnr > Math.Max(r.MeanImagePsnr, r.BestClassicalPsnr))).ToList();
            list.Add(parts.Count == 0 ? Missing(claim, crit) : new(claim, parts.All(p => p.ok), crit, string.Join("; ", parts.Select(p => string.Create(c,
                $"{p.r.Scenario} {p.r.Net}: {p.r.BestValidationPsnr:F2} vs {Math.Max(p.r.MeanImagePsnr, p.r.BestClassicalPsnr):F2} dB{(p.ok ? "" : " ✗")}")))));
        }
        return list;
    }
}
