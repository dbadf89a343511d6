using System.Diagnostics;
using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace XaiLab.Denoising;

/// <summary>
/// Training options (Adam). Defaults: 10 epochs, batch 16, learning rate 1e-3, no augmentation, seed 0,
/// equivariance measured on 64 validation images per epoch.
/// </summary>
public sealed record DenoisingTrainingOptions
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 16;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Random in-plane rotation of every training pair in every epoch (Fig 7.9; exact, see <see cref="ProjectionDataset.RotatedBatch"/>).</summary>
    public bool Augment { get; init; }
    /// <summary>Seeds the batch order, the augmentation angles and the equivariance angles (weights: see <see cref="DenoisingExperiment"/>).</summary>
    public int Seed { get; init; }
    /// <summary>Validation images used for the equivariance error each epoch (default 64; the same images and angles every epoch).</summary>
    public int EquivarianceSamples { get; init; } = 64;
    /// <summary>Device to train on (default <see cref="Devices.Default"/>).</summary>
    public Device? Device { get; init; }
}

/// <summary>
/// One row of the training history (Figs 7.7–7.9). Epoch 0 is the untrained network.
/// </summary>
/// <param name="TrainLoss">Mean disc MSE over the epoch's training batches (train mode; NaN for epoch 0).</param>
/// <param name="ValidationMse">Disc MSE of the denoised validation images against the clean ones (eval mode).</param>
/// <param name="ValidationPsnr">10·log10(1/MSE) dB (clean peak = 1).</param>
/// <param name="EquivarianceError">E‖F(R_θx) − R_θF(x)‖² / E‖F(x)‖² inside the disc, θ uniform (<see cref="DenoisingMetrics.EquivarianceError"/>).</param>
/// <param name="QuarterTurnError">The same for exact 90°/180°/270° grid rotations (<see cref="DenoisingMetrics.QuarterTurnEquivarianceError"/>).</param>
/// <param name="Seconds">Wall time of the epoch including evaluation.</param>
public sealed record DenoisingEpoch(int Epoch, double TrainLoss, double ValidationMse, double ValidationPsnr, double EquivarianceError, double QuarterTurnError, double Seconds);

/// <summary>The outcome of a training run with its history and diagnostics.</summary>
public sealed record DenoisingTrainingResult(
    string Net, IReadOnlyList<DenoisingEpoch> History, long Parameters, bool Cancelled, string Device)
{
    public DenoisingEpoch Final => History[^1];

    /// <summary>The history as CSV (header + one line per epoch, invariant culture).</summary>
    public string ToCsv() =>
        "epoch,train_loss,val_mse,val_psnr_db,equivariance_error,quarter_turn_error,seconds\n" + string.Concat(History.Select(h => string.Create(
            System.Globalization.CultureInfo.InvariantCulture, $"{h.Epoch},{h.TrainLoss:R},{h.ValidationMse:R},{h.ValidationPsnr:R},{h.EquivarianceError:R},{h.QuarterTurnError:R},{h.Seconds:F3}\n")));
}

/// <summary>The training loop for a denoiser (thesis §7.4).</summary>
public static class DenoisingTrainer
{
    /// <summary>
    /// Trains <paramref name="model"/> (noisy → clean, loss = MSE inside the disc) with Adam and records a
    /// <see cref="DenoisingEpoch"/> before training (epoch 0) and after every epoch. Cancellation stops after the
    /// current batch and returns the history so far with <c>Cancelled = true</c>.
    /// </summary>
    public static DenoisingTrainingResult Train(Module<Tensor, Tensor> model, ProjectionDataset train, ProjectionDataset validation,
        DenoisingTrainingOptions options, IProgress<DenoisingEpoch>? progress = null, CancellationToken cancellation = default)
    {
        var o = options;
        if (o.Epochs < 0) throw new ArgumentException($"Epochs must be ≥ 0, got {o.Epochs}.");
        if (o.BatchSize < 1) throw new ArgumentException($"BatchSize must be ≥ 1, got {o.BatchSize}.");
        if (!(o.LearningRate > 0)) throw new ArgumentException($"LearningRate must be > 0, got {o.LearningRate}.");
        if (train.ImageSize != validation.ImageSize) throw new ArgumentException($"Training ({train.ImageSize}) and validation ({validation.ImageSize}) image sizes differ.");
        var device = o.Device ?? Devices.Default;
        model.to(device);
        var mask = ImageOps.DiscMask(train.ImageSize, device: device);
        using var maskScope = mask;
        double maskMean = mask.mean().item<float>();
        using var optimizer = optim.Adam(model.parameters(), o.LearningRate);
        var shuffle = new Random(o.Seed);
        var augment = new Random(o.Seed ^ 0x6a09e667);
        var history = new List<DenoisingEpoch>();
        long parameters = model.parameters().Sum(p => p.numel());
        var sw = Stopwatch.StartNew();
        Record(0, double.NaN);
        bool cancelled = false;
        for (int epoch = 1; epoch <= o.Epochs && !cancelled; epoch++)
        {
            sw.Restart();
            model.train();
            double lossSum = 0; int seen = 0;
            foreach (var idx in ProjectionDataset.ShuffledBatches(train.Count, o.BatchSize, shuffle))
            {
                if (cancellation.IsCancellationRequested) { cancelled = true; break; }
                if (idx.Length < 2) continue; // batch norm needs two samples
                using var scope = NewDisposeScope();
                var (x, y) = o.Augment
                    ? train.RotatedBatch(idx, idx.Select(_ => 2 * Math.PI * augment.NextDouble()).ToArray(), device)
                    : train.Batch(idx, device);
                optimizer.zero_grad();
                var loss = ((model.forward(x) - y).square() * mask).mean() / maskMean;
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>() * idx.Length; seen += idx.Length;
            }
            if (cancelled && seen == 0) break;
            Record(epoch, lossSum / Math.Max(seen, 1));
        }
        return new DenoisingTrainingResult(model.GetName(), history, parameters, cancelled, Devices.Describe(device));

        void Record(int epoch, double trainLoss)
        {
            var (mse, eq, quarter) = Evaluate(model, validation, o.EquivarianceSamples, o.Seed, device);
            var e = new DenoisingEpoch(epoch, trainLoss, mse, DenoisingMetrics.Psnr(mse), eq, quarter, sw.Elapsed.TotalSeconds);
            history.Add(e);
            progress?.Report(e);
        }
    }

    /// <summary>
    /// Validation disc MSE over the whole set and the equivariance error on its first <paramref name="equivarianceSamples"/>
    /// images (angles seeded by <paramref name="seed"/>, the same every call), and the quarter-turn error on the same
    /// images. Leaves the model in eval mode.
    /// </summary>
    public static (double Mse, double EquivarianceError, double QuarterTurnError) Evaluate(Module<Tensor, Tensor> model, ProjectionDataset validation, int equivarianceSamples, int seed, Device device)
    {
        model.eval();
        using var _ = no_grad();
        double se = 0; int count = 0;
        for (int s = 0; s < validation.Count; s += 64)
        {
            using var scope = NewDisposeScope();
            var idx = Enumerable.Range(s, Math.Min(64, validation.Count - s)).ToArray();
            var (x, y) = validation.Batch(idx, device);
            se += DenoisingMetrics.DiscMse(model.forward(x), y) * idx.Length; count += idx.Length;
        }
        double eq, quarter;
        using (var scope = NewDisposeScope())
        {
            var idx = Enumerable.Range(0, Math.Clamp(equivarianceSamples, 1, validation.Count)).ToArray();
            var (x, _) = validation.Batch(idx, device);
            eq = DenoisingMetrics.EquivarianceError(model.forward, x, new Random(seed ^ 0x3c6ef372));
            quarter = DenoisingMetrics.QuarterTurnEquivarianceError(model.forward, x);
        }
        return (se / count, eq, quarter);
    }

    /// <summary>Denoises <paramref name="noisy"/> <c>[B,1,n,n]</c> in eval mode without gradients.</summary>
    public static Tensor Denoise(Module<Tensor, Tensor> model, Tensor noisy)
    {
        model.eval();
        using var _ = no_grad();
        var p = model.parameters().FirstOrDefault();
        var d = p?.device ?? noisy.device;
        using var x = noisy.to(d);
        return model.forward(x).cpu();
    }
}

/// <summary>A complete run (data + model + training), as the CLI and the notebook use it.</summary>
public sealed record DenoisingExperiment
{
    public DenoiserKind Net { get; init; } = DenoiserKind.Cartesian;
    public ProjectionDataOptions Data { get; init; } = new();
    /// <summary>Validation set size (same molecules, other orientations and noise; default 128).</summary>
    public int ValidationCount { get; init; } = 128;
    public DenoiserOptions Architecture { get; init; } = new();
    public DenoisingTrainingOptions Training { get; init; } = new();

    /// <summary>Training and validation sets: seeds <c>Data.Seed</c> and <c>Data.Seed + 1 000 003</c>, shared molecules.</summary>
    public (ProjectionDataset Train, ProjectionDataset Validation) CreateData() =>
        (ProjectionDataset.Create(Data), ProjectionDataset.Create(Data with { Count = ValidationCount, Seed = Data.Seed + 1_000_003 }));

    /// <summary>A fresh model with weights seeded by <c>Training.Seed</c> (<c>torch.manual_seed</c>).</summary>
    public Module<Tensor, Tensor> CreateModel()
    {
        Devices.EnsureNativeLoaded();
        random.manual_seed(Training.Seed);
        return Denoisers.Create(Net, Data.ImageSize, Architecture);
    }

    /// <summary>Builds data and model and trains. The caller owns the returned model and data sets.</summary>
    public (DenoisingTrainingResult Result, Module<Tensor, Tensor> Model) Run(ProjectionDataset train, ProjectionDataset validation,
        IProgress<DenoisingEpoch>? progress = null, CancellationToken cancellation = default)
    {
        var model = CreateModel();
        var result = DenoisingTrainer.Train(model, train, validation, Training, progress, cancellation);
        return (result with { Net = Net.ToString().ToLowerInvariant() }, model);
    }
}
