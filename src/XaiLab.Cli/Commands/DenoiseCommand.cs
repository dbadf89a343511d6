using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using XaiLab.Denoising;
using XaiLab.Imaging;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab denoise train --net cartesian|spiral --snr 0.25 [--epochs N] [--augment] [--seed S] [--size n]
/// [--train-count N] [--val-count N] [--depth D] [--width W] [--batch B] [--lr η] [--device D] --out DIR</c>:
/// trains a denoiser on synthetic projections (thesis §7.4) and writes <c>DIR/history.csv</c>,
/// <c>DIR/history.json</c> (options + history + yardsticks) and <c>DIR/weights.dat</c> (TorchSharp state dict).
/// </summary>
public static class DenoiseCommand
{
    public static Command Create()
    {
        var net = new Option<string>("--net") { Description = "cartesian or spiral", DefaultValueFactory = _ => "cartesian" };
        var snr = new Option<double>("--snr") { Description = "signal-to-noise power ratio Var(clean)/σ² (thesis: 0.25 and 0.015625)", DefaultValueFactory = _ => 0.25 };
        var epochs = new Option<int>("--epochs") { Description = "training epochs", DefaultValueFactory = _ => 10 };
        var augment = new Option<bool>("--augment") { Description = "random in-plane rotation of every training pair each epoch" };
        var seed = new Option<int>("--seed") { Description = "seed of weights, batch order, augmentation and noise", DefaultValueFactory = _ => 0 };
        var size = new Option<int>("--size") { Description = "image side in pixels", DefaultValueFactory = _ => 32 };
        var trainCount = new Option<int>("--train-count") { Description = "training images", DefaultValueFactory = _ => 512 };
        var valCount = new Option<int>("--val-count") { Description = "validation images", DefaultValueFactory = _ => 128 };
        var depth = new Option<int>("--depth") { Description = "convolutions", DefaultValueFactory = _ => 5 };
        var width = new Option<int>("--width") { Description = "hidden channels", DefaultValueFactory = _ => 32 };
        var batch = new Option<int>("--batch") { Description = "batch size", DefaultValueFactory = _ => 16 };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => 1e-3 };
        var device = new Option<string?>("--device") { Description = "cpu, cuda or cuda:N (default: $XAILAB_DEVICE or cpu)" };
        var output = new Option<string>("--out") { Description = "output folder", Required = true };
        var train = new Command("train", "Train a Cartesian or spiral denoiser; write history (CSV, JSON) and weights.")
            { net, snr, epochs, augment, seed, size, trainCount, valCount, depth, width, batch, lr, device, output };
        train.SetAction(parse => CommandBody.Guard(() =>
        {
            var kind = Denoisers.ParseKind(parse.GetValue(net)!);
            var d = Devices.Resolve(parse.GetValue(device) ?? Environment.GetEnvironmentVariable(Devices.EnvironmentVariable));
            int s = parse.GetValue(seed);
            var experiment = new DenoisingExperiment
            {
                Net = kind,
                Data = new ProjectionDataOptions { ImageSize = parse.GetValue(size), Count = parse.GetValue(trainCount), Snr = parse.GetValue(snr), Seed = s + 1 },
                ValidationCount = parse.GetValue(valCount),
                Architecture = new DenoiserOptions { Depth = parse.GetValue(depth), Width = parse.GetValue(width) },
                Training = new DenoisingTrainingOptions
                {
                    Epochs = parse.GetValue(epochs), Augment = parse.GetValue(augment), Seed = s,
                    BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(lr), Device = d,
                },
            };
            var outDir = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(outDir);
            return Run(experiment, outDir);
        }));
        var cmd = new Command("denoise", "Equivariant denoising of synthetic cryo-EM projections (thesis Part IV).") { train };
        return cmd;
    }

    static int Run(DenoisingExperiment e, string outDir)
    {
        Console.WriteLine($"xailab denoise train: net {e.Net.ToString().ToLowerInvariant()}, SNR {e.Data.Snr.ToString(CultureInfo.InvariantCulture)}, " +
                          $"{e.Data.Count} images of {e.Data.ImageSize}², {e.Training.Epochs} epochs{(e.Training.Augment ? ", rotation augmentation" : "")}, seed {e.Training.Seed}");
        var (train, validation) = e.CreateData();
        using var _t = train; using var _v = validation;

        // Classical yardsticks on the same validation set.
        double noisyMse = DenoisingMetrics.DiscMse(validation.Noisy, validation.Clean);
        using var wiener = WienerFilter.FitFromNoisy(train.Noisy, train.NoiseStd);
        using var wienerOut = wiener.Apply(validation.Noisy, validation.NoiseStd);
        double wienerMse = DenoisingMetrics.DiscMse(wienerOut, validation.Clean);
        var lowPass = GaussianLowPass.SelectSigma(validation.Noisy, validation.Clean);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  validation MSE: noisy {noisyMse:G4}, Wiener {wienerMse:G4} ({DenoisingMetrics.Psnr(wienerMse):F2} dB), low-pass σ={lowPass.Sigma} px {lowPass.Mse:G4}"));

        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, a) => { a.Cancel = true; cts.Cancel(); Console.Error.WriteLine("cancelling after the current batch…"); };
        Console.CancelKeyPress += onCancel;
        DenoisingTrainingResult result;
        TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> model;
        try
        {
            var progress = new SyncProgress<DenoisingEpoch>(h => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  epoch {h.Epoch,3}: train {h.TrainLoss:G4}  val MSE {h.ValidationMse:G4}  PSNR {h.ValidationPsnr:F2} dB  equivariance error {h.EquivarianceError:G4} (quarter turns {h.QuarterTurnError:G4})  ({h.Seconds:F1} s)")));
            (result, model) = e.Run(train, validation, progress, cts.Token);
        }
        finally { Console.CancelKeyPress -= onCancel; }
        using var _m = model;

        File.WriteAllText(Path.Combine(outDir, "history.csv"), result.ToCsv());
        var json = new
        {
            net = result.Net,
            snr = e.Data.Snr,
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
            yardsticks = new { noisyMse, wienerMse, lowPassSigma = lowPass.Sigma, lowPassMse = lowPass.Mse },
            history = result.History.Select(h => new
            {
                h.Epoch, TrainLoss = double.IsNaN(h.TrainLoss) ? (double?)null : h.TrainLoss,
                h.ValidationMse, h.ValidationPsnr, h.EquivarianceError, h.QuarterTurnError, h.Seconds,
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
