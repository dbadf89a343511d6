using XaiLab.Denoising;
using static TorchSharp.torch;

namespace XaiLab.Tests.Denoising;

/// <summary>Classical yardsticks, metrics and the training loop (§6.3, §7.4).</summary>
[Trait("Category", "Unit")]
public class FilterAndTrainingTests
{
    [Theory]
    [InlineData(0.25)]
    [InlineData(1.0 / 64)]
    public void WienerAndLowPassImproveOnTheNoisyImages(double snr)
    {
        var o = new ProjectionDataOptions { ImageSize = 32, Count = 128, Snr = snr, Seed = 3 };
        using var train = ProjectionDataset.Create(o);
        using var val = ProjectionDataset.Create(o with { Count = 32, Seed = 77 });
        double noisy = DenoisingMetrics.DiscMse(val.Noisy, val.Clean);
        using var wiener = WienerFilter.FitFromNoisy(train.Noisy, train.NoiseStd);
        using var w = wiener.Apply(val.Noisy, val.NoiseStd);
        double mw = DenoisingMetrics.DiscMse(w, val.Clean);
        Assert.True(mw < 0.25 * noisy, $"Wiener MSE {mw} vs noisy {noisy}");
        using var oracle = WienerFilter.FitFromClean(train.Clean);
        using var wo = oracle.Apply(val.Noisy, val.NoiseStd);
        Assert.True(DenoisingMetrics.DiscMse(wo, val.Clean) < 1.1 * mw, "the estimated spectrum is close to the oracle one");
        var lp = GaussianLowPass.SelectSigma(val.Noisy, val.Clean);
        Assert.True(lp.Mse < 0.25 * noisy && lp.Sigma > 0.25, $"low-pass σ={lp.Sigma}: {lp.Mse} vs noisy {noisy}");
        Assert.Equal(lp.Mse, lp.Scan.Min(t => t.Mse));
        // A Wiener filter with zero noise is the identity.
        using var id = wiener.Apply(val.Noisy, new double[val.Count]);
        Assert.True(id.allclose(val.Noisy, rtol: 1e-4, atol: 1e-4));
    }

    [Fact]
    public void LowPassPreservesMassAndQuarterTurnMetricIsZeroForIsotropicFilters()
    {
        using var d = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = 16, Count = 4, Seed = 8 });
        using var b = GaussianLowPass.Apply(d.Clean, 1.5);
        Assert.Equal(d.Clean.sum().item<float>(), b.sum().item<float>(), 2);
        Assert.True(DenoisingMetrics.QuarterTurnEquivarianceError(x => GaussianLowPass.Apply(x, 1.0), d.Noisy) < 1e-10);
        // …and large for a shift, which does not commute with rotations.
        Assert.True(DenoisingMetrics.QuarterTurnEquivarianceError(x => x.roll(2, 3), d.Noisy) > 0.1);
        Assert.True(DenoisingMetrics.EquivarianceError(x => x * 2, d.Noisy, [Math.PI / 2, Math.PI, 1.5 * Math.PI, 0]) < 1e-8);
    }

    [Fact]
    public void ShortTrainingLowersValidationErrorAndIsDeterministic()
    {
        DenoisingTrainingResult RunOnce(DenoiserKind kind, bool augment)
        {
            var e = new DenoisingExperiment
            {
                Net = kind,
                Data = new ProjectionDataOptions { ImageSize = 16, Count = 64, Snr = 0.25, Seed = 5 },
                ValidationCount = 16,
                Architecture = new DenoiserOptions { Depth = 3, Width = 8 },
                Training = new DenoisingTrainingOptions { Epochs = 3, BatchSize = 8, LearningRate = 3e-3, Seed = 2, Augment = augment, EquivarianceSamples = 8 },
            };
            var (tr, va) = e.CreateData();
            using var _a = tr; using var _b = va;
            var seen = new List<DenoisingEpoch>();
            var (result, model) = e.Run(tr, va, new Collect(seen));
            model.Dispose();
            Assert.Equal(result.History, seen);
            return result;
        }
        foreach (var kind in new[] { DenoiserKind.Cartesian, DenoiserKind.Spiral })
        {
            var a = RunOnce(kind, augment: kind == DenoiserKind.Spiral);
            Assert.Equal(4, a.History.Count);
            Assert.True(double.IsNaN(a.History[0].TrainLoss));
            Assert.True(a.Final.ValidationMse < a.History[0].ValidationMse, $"{kind}: {a.History[0].ValidationMse} → {a.Final.ValidationMse}");
            Assert.All(a.History, h => Assert.True(double.IsFinite(h.EquivarianceError) && h.EquivarianceError >= 0));
            var b = RunOnce(kind, augment: kind == DenoiserKind.Spiral);
            Assert.Equal(a.History.Select(h => h.ValidationMse), b.History.Select(h => h.ValidationMse));
            Assert.Contains("epoch,train_loss", a.ToCsv());
        }
    }

    [Fact]
    public void CancellationStopsTrainingAndKeepsTheHistory()
    {
        var e = new DenoisingExperiment
        {
            Data = new ProjectionDataOptions { ImageSize = 16, Count = 32 },
            ValidationCount = 8,
            Architecture = new DenoiserOptions { Depth = 2, Width = 4 },
            Training = new DenoisingTrainingOptions { Epochs = 50, EquivarianceSamples = 4 },
        };
        var (tr, va) = e.CreateData();
        using var _a = tr; using var _b = va;
        using var cts = new CancellationTokenSource();
        var (result, model) = e.Run(tr, va, new Collect([], h => { if (h.Epoch == 1) cts.Cancel(); }), cts.Token);
        model.Dispose();
        Assert.True(result.Cancelled);
        Assert.Equal(2, result.History.Count);
    }

    [Fact]
    public void BadInputIsRejectedWithAClearMessage()
    {
        Assert.Contains("[B,1,n,n]", Assert.Throws<ArgumentException>(() => new CartesianDenoiser(new()).forward(zeros(2, 3, 8, 8))).Message);
        Assert.Contains("radial mean image", Assert.Throws<ArgumentException>(() => Denoisers.Create(DenoiserKind.Spiral, 16)).Message);
        Assert.Contains("'cartesian' or 'spiral'", Assert.Throws<ArgumentException>(() => Denoisers.ParseKind("polar")).Message);
        Assert.Throws<ArgumentException>(() => ProjectionDataset.Create(new ProjectionDataOptions { Snr = 0 }));
        Assert.Throws<ArgumentException>(() => new SpiralSampling(0));
    }

    sealed class Collect(List<DenoisingEpoch> into, Action<DenoisingEpoch>? also = null) : IProgress<DenoisingEpoch>
    {
        public void Report(DenoisingEpoch value) { into.Add(value); also?.Invoke(value); }
    }
}

/// <summary><c>xailab denoise train</c> as a user runs it (a separate process).</summary>
[Trait("Category", "Integration")]
public class DenoiseCliTests
{
    [Fact]
    public void CliTrainsAndWritesHistoryAndWeights()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xailab-denoise-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, stderr) = Repo.RunCli("denoise", "train", "--net", "spiral", "--snr", "0.25", "--epochs", "1", "--size", "16",
                "--train-count", "32", "--val-count", "8", "--depth", "2", "--width", "4", "--out", dir);
            Assert.True(code == 0, stdout + stderr);
            var csv = File.ReadAllLines(Path.Combine(dir, "history.csv"));
            Assert.Equal(3, csv.Length); // header + epochs 0 and 1
            Assert.Contains("\"net\": \"spiral\"", File.ReadAllText(Path.Combine(dir, "history.json")));
            Assert.True(new FileInfo(Path.Combine(dir, "weights.dat")).Length > 0);
            var bad = Repo.RunCli("denoise", "train", "--net", "polar", "--out", dir);
            Assert.Equal(2, bad.Code);
            Assert.Contains("expected 'cartesian' or 'spiral'", bad.Err);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
