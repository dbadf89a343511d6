using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using XaiLab.Imaging.Data;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace XaiLab.Imaging.Models;

/// <summary>
/// A ResNet-18-style network for the 224-px Fashion benchmark (He et al. 2016, basic blocks; ResNet-18's stage layout
/// [1,2,2,2] with a quarter to a half of its widths): stem conv3×3/2 (3→w) + BN + ReLU and max pool 3×3/2 (224² → 56²), then
/// four stages of <see cref="ResidualBlock"/>s — <c>layer1</c>: 1 block w→3w/2 at 56²; <c>layer2</c>: 2 blocks →2w at 28²;
/// <c>layer3</c>: 2 blocks →4w at 14²; <c>layer4</c>: 2 blocks →8w at 7² — and a
/// global max pool + linear head. With the default width w = 32 the stages have 32→48 (56², 1 block), 48→64 (28², 2 blocks),
/// 64→128 (14², 2 blocks) and 128→256 (7², 2 blocks) channels: 2.3 M parameters and about 0.3 G multiply–adds per image
/// (ResNet-18: 11.7 M, 1.8 G). <c>layer4</c> (7×7, stride 32 like ResNet-50's <c>layer4</c> on 224-px VOC images) is the
/// last spatial layer, Grad-CAM's default. Global max pooling rather than averaging: a small object in clutter then drives
/// its class score directly (the 128-px Fashion models found average pooling far slower to train).
/// </summary>
public sealed class SceneResNet : Module<Tensor, Tensor>
{
    readonly Sequential stem, layer1, layer2, layer3, layer4;
    readonly Linear head;

    /// <param name="numClasses">Outputs K (≥ 1).</param>
    /// <param name="width">Stem width w (≥ 8); the stages have 3w/2, 2w, 4w and 8w channels.</param>
    public SceneResNet(int numClasses, int width = 32) : base("SceneResNet")
    {
        if (numClasses < 1) throw new ArgumentException($"SceneResNet: numClasses must be ≥ 1; got {numClasses}.");
        if (width < 8) throw new ArgumentException($"SceneResNet: width must be ≥ 8; got {width}.");
        int w = width, c1 = 3 * w / 2, c2 = 2 * w, c3 = 4 * w, c4 = 8 * w;
        stem = Sequential(("conv", Conv2d(3, w, 3, stride: 2, padding: 1, bias: false)), ("bn", BatchNorm2d(w)), ("relu", ReLU()),
            ("pool", MaxPool2d(3, stride: 2, padding: 1)));
        layer1 = Sequential(("0", new ResidualBlock(w, c1, 1)));
        layer2 = Sequential(("0", new ResidualBlock(c1, c2, 2)), ("1", new ResidualBlock(c2, c2, 1)));
        layer3 = Sequential(("0", new ResidualBlock(c2, c3, 2)), ("1", new ResidualBlock(c3, c3, 1)));
        layer4 = Sequential(("0", new ResidualBlock(c3, c4, 2)), ("1", new ResidualBlock(c4, c4, 1)));
        head = Linear(c4, numClasses);
        RegisterComponents();
        Width = width;
    }

    /// <summary>The stem width w.</summary>
    public int Width { get; }

    /// <summary>The last stage, <c>[N,8w,H/32,W/32]</c> (Grad-CAM's layer).</summary>
    public Module<Tensor, Tensor> Layer4 => layer4;

    /// <summary>Logits <c>[N,K]</c> of normalised images <c>[N,3,H,W]</c> (any size divisible by 32; trained at 224).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var f = layer4.call(layer3.call(layer2.call(layer1.call(stem.call(x)))));
        return head.call(f.amax(new long[] { 2, 3 })).MoveToOuterDisposeScope();
    }
}

/// <summary>A trained (or to-be-trained) model of the 224-px benchmark.</summary>
/// <param name="Name">Registry name.</param>
/// <param name="Width">Stem width of the <see cref="SceneResNet"/>.</param>
/// <param name="HeldOut">mAP on <c>fashion-scenes-224/test</c> (2000 scenes) measured after training, or null while no trained weights are committed.</param>
public sealed record SceneModelSpec(string Name, int Width, double? HeldOut)
{
    /// <summary>The dataset it is trained and evaluated on.</summary>
    public string Dataset => FashionScenes224.RegistryName;
    /// <summary>Weights file under <c>assets/</c> (fp16 TorchSharp <c>Module.save</c>).</summary>
    public string WeightsFile => $"models/{Name}.dat";
    /// <summary>Held-out text for the registry, or null.</summary>
    public string? HeldOutText => HeldOut is { } v ? $"mAP {v:0.000} on {Dataset}/test (2000 scenes)" : null;
}

/// <summary>
/// The models of the 224-px Fashion benchmark: architecture, normalisation, fp16 weight files and loader. Inputs are
/// <c>[N,3,224,224]</c> in [0,1]; the <see cref="Classifier"/> normalises with <see cref="Mean"/>/<see cref="Std"/> inside and
/// applies a sigmoid per class (multi-label).
/// </summary>
public static class SceneModels
{
    /// <summary>Per-channel mean of <c>fashion-scenes-224</c> pixels (0.490, 0.463, 0.474 on the first 40 test scenes).</summary>
    public static readonly float[] Mean = { 0.49f, 0.46f, 0.47f };
    /// <summary>Per-channel standard deviation of <c>fashion-scenes-224</c> pixels (0.153, 0.148, 0.142 on the first 40 test scenes).</summary>
    public static readonly float[] Std = { 0.15f, 0.15f, 0.14f };
    /// <summary>Input side.</summary>
    public const int InputSide = 224;
    /// <summary>How to make the weights.</summary>
    public const string TrainHint = "data-scripts/train-scenes224.sh (a GPU: xailab train classifier --model NAME --device cuda)";

    /// <summary>
    /// The registered 224-px models. <c>fashion-resnet-224</c> has no committed weights yet (HeldOut null): it is registered
    /// so that <c>xailab train classifier</c>, <c>models list</c> and <c>models eval</c> know it, and becomes usable once trained.
    /// </summary>
    public static readonly IReadOnlyList<SceneModelSpec> All = new[]
    {
        new SceneModelSpec("fashion-resnet-224", 32, null),
    };

    /// <summary>The spec named <paramref name="name"/>, or null.</summary>
    public static SceneModelSpec? Find(string name) => All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Class names (those of the dataset with default options).</summary>
    public static IReadOnlyList<string> ClassNames { get; } = new FashionScenes224Options().LabelClasses.Select(c => FashionItems.ClassNames[c]).ToArray();

    /// <summary>A freshly initialised network.</summary>
    public static SceneResNet Build(SceneModelSpec spec)
    {
        Devices.EnsureNativeLoaded();
        return new SceneResNet(ClassNames.Count, spec.Width);
    }

    /// <summary>Wraps a network as the classifier of <paramref name="spec"/> (normalisation, sigmoid, 224×224 input, class names).</summary>
    public static Classifier Wrap(SceneModelSpec spec, nn.Module<Tensor, Tensor> network) =>
        new(network, ClassNames, OutputActivation.Sigmoid, channels: 3, inputSize: (InputSide, InputSide), mean: Mean, std: Std, name: spec.Name);

    /// <summary>Whether the weights of <paramref name="spec"/> are present.</summary>
    public static bool Available(SceneModelSpec spec) => Assets.Exists(spec.WeightsFile);

    /// <summary>
    /// Rounds every floating-point parameter and buffer of <paramref name="network"/> to fp16 in place (the module stays fp32),
    /// so that what is evaluated after training is exactly what <see cref="SaveHalf"/> stores.
    /// </summary>
    public static void RoundToHalf(nn.Module network)
    {
        using var _ = no_grad();
        foreach (var (_, t) in network.state_dict())
            if (t.is_floating_point()) t.copy_(t.to(ScalarType.Float16).to(t.dtype));
    }

    /// <summary>
    /// Saves <paramref name="network"/> (on the CPU) with its floating-point tensors stored as fp16, in TorchSharp's
    /// <c>Module.save</c> format; half the bytes of fp32. Written to a temporary file first, then moved into place.
    /// </summary>
    public static void SaveHalf(nn.Module<Tensor, Tensor> network, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        network.to(ScalarType.Float16);
        try { network.save(tmp); }
        finally { network.to(ScalarType.Float32); }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Loads model <paramref name="spec"/> from <paramref name="weightsPath"/> (default <c>assets/models/NAME.dat</c>) on the CPU, as fp32.</summary>
    /// <exception cref="FileNotFoundException">No weights file; the message names it and the training script.</exception>
    /// <exception cref="InvalidDataException">Truncated, corrupt, or for another architecture; the message names the file and the tensor.</exception>
    public static Classifier Load(SceneModelSpec spec, string? weightsPath = null)
    {
        var path = weightsPath ?? Assets.PathOf(spec.WeightsFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"Weights of model '{spec.Name}' not found: {path}. Train them with {TrainHint.Replace("NAME", spec.Name)}.", path);
        var net = Build(spec);
        try
        {
            // Floating-point tensors are stored as fp16, others (BN counters) with their own dtype.
            WeightFiles.CheckHeaders(net.state_dict(), path, spec.Name, t => t.is_floating_point() ? ScalarType.Float16 : t.dtype);
            net.to(ScalarType.Float16);
            net.load(path, strict: true);
            net.to(ScalarType.Float32);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            net.Dispose();
            throw new InvalidDataException($"Weights file '{path}' of model '{spec.Name}' could not be read ({e.GetType().Name}: {e.Message}); retrain with {TrainHint.Replace("NAME", spec.Name)}.", e);
        }
        catch
        {
            net.Dispose();
            throw;
        }
        return Wrap(spec, net);
    }
}

/// <summary>What a training run of a 224-px model produced, also written as <c>NAME.json</c> next to the weights.</summary>
public sealed record SceneTrainingResult(string Model, string Architecture, string Dataset, long Parameters, FashionTrainingOptions Options,
    IReadOnlyList<EpochLog> Epochs, EvaluationResult Test, double TrainSeconds, long WeightBytes, string WeightsPath, string Device);

/// <summary>Trains a <see cref="SceneModelSpec"/> on <c>fashion-scenes-224</c> with the shared schedule of <see cref="FashionTraining"/>.</summary>
public static class SceneTraining
{
    /// <param name="log">A text log (not an <see cref="IProgress{T}"/>): one line per progress report.</param>
    /// <param name="weightsPath">Default <c>assets/models/NAME.dat</c>.</param>
    /// <param name="trainItems">Item pool of the train/val splits; default the full Fashion-MNIST training set.</param>
    /// <param name="spec">The 224-px model to train (architecture, dataset, weights file).</param>
    /// <param name="options">The schedule (epochs, scenes, batch, learning rate, seed, device); default <see cref="FashionTrainingOptions"/>' defaults.</param>
    public static SceneTrainingResult Train(SceneModelSpec spec, FashionTrainingOptions? options = null, Action<string>? log = null, string? weightsPath = null,
        FashionItems? trainItems = null)
    {
        var o = options ?? new FashionTrainingOptions();
        o.Validate();
        log ??= _ => { };
        if (o.FirstScene < 0) throw new ArgumentException($"FirstScene must be ≥ 0; got {o.FirstScene}.");
        Devices.EnsureNativeLoaded();
        torch.set_num_threads(o.Threads);
        var train = new FashionScenes224("train", new FashionScenes224Options { TrainCount = o.FirstScene + o.Epochs * o.ScenesPerEpoch }, trainItems);
        var val = new FashionScenes224("val", null, trainItems);
        var test = new FashionScenes224("test");
        var classifier = o.InitialWeights is { } init ? SceneModels.Load(spec, init) : SceneModels.Wrap(spec, SeededInit.Apply(SceneModels.Build(spec), o.Seed & 0x7FFFFFFF));
        var device = Devices.Resolve(o.Device);
        classifier.To(device);
        long parameters = classifier.Network.parameters().Sum(p => p.numel());
        log($"{spec.Name}: SceneResNet width {spec.Width}, {parameters} parameters, {spec.Dataset}, {o.Epochs} epochs × {o.ScenesPerEpoch} scenes from scene {o.FirstScene}, " +
            $"batch {o.BatchSize}, lr {o.LearningRate}, {torch.get_num_threads()} threads, {Devices.Describe(device)}" + (o.InitialWeights is null ? "" : $", continuing from {o.InitialWeights}"));
        var sw = Stopwatch.StartNew();
        var epochs = FashionTraining.Fit(classifier, train.Batch, multiLabel: true, val, o, device, log);
        double trainSeconds = sw.Elapsed.TotalSeconds;
        classifier.To(CPU);
        SceneModels.RoundToHalf(classifier.Network); // the test figure is that of the stored fp16 weights
        classifier.To(device);
        classifier.Network.eval();
        var t = Evaluation.Evaluate(classifier, test, "test", o.TestScenes);
        log($"test ({t.Images} scenes, fp16 weights): {t.Metric} {t.Value:0.0000}; per class {string.Join(" ", t.PerClass.Select(x => x.ToString("0.00")))}");
        var path = weightsPath ?? Assets.PathOf(spec.WeightsFile);
        classifier.To(CPU);
        SceneModels.SaveHalf(classifier.Network, path);
        var result = new SceneTrainingResult(spec.Name, $"SceneResNet(width {spec.Width})", spec.Dataset, parameters, o, epochs, t, trainSeconds,
            new FileInfo(path).Length, Path.GetFullPath(path), Devices.Describe(device));
        File.WriteAllText(Path.ChangeExtension(path, ".json"), JsonSerializer.Serialize(result, new JsonSerializerOptions
            { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        log($"saved {path} ({result.WeightBytes} bytes, fp16); training {trainSeconds:0}s");
        classifier.Dispose();
        return result;
    }
}

/// <summary>Registers the 224-px models in <see cref="ModelRegistry"/> (available once their weights exist).</summary>
static class SceneModelsRegistration
{
#pragma warning disable CA2255 // registration next to the loader is the registry's design (Registry.cs)
    [ModuleInitializer]
    internal static void Register()
    {
        foreach (var spec in SceneModels.All)
        {
            var s = spec;
            ModelRegistry.Register(new ModelEntry(s.Name, "multi-label", s.Dataset, (SceneModels.InputSide, SceneModels.InputSide), SceneModels.ClassNames,
                s.HeldOutText, () => SceneModels.Available(s), SceneModels.TrainHint.Replace("NAME", s.Name), () => SceneModels.Load(s)));
        }
    }
#pragma warning restore CA2255
}
