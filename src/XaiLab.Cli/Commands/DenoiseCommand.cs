using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using XaiLab.Denoising;
using XaiLab.Imaging;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab denoise train --net cartesian|spiral --snr 0.25 [--snr-reading power|norm] [--epochs N] [--augment]
/// [--seed S] [--size n] [--train-count N] [--val-count N] [--depth D] [--width W] [--batch B] [--lr η]
/// [--no-prior] [--device D] [--resume] --out DIR</c>: trains a denoiser on synthetic projections (thesis §7.4) and
/// writes <c>DIR/history.csv</c>, <c>DIR/history.json</c> (options + history + yardsticks + equivariance floor) and
/// <c>DIR/weights.dat</c> (TorchSharp state dict). Every epoch is checkpointed in <c>DIR/checkpoint/</c>; with
/// <c>--resume</c> a run killed at any point (a short GPU slot) continues from its last finished epoch and ends with
/// the same history as an uninterrupted run.
/// <c>xailab denoise bench [--size 64] [--width 32] [--depth 5] [--batch 16] [--device D]</c>: times the resampling
/// matrices and one training step of each net, and measures the equivariance floor of both rotations.
/// </summary>
public static class DenoiseCommand
{
    /// <summary>The <c>denoise</c> command group with its subcommands <c>train</c> and <c>bench</c>.</summary>
    public static Command Create()
    {
        var net = new Option<string>("--net") { Description = "cartesian or spiral", DefaultValueFactory = _ => "cartesian" };
        var snr = CliOptions.Double("--snr", "signal-to-noise ratio (thesis: 0.25 and 0.015625), read as --snr-reading says", defaultValue: 0.25, what: "a number > 0", min: 0, positive: true);
        var reading = new Option<string>("--snr-reading") { Description = "power: Var(x_sig)/σ² (default); norm: ‖x_sig‖/‖x_noise‖ (thesis §6.3 wording)", DefaultValueFactory = _ => "power" };
        var resume = new Option<bool>("--resume") { Description = "continue from DIR/checkpoint (written after every epoch)" };
        var noPrior = new Option<bool>("--no-prior") { Description = "no radial mean image (plain nets as in the thesis' sketch)" };
        var epochs = CliOptions.Int("--epochs", "training epochs", defaultValue: 10, min: 0);
        var augment = new Option<bool>("--augment") { Description = "random in-plane rotation of every training pair each epoch" };
        var seed = CliOptions.Int("--seed", "seed of weights, batch order, augmentation and noise", defaultValue: 0);
        var size = CliOptions.Int("--size", "image side in pixels", defaultValue: 32, min: 8, what: "a whole number of pixels ≥ 8");
        var trainCount = CliOptions.Int("--train-count", "training images", defaultValue: 512, min: 1, what: "a positive number of images");
        var valCount = CliOptions.Int("--val-count", "validation images", defaultValue: 128, min: 1, what: "a positive number of images");
        var depth = CliOptions.Int("--depth", "convolutions", defaultValue: 5, min: 1);
        var width = CliOptions.Int("--width", "hidden channels", defaultValue: 32, min: 1);
        var kernel = CliOptions.Int("--kernel", "kernel side (odd; the spiral ribbon has as many rows)", defaultValue: 3, min: 1);
        var batch = CliOptions.Int("--batch", "batch size", defaultValue: 16, min: 1);
        var lr = CliOptions.Double("--lr", "Adam learning rate", defaultValue: 1e-3, what: "a number > 0", min: 0, positive: true);
        var device = CliOptions.Device();
        var output = CliOptions.Out("output folder");
        var train = new Command("train", "Train a Cartesian or spiral denoiser; write history (CSV, JSON) and weights.")
            { net, snr, reading, epochs, augment, seed, size, trainCount, valCount, depth, width, kernel, batch, lr, noPrior, device, resume, output };
        train.SetAction(parse => CommandBody.Guard(() =>
        {
            var kind = Denoisers.ParseKind(parse.GetValue(net)!);
            var d = CliOptions.ResolveDevice(parse, device);
            int s = parse.GetValue(seed);
            var outDir = Path.GetFullPath(CliOptions.PrepareOutputFolder(parse.GetValue(output)!));
            var experiment = new DenoisingExperiment
            {
                Net = kind,
                Data = new ProjectionDataOptions { ImageSize = parse.GetValue(size), Count = parse.GetValue(trainCount), Snr = parse.GetValue(snr), SnrReading = ParseReading(parse.GetValue(reading)!), Seed = s + 1 },
                ValidationCount = parse.GetValue(valCount),
                Architecture = new DenoiserOptions { Depth = parse.GetValue(depth), Width = parse.GetValue(width), KernelSize = parse.GetValue(kernel), RadialPrior = !parse.GetValue(noPrior) },
                Training = new DenoisingTrainingOptions
                {
                    Epochs = parse.GetValue(epochs), Augment = parse.GetValue(augment), Seed = s,
                    BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(lr), Device = d,
                    CheckpointDirectory = Path.Combine(outDir, "checkpoint"), Resume = parse.GetValue(resume),
                },
            };
            Directory.CreateDirectory(outDir);
            return Run(experiment, outDir);
        }));
        var bsize = CliOptions.Int("--size", "image side in pixels", defaultValue: 64, min: 8, what: "a whole number of pixels ≥ 8");
        var bwidth = CliOptions.Int("--width", "hidden channels", defaultValue: 32, min: 1);
        var bdepth = CliOptions.Int("--depth", "convolutions", defaultValue: 5, min: 1);
        var bbatch = CliOptions.Int("--batch", "batch size", defaultValue: 16, min: 1);
        var bdevice = CliOptions.Device();
        var bench = new Command("bench", "Time the resampling matrices and a training step of each net; measure the equivariance floors.")
            { bsize, bwidth, bdepth, bbatch, bdevice };
        bench.SetAction(parse => CommandBody.Guard(() =>
        {
            var d = CliOptions.ResolveDevice(parse, bdevice);
            var r = DenoisingBenchmark.Run(parse.GetValue(bsize), new DenoiserOptions { Width = parse.GetValue(bwidth), Depth = parse.GetValue(bdepth) }, parse.GetValue(bbatch), d);
            Console.WriteLine(r.ToText());
            return 0;
        }));
        var cmd = new Command("denoise", "Equivariant denoising of synthetic cryo-EM projections (thesis Part IV).") { train, bench };
        return cmd;
    }

    static SnrReading ParseReading(string s) => s.Trim().ToLowerInvariant() switch
    {
        "power" => SnrReading.Power,
        "norm" => SnrReading.Norm,
        _ => throw new ArgumentException($"Unknown --snr-reading '{s}': expected 'power' or 'norm'."),
    };

    static int Run(DenoisingExperiment e, string outDir)
    {
        Console.WriteLine($"xailab denoise train: net {e.Net.ToString().ToLowerInvariant()}, {ProjectionDataset.SnrText(e.Data.Snr, e.Data.SnrReading)}, " +
                          $"{e.Data.Count} images of {e.Data.ImageSize}², {e.Training.Epochs} epochs{(e.Training.Augment ? ", rotation augmentation" : "")}, seed {e.Training.Seed}");
        var (train, validation) = e.CreateData();
        using var _t = train; using var _v = validation;

        // Trivial and classical yardsticks on the same validation set.
        var baselines = Baselines.Compute(train, validation);
        Console.WriteLine("  validation PSNR: " + string.Join(", ", baselines.Scores.Select(b => string.Create(CultureInfo.InvariantCulture, $"{b.Name} {b.Psnr:F2} dB"))));

        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, a) => { a.Cancel = true; cts.Cancel(); Console.Error.WriteLine("cancelling after the current batch…"); };
        Console.CancelKeyPress += onCancel;
        DenoisingTrainingResult result;
        TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> model;
        try
        {
            var progress = new SyncProgress<DenoisingEpoch>(h => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  epoch {h.Epoch,3}: train loss {h.TrainLoss:G4}  train PSNR {h.TrainPsnr:F2} dB  val PSNR {h.ValidationPsnr:F2} dB  equivariance error {h.EquivarianceError:G3} (quarter turns {h.QuarterTurnError:G3})  ({h.Seconds:F1} s)")));
            (result, model) = e.Run(train, validation, progress, cts.Token);
        }
        finally { Console.CancelKeyPress -= onCancel; }
        using var _m = model;
        if (result.ResumedFromEpoch is int from) Console.WriteLine($"  resumed after epoch {from} from {e.Training.CheckpointDirectory}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  equivariance floor (isotropic low-pass, same images and angles): {result.EquivarianceFloor:G3}"));

        File.WriteAllText(Path.Combine(outDir, "history.csv"), result.ToCsv());
        var json = new
        {
            net = result.Net,
            snr = e.Data.Snr,
            snrReading = e.Data.SnrReading.ToString().ToLowerInvariant(),
            noise = ProjectionDataset.SnrText(e.Data.Snr, e.Data.SnrReading),
            augment = e.Training.Augment,
            seed = e.Training.Seed,
            imageSize = e.Data.ImageSize,
            trainCount = e.Data.Count,
            validationCount = e.ValidationCount,
            architecture = e.Architecture,
            training = new { e.Training.Epochs, e.Training.BatchSize, e.Training.LearningRate },
            parameters = result.Parameters,
            device = result.Device,
            cancelled = result.Cancelled,
            yardsticks = baselines.Scores.Select(b => new { b.Name, b.Mse, b.Psnr }),
            lowPassSigma = baselines.LowPassSigma,
            equivarianceFloor = result.EquivarianceFloor,
            resumedFromEpoch = result.ResumedFromEpoch,
            history = result.History.Select(h => new
            {
                h.Epoch, TrainLoss = double.IsNaN(h.TrainLoss) ? (double?)null : h.TrainLoss,
                h.TrainMse, h.ValidationMse, h.ValidationPsnr, h.EquivarianceError, h.QuarterTurnError, h.Seconds,
            }),
        };
        File.WriteAllText(Path.Combine(outDir, "history.json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        model.save(Path.Combine(outDir, "weights.dat"));
        Console.WriteLine($"  wrote {Path.Combine(outDir, "history.csv")}, history.json, weights.dat");
        return result.Cancelled ? 130 : 0;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
