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
    /// <summary>Passes over the training set (0: only the untrained net is evaluated). Default 10.</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>Image pairs per Adam step. Default 16.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Adam learning rate η. Default 1e-3.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Random in-plane rotation of every training pair in every epoch (Fig 7.9; exact, see <see cref="ProjectionDataset.RotatedBatch"/>).</summary>
    public bool Augment { get; init; }
    /// <summary>Seeds the batch order, the augmentation angles and the equivariance angles (weights: see <see cref="DenoisingExperiment"/>).</summary>
    public int Seed { get; init; }
    /// <summary>Validation images used for the equivariance error each epoch (default 64; the same images and angles every epoch).</summary>
    public int EquivarianceSamples { get; init; } = 64;
    /// <summary>Device to train on (default <see cref="Devices.Default"/>).</summary>
    public Device? Device { get; init; }
    /// <summary>Training images whose eval-mode MSE is recorded each epoch (default 128; the first ones, the same every epoch), for the training curve of Figs 7.7–7.9.</summary>
    public int TrainScoreSamples { get; init; } = 128;
    /// <summary>
    /// Folder for per-epoch checkpoints (null: none). After epoch 0 and every epoch the trainer writes
    /// <c>model.dat</c> (weights and batch-norm statistics), <c>optimizer.dat</c> (Adam's moments) and
    /// <c>history.csv</c>, each replaced atomically; with <see cref="Resume"/> a later run continues from them.
    /// </summary>
    public string? CheckpointDirectory { get; init; }
    /// <summary>
    /// Continue from the checkpoint in <see cref="CheckpointDirectory"/> when one is there (default false). Batch order
    /// and augmentation angles are drawn from per-epoch generators seeded by (Seed, epoch), so a resumed run gives the
    /// same history as an uninterrupted one.
    /// </summary>
    public bool Resume { get; init; }
}

/// <summary>
/// One row of the training history (Figs 7.7–7.9). Epoch 0 is the untrained network.
/// </summary>
/// <param name="TrainLoss">Mean disc MSE over the epoch's training batches (train mode; NaN for epoch 0).</param>
/// <param name="TrainMse">Disc MSE on the first <see cref="DenoisingTrainingOptions.TrainScoreSamples"/> training images (eval mode): the training score of Figs 7.7–7.9.</param>
/// <param name="ValidationMse">Disc MSE of the denoised validation images against the clean ones (eval mode).</param>
/// <param name="ValidationPsnr">10·log10(1/MSE) dB (clean peak = 1).</param>
/// <param name="EquivarianceError">Σ‖D(F(R_θx) − R_θF(x))‖² / Σ‖D(F(x) − mean F(x))‖² on the disc with the band-limited rotation, θ uniform (<see cref="DenoisingMetrics.EquivarianceError(Func{Tensor, Tensor}, Tensor, IReadOnlyList{double})"/>); its floor is <see cref="DenoisingTrainingResult.EquivarianceFloor"/>.</param>
/// <param name="QuarterTurnError">The same for exact 90°/180°/270° grid rotations (<see cref="DenoisingMetrics.QuarterTurnEquivarianceError"/>).</param>
/// <param name="Seconds">Wall time of the epoch including evaluation.</param>
/// <param name="Epoch">Epoch number; 0 is the untrained net, evaluated before the first step.</param>
public sealed record DenoisingEpoch(int Epoch, double TrainLoss, double TrainMse, double ValidationMse, double ValidationPsnr, double EquivarianceError, double QuarterTurnError, double Seconds)
{
    /// <summary>Training score as PSNR (dB).</summary>
    public double TrainPsnr => DenoisingMetrics.Psnr(TrainMse);

    internal const string CsvHeader = "epoch,train_loss,train_mse,val_mse,val_psnr_db,equivariance_error,quarter_turn_error,seconds";

    internal string ToCsvLine() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Epoch},{TrainLoss:R},{TrainMse:R},{ValidationMse:R},{ValidationPsnr:R},{EquivarianceError:R},{QuarterTurnError:R},{Seconds:F3}");

    internal static DenoisingEpoch FromCsvLine(string line)
    {
        var f = line.Split(',');
        if (f.Length != 8) throw new FormatException($"Expected 8 fields ({CsvHeader}), got {f.Length}: '{line}'.");
        double D(int i) => double.Parse(f[i], System.Globalization.CultureInfo.InvariantCulture);
        return new DenoisingEpoch(int.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture), D(1), D(2), D(3), D(4), D(5), D(6), D(7));
    }
}

/// <summary>The outcome of a training run with its history and diagnostics.</summary>
/// <param name="Net">"cartesian" or "spiral" (the module name when trained outside <see cref="DenoisingExperiment"/>).</param>
/// <param name="History">Epoch 0 (untrained) and every trained epoch.</param>
/// <param name="Parameters">Trainable parameters.</param>
/// <param name="Cancelled">Stopped by the cancellation token before the last epoch.</param>
/// <param name="Device">Where it ran.</param>
/// <param name="EquivarianceFloor">The equivariance error of an isotropic Gaussian low-pass (σ 1.5 px) on the same validation images and angles (<see cref="DenoisingMetrics.EquivarianceFloor"/>): what the measure reads for an exactly equivariant filter.</param>
/// <param name="ResumedFromEpoch">The last epoch loaded from a checkpoint (null: started fresh).</param>
public sealed record DenoisingTrainingResult(
    string Net, IReadOnlyList<DenoisingEpoch> History, long Parameters, bool Cancelled, string Device, double EquivarianceFloor = double.NaN, int? ResumedFromEpoch = null)
{
    /// <summary>The last recorded epoch.</summary>
    public DenoisingEpoch Final => History[^1];
    /// <summary>The epoch with the best validation MSE.</summary>
    public DenoisingEpoch Best => History.MinBy(h => h.ValidationMse)!;

    /// <summary>The history as CSV (header + one line per epoch, invariant culture).</summary>
    public string ToCsv() => DenoisingEpoch.CsvHeader + "\n" + string.Concat(History.Select(h => h.ToCsvLine() + "\n"));

    /// <summary>Reads a history written by <see cref="ToCsv"/>.</summary>
    public static List<DenoisingEpoch> ParseCsv(string csv)
    {
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0 || lines[0] != DenoisingEpoch.CsvHeader) throw new FormatException($"Expected a history CSV with header '{DenoisingEpoch.CsvHeader}'.");
        return lines.Skip(1).Select(DenoisingEpoch.FromCsvLine).ToList();
    }
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
        var history = new List<DenoisingEpoch>();
        long parameters = model.parameters().Sum(p => p.numel());
        int? resumed = null;
        string? dir = o.CheckpointDirectory is null ? null : Path.GetFullPath(o.CheckpointDirectory);
        if (dir is not null) Directory.CreateDirectory(dir);
        if (dir is not null && o.Resume && File.Exists(Path.Combine(dir, "history.csv")) && File.Exists(Path.Combine(dir, "model.dat")))
        {
            history.AddRange(DenoisingTrainingResult.ParseCsv(File.ReadAllText(Path.Combine(dir, "history.csv"))));
            model.load(Path.Combine(dir, "model.dat"));
            model.to(device);
            if (File.Exists(Path.Combine(dir, "optimizer.dat"))) optimizer.load_state_dict(Path.Combine(dir, "optimizer.dat"));
            resumed = history.Count == 0 ? null : history[^1].Epoch;
        }
        var (eqX, eqAngles) = EquivarianceInputs(validation, o.EquivarianceSamples, o.Seed, device);
        using var _eqX = eqX;
        double floor = DenoisingMetrics.EquivarianceFloor(eqX, eqAngles);
        var sw = Stopwatch.StartNew();
        if (history.Count == 0) Record(0, double.NaN);
        bool cancelled = false;
        for (int epoch = history[^1].Epoch + 1; epoch <= o.Epochs && !cancelled; epoch++)
        {
            sw.Restart();
            model.train();
            double lossSum = 0; int seen = 0;
            // Per-epoch generators: a run resumed at any epoch draws what an uninterrupted one would.
            var shuffle = new Random(EpochSeed(o.Seed, epoch));
            var augment = new Random(EpochSeed(o.Seed ^ 0x6a09e667, epoch));
            foreach (var idx in ProjectionDataset.ShuffledBatches(train.Count, o.BatchSize, shuffle))
            {
                if (cancellation.IsCancellationRequested) { cancelled = true; break; }
                if (idx.Length < 2) continue; // batch norm needs two samples
                using var scope = NewDisposeScope();
                var (x, y) = o.Augment
                    ? train.RotatedBatch(idx, idx.Select(_ => 2 * Math.PI * augment.NextDouble()).ToArray(), device)
                    : train.Batch(idx, device);
                optimizer.zero_grad();
                var loss = ((model.call(x) - y).square() * mask).mean() / maskMean;
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>() * idx.Length; seen += idx.Length;
            }
            if (cancelled) break;   // a partial epoch is neither recorded nor checkpointed
            Record(epoch, lossSum / Math.Max(seen, 1));
        }
        return new DenoisingTrainingResult(model.GetName(), history, parameters, cancelled, Devices.Describe(device), floor, resumed);

        void Record(int epoch, double trainLoss)
        {
            var (mse, trainMse, eq, quarter) = Evaluate(model, train, validation, o.TrainScoreSamples, eqX, eqAngles, device);
            var e = new DenoisingEpoch(epoch, trainLoss, trainMse, mse, DenoisingMetrics.Psnr(mse), eq, quarter, sw.Elapsed.TotalSeconds);
            history.Add(e);
            if (dir is not null) Checkpoint(dir, model, optimizer, history);
            progress?.Report(e);
        }
    }

    /// <summary>The seed of epoch <paramref name="epoch"/>'s generator (a fixed mix of the run seed and the epoch).</summary>
    static int EpochSeed(int seed, int epoch) => unchecked((int)((uint)seed * 2654435761u ^ (uint)epoch * 40503u ^ 0x9e3779b9u));

    static void Checkpoint(string dir, Module<Tensor, Tensor> model, TorchSharp.Modules.OptimizerHelper optimizer, List<DenoisingEpoch> history)
    {
        // Write next to the target, then move over it: a run killed mid-write leaves the previous checkpoint intact.
        void Atomic(string name, Action<string> write)
        {
            var target = Path.Combine(dir, name);
            var tmp = target + ".tmp";
            write(tmp);
            File.Move(tmp, target, overwrite: true);
        }
        Atomic("model.dat", p => model.save(p));
        Atomic("optimizer.dat", p => optimizer.save_state_dict(p));
        Atomic("history.csv", p => File.WriteAllText(p, DenoisingEpoch.CsvHeader + "\n" + string.Concat(history.Select(h => h.ToCsvLine() + "\n"))));
    }

    /// <summary>The first <paramref name="count"/> validation images and their seeded uniform angles (the same for every epoch and both nets).</summary>
    public static (Tensor X, double[] Angles) EquivarianceInputs(ProjectionDataset validation, int count, int seed, Device device)
    {
        var idx = Enumerable.Range(0, Math.Clamp(count, 1, validation.Count)).ToArray();
        var (x, y) = validation.Batch(idx, device);
        y.Dispose();
        return (x, DenoisingMetrics.RandomAngles(idx.Length, new Random(seed ^ 0x3c6ef372)));
    }

    /// <summary>
    /// Validation disc MSE over the whole set, eval-mode disc MSE on the first <paramref name="trainSamples"/> training
    /// images, the equivariance error on (<paramref name="eqX"/>, <paramref name="eqAngles"/>) and the quarter-turn
    /// error on the same images. Leaves the model in eval mode.
    /// </summary>
    public static (double Mse, double TrainMse, double EquivarianceError, double QuarterTurnError) Evaluate(Module<Tensor, Tensor> model, ProjectionDataset train, ProjectionDataset validation,
        int trainSamples, Tensor eqX, IReadOnlyList<double> eqAngles, Device device)
    {
        model.eval();
        using var _ = no_grad();
        var f = EquivariancePart(model);
        double eq = DenoisingMetrics.EquivarianceError(f, eqX, eqAngles);
        double quarter = DenoisingMetrics.QuarterTurnEquivarianceError(f, eqX);
        return (SetMse(model, validation, validation.Count, device), SetMse(model, train, trainSamples, device), eq, quarter);
    }

    /// <summary>
    /// The map whose equivariance is measured: the model itself, or for a <see cref="PriorResidualDenoiser"/> its
    /// residual <c>F(x) − m</c> (<see cref="PriorResidualDenoiser.Residual"/>), so that the error is relative to what
    /// the net computes from its input and comparable with the floor.
    /// </summary>
    public static Func<Tensor, Tensor> EquivariancePart(Module<Tensor, Tensor> model) => model is PriorResidualDenoiser p ? p.Residual : model.forward;

    /// <summary>Disc MSE of the model on the first <paramref name="count"/> images of a set (eval mode, batches of 64).</summary>
    public static double SetMse(Module<Tensor, Tensor> model, ProjectionDataset set, int count, Device device)
    {
        model.eval();
        using var _ = no_grad();
        count = Math.Clamp(count, 1, set.Count);
        double se = 0;
        for (int s = 0; s < count; s += 64)
        {
            using var scope = NewDisposeScope();
            var idx = Enumerable.Range(s, Math.Min(64, count - s)).ToArray();
            var (x, y) = set.Batch(idx, device);
            se += DenoisingMetrics.DiscMse(model.call(x), y) * idx.Length;
        }
        return se / count;
    }

    /// <summary>Denoises <paramref name="noisy"/> <c>[B,1,n,n]</c> in eval mode without gradients.</summary>
    public static Tensor Denoise(Module<Tensor, Tensor> model, Tensor noisy)
    {
        model.eval();
        using var _ = no_grad();
        var p = model.parameters().FirstOrDefault();
        var d = p?.device ?? noisy.device;
        using var x = noisy.to(d);
        return model.call(x).cpu();
    }
}

/// <summary>A complete run (data + model + training), as the CLI and the notebook use it.</summary>
public sealed record DenoisingExperiment
{
    /// <summary>The architecture: Cartesian (plain convolutions on the pixel grid) or spiral (convolutions along the spiral sampling, thesis §7.3). Default Cartesian.</summary>
    public DenoiserKind Net { get; init; } = DenoiserKind.Cartesian;
    /// <summary>The training set: image size, count, SNR and its reading, seed (validation uses the same molecules, see <see cref="CreateData"/>).</summary>
    public ProjectionDataOptions Data { get; init; } = new();
    /// <summary>Validation set size (same molecules, other orientations and noise; default 128).</summary>
    public int ValidationCount { get; init; } = 128;
    /// <summary>Depth, width, kernel side and radial prior of the net.</summary>
    public DenoiserOptions Architecture { get; init; } = new();
    /// <summary>Epochs, batch, learning rate, augmentation, seed, device and checkpointing.</summary>
    public DenoisingTrainingOptions Training { get; init; } = new();

    /// <summary>Training and validation sets: seeds <c>Data.Seed</c> and <c>Data.Seed + 1 000 003</c>, shared molecules.</summary>
    public (ProjectionDataset Train, ProjectionDataset Validation) CreateData() =>
        (ProjectionDataset.Create(Data), ProjectionDataset.Create(Data with { Count = ValidationCount, Seed = Data.Seed + 1_000_003 }));

    /// <summary>
    /// A fresh model with weights seeded by <c>Training.Seed</c> (<see cref="SeededInit"/>: those of <c>torch.manual_seed</c>, from a private generator); with
    /// <see cref="DenoiserOptions.RadialPrior"/> its radial mean image comes from <paramref name="train"/>'s clean images.
    /// </summary>
    public Module<Tensor, Tensor> CreateModel(ProjectionDataset? train = null)
    {
        Devices.EnsureNativeLoaded();
        if (Architecture.RadialPrior && train is null) throw new ArgumentException("CreateModel needs the training set for the radial prior (DenoiserOptions.RadialPrior).");
        using var prior = Architecture.RadialPrior ? RadialMean.FromClean(train!.Clean) : null;
        using var init = new Generator(unchecked((ulong)(long)Training.Seed), CPU);
        return Denoisers.Create(Net, Data.ImageSize, Architecture, prior, init);
    }

    /// <summary>Builds data and model and trains. The caller owns the returned model and data sets.</summary>
    public (DenoisingTrainingResult Result, Module<Tensor, Tensor> Model) Run(ProjectionDataset train, ProjectionDataset validation,
        IProgress<DenoisingEpoch>? progress = null, CancellationToken cancellation = default)
    {
        var model = CreateModel(train);
        var result = DenoisingTrainer.Train(model, train, validation, Training, progress, cancellation);
        return (result with { Net = Net.ToString().ToLowerInvariant() }, model);
    }
}
