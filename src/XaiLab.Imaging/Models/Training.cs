using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using XaiLab.Imaging.Data;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models;

/// <summary>
/// Training schedule of the Fashion models. Scenes are generated on the fly: epoch e uses train scenes
/// [e·ScenesPerEpoch, (e+1)·ScenesPerEpoch) in a seeded shuffled order, so no scene is seen twice.
/// AdamW with a cosine learning-rate decay from <see cref="LearningRate"/> to 0 over all steps.
/// </summary>
public sealed record FashionTrainingOptions
{
    /// <summary>Training epochs, each over <see cref="ScenesPerEpoch"/> fresh scenes. Default 3.</summary>
    public int Epochs { get; init; } = 3;
    /// <summary>Fresh training scenes per epoch (no scene is seen twice). Default 8000.</summary>
    public int ScenesPerEpoch { get; init; } = 8000;
    /// <summary>Scenes per optimisation step (≥ 2, batch norm needs it). Default 32.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Peak AdamW learning rate, decayed by a cosine to 0 over all steps. Default 0.002.</summary>
    public double LearningRate { get; init; } = 2e-3;
    /// <summary>AdamW decoupled weight decay. Default 1e-4.</summary>
    public double WeightDecay { get; init; } = 1e-4;
    /// <summary>Seeds the weight initialisation (<see cref="SeededInit"/>: the weights of <c>torch.manual_seed</c>, from a private generator) and the batch order.</summary>
    public ulong Seed { get; init; }
    /// <summary>Validation scenes evaluated after each epoch.</summary>
    public int ValScenes { get; init; } = 300;
    /// <summary>Test scenes of the final held-out figure (all 2000 by default).</summary>
    public int TestScenes { get; init; } = 2000;
    /// <summary>Continue from these weights instead of a fresh initialisation (null: fresh).</summary>
    public string? InitialWeights { get; init; }
    /// <summary>Index of the first training scene; a continued run starts after the scenes of the earlier run so every scene is new.</summary>
    public int FirstScene { get; init; }
    /// <summary>torch intra-op threads (the shared 2-core machines: 2).</summary>
    public int Threads { get; init; } = 2;
    /// <summary>Device to train on: <c>cpu</c> (default), <c>cuda</c> or <c>cuda:N</c>. Scenes are rendered on the CPU either way.</summary>
    public string? Device { get; init; }

    /// <summary>Checks the schedule (Epochs ≥ 1, BatchSize ≥ 2, ScenesPerEpoch ≥ BatchSize, LearningRate &gt; 0).</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (Epochs < 1 || ScenesPerEpoch < BatchSize || BatchSize < 2) throw new ArgumentException($"Need Epochs ≥ 1, BatchSize ≥ 2 and ScenesPerEpoch ≥ BatchSize; got {Epochs}, {BatchSize}, {ScenesPerEpoch}.");
        if (LearningRate <= 0) throw new ArgumentException($"LearningRate must be > 0; got {LearningRate}.");
    }
}

/// <summary>One epoch of training: mean loss and the validation metric after it.</summary>
public sealed record EpochLog(int Epoch, double Loss, double ValMetric, double Seconds);

/// <summary>What a training run produced, also written as <c>NAME.json</c> next to the weights.</summary>
public sealed record FashionTrainingResult(string Model, string Architecture, string Dataset, string Metric, long Parameters,
    FashionTrainingOptions Options, IReadOnlyList<EpochLog> Epochs, EvaluationResult Test, MarkerEffect? Marker,
    double TrainSeconds, long WeightBytes, string WeightsPath);

/// <summary>Trains a Fashion model (<see cref="FashionModels.All"/>) on its dataset variant and saves its weights.</summary>
public static class FashionTraining
{
    /// <param name="log">A text log (not an <see cref="IProgress{T}"/>): one line per progress report (epoch summaries, periodic loss).</param>
    /// <param name="weightsPath">Default: <c>assets/models/NAME.dat</c>.</param>
    /// <param name="trainItems">Item pool of the train/val splits; default the full Fashion-MNIST training set (<see cref="FashionItems.Train"/>).</param>
    /// <param name="spec">The Fashion model to train (architecture, dataset variant, weights file).</param>
    /// <param name="options">The schedule (epochs, scenes, batch, learning rate, seed, device); default <see cref="FashionTrainingOptions"/>' defaults.</param>
    public static FashionTrainingResult Train(FashionModelSpec spec, FashionTrainingOptions? options = null, Action<string>? log = null, string? weightsPath = null,
        FashionItems? trainItems = null)
    {
        var o = options ?? new FashionTrainingOptions();
        o.Validate();
        log ??= _ => { };
        Devices.EnsureNativeLoaded();
        torch.set_num_threads(o.Threads);
        if (o.FirstScene < 0) throw new ArgumentException($"FirstScene must be ≥ 0; got {o.FirstScene}.");
        var train = new FashionScenes(spec.Data, "train", new FashionSceneOptions { TrainCount = o.FirstScene + o.Epochs * o.ScenesPerEpoch }, trainItems);
        var val = new FashionScenes(spec.Data, "val", null, trainItems);
        var test = new FashionScenes(spec.Data, "test");
        var classifier = o.InitialWeights is { } init ? FashionModels.Load(spec, init) : FashionModels.Wrap(spec, SeededInit.Apply(FashionModels.Build(spec.Architecture, FashionItems.ClassNames.Count), o.Seed & 0x7FFFFFFF));
        var device = Devices.Resolve(o.Device);
        classifier.To(device);
        var net = classifier.Network;
        long parameters = net.parameters().Sum(p => p.numel());
        log($"{spec.Name}: {spec.Architecture}, {parameters} parameters, {spec.Dataset}, {o.Epochs} epochs × {o.ScenesPerEpoch} scenes from scene {o.FirstScene}, batch {o.BatchSize}, lr {o.LearningRate}, {torch.get_num_threads()} threads, {Devices.Describe(device)}" +
            (o.InitialWeights is null ? "" : $", continuing from {o.InitialWeights}"));
        var sw = Stopwatch.StartNew();
        var epochs = Fit(classifier, train.Batch, spec.MultiLabel, val, o, device, log);
        double trainSeconds = sw.Elapsed.TotalSeconds;
        net.eval();
        var t = Evaluation.Evaluate(classifier, test, "test", o.TestScenes);
        log($"test ({t.Images} scenes): {t.Metric} {t.Value:0.0000}; per class {string.Join(" ", t.PerClass.Select(x => x.ToString("0.00")))}");
        MarkerEffect? marker = null;
        if (!spec.MultiLabel) // the unbiased single-label models give the baseline of the marker check
        {
            marker = Evaluation.MeasureMarkerEffect(classifier, new FashionScenes(FashionSceneKind.Biased, "test"));
            log($"marker effect: predicted '{FashionItems.ClassNames[marker.MarkerClass]}' on {marker.Images} other-class test scenes: {marker.WithMarker:0.000} with marker, {marker.WithoutMarker:0.000} without");
        }
        var path = weightsPath ?? Assets.PathOf(spec.WeightsFile);
        classifier.To(CPU);   // weights are stored from the CPU, whatever the training device
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        net.save(tmp);
        File.Move(tmp, path, overwrite: true);
        var result = new FashionTrainingResult(spec.Name, spec.Architecture.ToString(), spec.Dataset, t.Metric, parameters, o, epochs, t, marker,
            trainSeconds, new FileInfo(path).Length, Path.GetFullPath(path));
        File.WriteAllText(Path.ChangeExtension(path, ".json"), JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        log($"saved {path} ({result.WeightBytes} bytes); training {trainSeconds:0}s");
        classifier.Dispose();
        return result;
    }

    /// <summary>
    /// The training loop shared by the Fashion models and the 224-px models: AdamW (lr <see cref="FashionTrainingOptions.LearningRate"/>,
    /// weight decay) with a cosine decay to 0 over all steps; epoch e uses the fresh scenes [FirstScene + e·ScenesPerEpoch, …) in a
    /// seeded shuffled order, rendered on the thread pool one batch ahead; cross-entropy (single-label) or per-class BCE
    /// (multi-label); the validation metric after each epoch. The network is left in eval mode.
    /// </summary>
    /// <param name="batch">Renders the images <c>[n,3,H,W]</c> and targets of the given scene indices.</param>
    /// <param name="classifier">The model; its network is trained in place.</param>
    /// <param name="multiLabel">Per-class BCE on sigmoid outputs (true) or cross-entropy (false).</param>
    /// <param name="val">The validation split, evaluated after each epoch.</param>
    /// <param name="o">The schedule.</param>
    /// <param name="device">The device the network trains on (batches are moved to it).</param>
    /// <param name="log">A text log (not an <see cref="IProgress{T}"/>): one line per progress report.</param>
    internal static List<EpochLog> Fit(Classifier classifier, Func<IReadOnlyList<int>, (Tensor Images, Tensor Targets)> batch, bool multiLabel,
        ISceneDataset val, FashionTrainingOptions o, Device device, Action<string> log)
    {
        var net = classifier.Network;
        var optimizer = torch.optim.AdamW(net.parameters(), lr: o.LearningRate, weight_decay: o.WeightDecay);
        int stepsPerEpoch = o.ScenesPerEpoch / o.BatchSize, totalSteps = stepsPerEpoch * o.Epochs, step = 0;
        var rng = SplitMix64.ForKeys(o.Seed, 0x7A1EUL);
        var epochs = new List<EpochLog>();
        var sw = Stopwatch.StartNew();
        for (int e = 0; e < o.Epochs; e++)
        {
            var esw = Stopwatch.StartNew();
            var order = Enumerable.Range(o.FirstScene + e * o.ScenesPerEpoch, o.ScenesPerEpoch).ToArray();
            rng.Shuffle(order);
            net.train();
            double lossSum = 0; int lossN = 0;
            // Render the next batch on the thread pool while torch trains on this one.
            Task<(Tensor, Tensor)> next = Task.Run(() => batch(order[..o.BatchSize]));
            for (int b = 0; b < stepsPerEpoch; b++)
            {
                using var scope = NewDisposeScope();
                var (images, targets) = next.Result;
                var onDevice = targets.to(device);
                if (b + 1 < stepsPerEpoch) { int s0 = (b + 1) * o.BatchSize; next = Task.Run(() => batch(order[s0..(s0 + o.BatchSize)])); }
                double lr = 0.5 * o.LearningRate * (1 + Math.Cos(Math.PI * step / totalSteps));
                foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
                optimizer.zero_grad();
                var logits = classifier.Logits(images);
                var loss = multiLabel ? nn.functional.binary_cross_entropy_with_logits(logits, onDevice) : nn.functional.cross_entropy(logits, onDevice);
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>(); lossN++; step++;
                images.Dispose(); targets.Dispose();
                if ((b + 1) % 50 == 0) log($"  epoch {e + 1} step {b + 1}/{stepsPerEpoch} loss {lossSum / lossN:0.0000} lr {lr:0.00000} ({sw.Elapsed.TotalSeconds:0}s)");
            }
            net.eval();
            var v = Evaluation.Evaluate(classifier, val, "val", o.ValScenes);
            epochs.Add(new EpochLog(e + 1, lossSum / lossN, v.Value, esw.Elapsed.TotalSeconds));
            log($"epoch {e + 1}: loss {lossSum / lossN:0.0000}, val {v.Metric} {v.Value:0.0000} ({esw.Elapsed.TotalSeconds:0}s)");
        }
        optimizer.Dispose();
        return epochs;
    }
}
