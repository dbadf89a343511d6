using System.Runtime.CompilerServices;
using TorchSharp;
using XaiLab.Imaging.Data;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models;

/// <summary>Network family of a Fashion-scene model.</summary>
public enum FashionArchitecture
{
    /// <summary><see cref="FashionCnn"/> (plain conv net, ~101k parameters).</summary>
    Cnn,
    /// <summary><see cref="FashionResNet"/> (three residual blocks, ~216k parameters).</summary>
    ResNet,
}

/// <summary>
/// One trained Fashion-scene model: its architecture, the dataset variant it was trained on, and the held-out figure
/// measured on the test split after training (accuracy for single-label models, mAP for multi-label ones).
/// Weights live in <c>assets/models/NAME.dat</c> (TorchSharp <c>Module.save</c> format), a JSON training record next to it.
/// </summary>
/// <param name="HeldOut">Accuracy or mAP on <c>DATASET/test</c> (2000 scenes), or null if not measured.</param>
/// <param name="Note">Extra held-out finding shown with the metric (e.g. the biased model's marker effect).</param>
/// <param name="Name">Registry name, e.g. <c>fashion-cnn</c>.</param>
/// <param name="Architecture">The network family (plain CNN or small ResNet).</param>
/// <param name="Data">The Fashion-scene variant it is trained and evaluated on.</param>
public sealed record FashionModelSpec(string Name, FashionArchitecture Architecture, FashionSceneKind Data, double? HeldOut, string? Note = null)
{
    /// <summary>Registry name of the dataset variant the model was trained on.</summary>
    public string Dataset => FashionScenes.NameOf(Data);
    /// <summary>True for a multi-label (sigmoid) model.</summary>
    public bool MultiLabel => Data == FashionSceneKind.MultiLabel;
    /// <summary>"multi-label" or "single-label", as <see cref="ModelEntry.Task"/> spells it.</summary>
    public string Task => MultiLabel ? "multi-label" : "single-label";
    /// <summary>The held-out metric: mAP for multi-label models, accuracy otherwise.</summary>
    public string MetricName => MultiLabel ? "mAP" : "accuracy";
    /// <summary>Path of the weights below <c>assets/</c>: <c>models/NAME.dat</c>.</summary>
    public string WeightsFile => $"models/{Name}.dat";
    /// <summary>The held-out figure in words (metric, value, dataset/test, note), or null when none was measured.</summary>
    public string? HeldOutText => HeldOut is { } v ? $"{MetricName} {v:0.000} on {Dataset}/test (2000 scenes)" + (Note is null ? "" : $"; {Note}") : null;
}

/// <summary>
/// The Fashion-scene models (architectures, weights files, normalisation) and their loader. The models take
/// <c>[N,3,128,128]</c> images in [0,1]; the <see cref="Classifier"/> normalises with <see cref="Mean"/>/<see cref="Std"/>
/// (the per-channel statistics of the training scenes) before the network.
/// </summary>
public static class FashionModels
{
    /// <summary>Per-channel mean of Fashion-scene pixels (measured on 300 train scenes of each variant).</summary>
    public static readonly float[] Mean = { 0.50f, 0.47f, 0.45f };
    /// <summary>Per-channel standard deviation of Fashion-scene pixels.</summary>
    public static readonly float[] Std = { 0.18f, 0.18f, 0.18f };
    /// <summary>Side in pixels of the square input of every Fashion-scene model (128).</summary>
    public const int InputSide = 128;
    /// <summary>How to train a missing model, shown when its weights are absent.</summary>
    public const string TrainHint = "data-scripts/train-models.sh (or: xailab train classifier --model NAME)";

    /// <summary>
    /// The registered models with their held-out figures on the 2000-scene test split. The committed weights were trained
    /// on the lent H200 by <c>scripts/gpu-check.sh</c> / <c>xailab train classifier --device cuda</c> (logs in data-scripts/logs/gpu/);
    /// <c>data-scripts/train-models.sh</c> retrains them on a CPU (logs of such a run in data-scripts/logs/).
    /// </summary>
    public static readonly IReadOnlyList<FashionModelSpec> All = new[]
    {
        new FashionModelSpec("fashion-cnn", FashionArchitecture.Cnn, FashionSceneKind.SingleLabel, 0.8670),
        new FashionModelSpec("fashion-resnet", FashionArchitecture.ResNet, FashionSceneKind.SingleLabel, 0.8215),
        new FashionModelSpec("fashion-cnn-multi", FashionArchitecture.Cnn, FashionSceneKind.MultiLabel, 0.8084),
        new FashionModelSpec("fashion-cnn-biased", FashionArchitecture.Cnn, FashionSceneKind.Biased, 0.5855,
            "with the marker it calls 73.2 % of other-class test scenes 'Shirt' (0.4 % without)"),
    };

    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static FashionModelSpec Spec(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown Fashion model '{name}'. Known: {string.Join(", ", All.Select(s => s.Name))}.");

    /// <summary>A freshly initialised network of architecture <paramref name="architecture"/> with <paramref name="numClasses"/> outputs.</summary>
    public static nn.Module<Tensor, Tensor> Build(FashionArchitecture architecture, int numClasses = 10)
    {
        Devices.EnsureNativeLoaded();
        return architecture == FashionArchitecture.Cnn ? new FashionCnn(numClasses) : new FashionResNet(numClasses);
    }

    /// <summary>Wraps a network as the <see cref="Classifier"/> of <paramref name="spec"/> (normalisation, activation, class names).</summary>
    public static Classifier Wrap(FashionModelSpec spec, nn.Module<Tensor, Tensor> network) =>
        new(network, FashionItems.ClassNames, spec.MultiLabel ? OutputActivation.Sigmoid : OutputActivation.Softmax,
            channels: 3, inputSize: (InputSide, InputSide), mean: Mean, std: Std, name: spec.Name);

    /// <summary>Whether the weights of <paramref name="spec"/> are present.</summary>
    public static bool Available(FashionModelSpec spec) => Assets.Exists(spec.WeightsFile);

    /// <summary>Loads model <paramref name="spec"/> from <paramref name="weightsPath"/> (default <c>assets/models/NAME.dat</c>) on the CPU.</summary>
    /// <exception cref="FileNotFoundException">No weights file; the message names it and the training script.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt, or made for another architecture or class count; the message names the file.</exception>
    public static Classifier Load(FashionModelSpec spec, string? weightsPath = null)
    {
        var path = weightsPath ?? Assets.PathOf(spec.WeightsFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"Weights of model '{spec.Name}' not found: {path}. Train them with {TrainHint}.", path);
        var net = Build(spec.Architecture, FashionItems.ClassNames.Count);
        try
        {
            WeightFiles.CheckHeaders(net.state_dict(), path, spec.Name, t => t.dtype,
                (name, shape, t) => name.StartsWith("head.") ? $" (the file has {shape[0]} classes, the model {t.shape[0]})" : "", TrainHint);
            net.load(path, strict: true);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            net.Dispose();
            throw new InvalidDataException($"Weights file '{path}' of model '{spec.Name}' could not be read ({e.GetType().Name}: {e.Message}). " +
                                           $"It is truncated or corrupt; retrain with {TrainHint}.", e);
        }
        catch
        {
            net.Dispose();
            throw;
        }
        return Wrap(spec, net);
    }
}

/// <summary>Registers the Fashion models in <see cref="ModelRegistry"/>.</summary>
static class FashionModelsRegistration
{
#pragma warning disable CA2255 // registration next to the loader is the registry's design (Registry.cs)
    [ModuleInitializer]
    internal static void Register()
    {
        foreach (var spec in FashionModels.All)
        {
            var s = spec;
            ModelRegistry.Register(new ModelEntry(s.Name, s.Task, s.Dataset, (FashionModels.InputSide, FashionModels.InputSide), FashionItems.ClassNames,
                s.HeldOutText, () => FashionModels.Available(s), FashionModels.TrainHint.Replace("NAME", s.Name), () => FashionModels.Load(s)));
        }
    }
#pragma warning restore CA2255
}
