using System.Collections;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using TorchSharp;
using XaiLab.Imaging.Data;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models;

/// <summary>
/// The thesis' benchmark models (§2.7.3, Table 2.1): TorchRay's VGG16 and ResNet50 fine-tuned on VOC07 (20 classes) and
/// COCO14 (80 classes) — multi-label, sigmoid — and TorchVision's ImageNet VGG16 and ResNet50 (1000 classes, softmax).
/// Weight files live under a data root's <c>models/</c> folder (<see cref="DataLocations"/>), as written by
/// <c>data-scripts/fetch-weights.sh</c>: <c>vgg16_voc.pth</c>, <c>resnet50_voc.pth</c>, <c>vgg16_coco.pth</c>,
/// <c>resnet50_coco.pth</c>, <c>vgg16_imagenet.pth</c>, <c>resnet50_imagenet.pth</c> (or <c>.safetensors</c> with the same stem).
/// <para>TorchRay's files are conversions of the Caffe models of Zhang et al. (excitation backprop): BGR input channels,
/// Caffe mean subtraction on 0…255 values (<see cref="CaffeMean"/>, <see cref="CaffeStd"/>), and for ResNet50 the Caffe
/// block layout (<see cref="ResNet50"/> with <c>caffe: true</c>) with batch norm split into two entries. The converters
/// below apply TorchRay's documented fixes (channel order, key renames, reshaped classifier weights) to the original keys.</para>
/// </summary>
public static class PretrainedModels
{
    /// <summary>Caffe models: per-channel mean (R,G,B) of 0…255 ImageNet pixels, divided by 255 for images in [0,1].</summary>
    public static readonly float[] CaffeMean = { 123.68f / 255f, 116.779f / 255f, 103.939f / 255f };
    /// <summary>Caffe models see 0…255 values: std = 1/255.</summary>
    public static readonly float[] CaffeStd = { 1 / 255f, 1 / 255f, 1 / 255f };
    /// <summary>TorchVision ImageNet normalisation.</summary>
    public static readonly float[] ImageNetMean = { 0.485f, 0.456f, 0.406f };
    /// <summary>TorchVision ImageNet per-channel standard deviation (R,G,B), for images in [0,1].</summary>
    public static readonly float[] ImageNetStd = { 0.229f, 0.224f, 0.225f };

    /// <summary>The weight file <c>models/{stem}.pth</c> or <c>.safetensors</c> under a data root, or null.</summary>
    public static string? FindWeights(string stem) =>
        DataLocations.Find($"models/{stem}.pth") ?? DataLocations.Find($"models/{stem}.safetensors");

    static string RequireWeights(string stem) => FindWeights(stem)
        ?? throw new FileNotFoundException($"Weights models/{stem}.pth not found under {string.Join(", ", DataLocations.Roots)}. Get them with: bash data-scripts/fetch-weights.sh", stem + ".pth");

    // ---------------------------------------------------------------- TorchRay (Caffe) conversions

    static readonly Dictionary<string, string> VggClassifierRemap = new()
    {
        ["classifier.2.weight"] = "classifier.3.weight", ["classifier.2.bias"] = "classifier.3.bias",
        ["classifier.4.weight"] = "classifier.6.weight", ["classifier.4.bias"] = "classifier.6.bias",
    };

    /// <summary>
    /// TorchRay's VGG16 checkpoint → <see cref="Vgg16"/> names: the classifier's linear layers <c>0, 2, 4</c> become
    /// <c>0, 3, 6</c> (the checkpoint has no dropout entries), classifier weights are flattened to <c>[out, in]</c>
    /// (they may be stored convolution-shaped), and the first convolution's input channels go from BGR to RGB.
    /// The returned tensors are new; the input is not changed.
    /// </summary>
    public static Dictionary<string, Tensor> ConvertTorchRayVgg16(IReadOnlyDictionary<string, Tensor> checkpoint)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (key0, value) in checkpoint)
        {
            var key = VggClassifierRemap.GetValueOrDefault(key0, key0);
            Tensor v = value;
            if (key == "features.0.weight") v = value.flip(1);
            else if (key.StartsWith("classifier.") && key.EndsWith(".weight")) v = value.reshape(value.shape[0], -1);
            result[key] = v.alias();
        }
        return result;
    }

    static readonly Regex CaffeBn = new(@"bn(\d)\.[01]\.", RegexOptions.Compiled);
    static readonly Regex CaffeDownsample = new(@"downsample\.(\d)\.[01]\.", RegexOptions.Compiled);

    /// <summary>
    /// TorchRay's ResNet50 checkpoint → <see cref="ResNet50"/> (Caffe variant) names: batch norm stored as two entries
    /// (<c>bnK.0.running_mean/var</c> for normalisation, <c>bnK.1.weight/bias</c> for Caffe's Scale layer; likewise
    /// <c>downsample.1.0/1</c>) is merged into <c>bnK.*</c>, and the stem's input channels go from BGR to RGB.
    /// </summary>
    public static Dictionary<string, Tensor> ConvertTorchRayResNet50(IReadOnlyDictionary<string, Tensor> checkpoint)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (key0, value) in checkpoint)
        {
            var key = CaffeDownsample.Replace(CaffeBn.Replace(key0, "bn$1.", 1), "downsample.$1.", 1);
            if (result.ContainsKey(key)) throw new InvalidDataException($"Checkpoint entries '{key0}' and another both map to '{key}'.");
            result[key] = key == "conv1.weight" ? value.flip(1) : value.alias();
        }
        return result;
    }

    /// <summary>Loads TorchRay's VGG16 (Caffe max pools) from <paramref name="path"/>.</summary>
    public static Vgg16 LoadTorchRayVgg16(string path, int numClasses, int channelDivisor = 1) =>
        LoadConverted(new Vgg16(numClasses, caffeMaxPool: true, channelDivisor), path, ConvertTorchRayVgg16);

    /// <summary>Loads TorchRay's ResNet50 (Caffe layout) from <paramref name="path"/>.</summary>
    public static ResNet50 LoadTorchRayResNet50(string path, int numClasses) =>
        LoadConverted(new ResNet50(numClasses, caffe: true), path, ConvertTorchRayResNet50);

    /// <summary>Loads a TorchVision VGG16 state dict (e.g. ImageNet <c>vgg16-397923af.pth</c>).</summary>
    public static Vgg16 LoadTorchVisionVgg16(string path, int numClasses = 1000) =>
        LoadConverted(new Vgg16(numClasses), path, d => new Dictionary<string, Tensor>(d));

    /// <summary>Loads a TorchVision ResNet50 state dict (e.g. ImageNet <c>resnet50-0676ba61.pth</c>).</summary>
    public static ResNet50 LoadTorchVisionResNet50(string path, int numClasses = 1000) =>
        LoadConverted(new ResNet50(numClasses), path, d => new Dictionary<string, Tensor>(d));

    static T LoadConverted<T>(T module, string path, Func<IReadOnlyDictionary<string, Tensor>, Dictionary<string, Tensor>> convert) where T : nn.Module
    {
        using var scope = NewDisposeScope();
        try
        {
            var raw = StateDicts.Read(path);
            StateDicts.LoadInto(module, convert(raw), path);
        }
        catch { module.Dispose(); throw; }
        module.eval();
        return module;
    }

    // ---------------------------------------------------------------- classifiers and registry

    /// <summary>A TorchRay VOC/COCO model as a sigmoid <see cref="Classifier"/> with Caffe normalisation.</summary>
    public static Classifier TorchRayClassifier(string arch, string dataset, string? path = null)
    {
        var classes = dataset switch
        {
            "voc" => Voc07Dataset.Classes,
            "coco" => Coco14Dataset.Classes,
            _ => throw new ArgumentException($"TorchRay models exist for 'voc' and 'coco'; got '{dataset}'."),
        };
        path ??= RequireWeights($"{arch}_{dataset}");
        nn.Module<Tensor, Tensor> net = arch switch
        {
            "vgg16" => LoadTorchRayVgg16(path, classes.Count),
            "resnet50" => LoadTorchRayResNet50(path, classes.Count),
            _ => throw new ArgumentException($"TorchRay models exist for 'vgg16' and 'resnet50'; got '{arch}'."),
        };
        return new Classifier(net, classes, OutputActivation.Sigmoid, 3, null, CaffeMean, CaffeStd, $"{arch}-{dataset}");
    }

    /// <summary>A TorchVision ImageNet model as a softmax <see cref="Classifier"/> with ImageNet normalisation.</summary>
    public static Classifier ImageNetClassifier(string arch, string? path = null)
    {
        path ??= RequireWeights($"{arch}_imagenet");
        nn.Module<Tensor, Tensor> net = arch switch
        {
            "vgg16" => LoadTorchVisionVgg16(path),
            "resnet50" => LoadTorchVisionResNet50(path),
            _ => throw new ArgumentException($"ImageNet models: 'vgg16' or 'resnet50'; got '{arch}'."),
        };
        return new Classifier(net, ImageNetClassNames, OutputActivation.Softmax, 3, null, ImageNetMean, ImageNetStd, $"{arch}-imagenet");
    }

    /// <summary>
    /// The 1000 ImageNet class names, read from <c>models/imagenet_classes.txt</c> (one per line, written by
    /// fetch-weights.sh) when present; otherwise <c>imagenet-0 … imagenet-999</c>.
    /// </summary>
    public static readonly IReadOnlyList<string> ImageNetClassNames = new LazyNames(() =>
    {
        var f = DataLocations.Find("models/imagenet_classes.txt");
        var lines = f is null ? Array.Empty<string>() : File.ReadAllLines(f).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        return lines.Length == 1000 ? lines : Enumerable.Range(0, 1000).Select(i => $"imagenet-{i}").ToArray();
    });

    sealed class LazyNames(Func<string[]> load) : IReadOnlyList<string>
    {
        readonly Lazy<string[]> _names = new(load);
        public string this[int index] => _names.Value[index];
        public int Count => 1000;
        public IEnumerator<string> GetEnumerator() => ((IEnumerable<string>)_names.Value).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    const string Fetch = "bash data-scripts/fetch-weights.sh";

    [ModuleInitializer]
    internal static void Register()
    {
        foreach (var arch in new[] { "vgg16", "resnet50" })
        {
            foreach (var (ds, registryDataset, classes) in new[] { ("voc", "voc07-test", Voc07Dataset.Classes), ("coco", "coco14-val", Coco14Dataset.Classes) })
            {
                string stem = $"{arch}_{ds}";
                string a = arch, d = ds;
                ModelRegistry.Register(new ModelEntry($"{arch}-{ds}", "multi-label", registryDataset, (224, 224), classes, null,
                    () => FindWeights(stem) is not null, Fetch, () => TorchRayClassifier(a, d)));
            }
            string archI = arch;
            ModelRegistry.Register(new ModelEntry($"{arch}-imagenet", "single-label", "imagenet", (224, 224), ImageNetClassNames, null,
                () => FindWeights($"{archI}_imagenet") is not null, Fetch, () => ImageNetClassifier(archI)));
        }
    }
}
