using TorchSharp;
using XaiLab.Imaging.Data;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models.Onnx;

/// <summary>What <see cref="ResNet18Onnx.Analyse"/> reads from an ONNX ResNet graph.</summary>
/// <param name="Names">TorchVision state-dict name → ONNX initializer name.</param>
/// <param name="BlocksPerStage">Basic blocks in each of the four stages.</param>
/// <param name="Padding">Padding style of the strided layers.</param>
public sealed record ResNetOnnxLayout(IReadOnlyDictionary<string, string> Names, int[] BlocksPerStage, ResNetPadding Padding);

/// <summary>
/// Imports the ImageNet-trained ResNet18 backbone shipped as ONNX by the NuGet package
/// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> (a CNTK 2.6 export, opset 8, no class head) into
/// <see cref="ResNet18Backbone"/>.
/// <para>What the file holds (read from its graph): input <c>[1,3,224,224]</c>, output <c>[1,512,1,1]</c> after a
/// 7×7 average pool; basic blocks [2,2,2,3] per stage (one block more in the last stage than TorchVision's resnet18:
/// 22 convolutions, 15.9 M parameters) without conv bias, each followed by a separate <c>BatchNormalization</c> node
/// (batch norm is <b>not</b> fused; ε = 1e-5, as in TorchVision) with scale, bias, running mean and running variance
/// as initializers. The stride-2 convolutions and the max pool pad asymmetrically (CNTK: 3/2 for the 7×7 stem,
/// 1/0 for the 3×3 layers); for even input sizes, such as 224, this gives exactly TorchVision's symmetric padding
/// (the extra right/bottom padding is never reached); the backbone reproduces it exactly for any size
/// (<see cref="ResNetPadding.Cntk"/>). The ONNX graph itself only accepts 224×224; the backbone pools globally and takes any size.</para>
/// <para>Input convention: the companion <c>ResNetPreprocess.onnx</c> of the package takes RGB in 0…255, swaps to
/// BGR and subtracts a per-pixel ImageNet mean image. The import swaps the first convolution's input channels so the
/// backbone takes RGB, and the classifier normalisation is <c>(255·x − mean_c)</c>, i.e. mean = mean_c/255 and
/// std = 1/255 per channel, with mean_c the channel averages of that mean image (<see cref="ChannelMeanRgb"/>).
/// The mean image varies by a few grey levels over the image (std 3–6 of 255); using its channel averages makes the
/// backbone size-agnostic at that small cost.</para>
/// </summary>
public static class ResNet18Onnx
{
    /// <summary>File name of the ResNet18 backbone graph inside the NuGet package.</summary>
    public const string FileName = "ResNet18.onnx";
    /// <summary>File name of the preprocessing graph (the mean image subtracted before the backbone) inside the package.</summary>
    public const string PreprocessFileName = "ResNetPreprocess.onnx";
    /// <summary>NuGet package id (lower case, as in the package cache).</summary>
    public const string PackageId = "microsoft.ml.dnnimagefeaturizer.resnet18";
    /// <summary>Environment variable naming the ONNX file explicitly.</summary>
    public const string EnvironmentVariable = "XAILAB_RESNET18_ONNX";

    /// <summary>
    /// Channel means (R,G,B) in 0…255 of the package's ImageNet mean image (<c>ResNetPreprocess.onnx</c>, initializer
    /// <c>MeanImage</c>, stored BGR; the test suite re-reads them from the file).
    /// </summary>
    public static readonly float[] ChannelMeanRgb = { 123.15163f, 115.902885f, 103.06262f };

    /// <summary>Classifier normalisation for images in [0,1]: mean = <see cref="ChannelMeanRgb"/>/255.</summary>
    public static float[] NormalisationMean => ChannelMeanRgb.Select(m => m / 255f).ToArray();

    /// <summary>Classifier normalisation: std = 1/255 (the network sees 0…255 grey levels minus the mean).</summary>
    public static float[] NormalisationStd => new[] { 1 / 255f, 1 / 255f, 1 / 255f };

    /// <summary>
    /// Places searched for <paramref name="fileName"/>, in order: <c>$XAILAB_RESNET18_ONNX</c> (for the backbone file),
    /// the application folder (<c>DnnImageModels/…</c>, where the package's build props copy it), the data roots
    /// (<c>models/</c>), and the NuGet package cache (<c>$NUGET_PACKAGES</c> or <c>~/.nuget/packages</c>, newest version first).
    /// </summary>
    public static IReadOnlyList<string> CandidatePaths(string fileName = FileName)
    {
        var sub = fileName == PreprocessFileName ? "ResNetPrepOnnx" : "ResNet18Onnx";
        var list = new List<string>();
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env))
            list.Add(fileName == FileName ? env : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(env))!, fileName));
        list.Add(Path.Combine(AppContext.BaseDirectory, "DnnImageModels", sub, fileName));
        list.AddRange(DataLocations.Roots.Select(r => Path.Combine(r, "models", fileName)));
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrWhiteSpace(cache))
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var pkg = Path.Combine(cache, PackageId);
        if (Directory.Exists(pkg))
            foreach (var v in Directory.GetDirectories(pkg).OrderByDescending(d => Version.TryParse(Path.GetFileName(d), out var ver) ? ver : new Version()))
                list.Add(Path.Combine(v, "tools", "DnnImageModels", sub, fileName));
        return list;
    }

    /// <summary>The first existing candidate (see <see cref="CandidatePaths"/>).</summary>
    /// <exception cref="FileNotFoundException">None exists; the message lists where it looked and how to get the file.</exception>
    public static string Locate(string fileName = FileName)
    {
        var candidates = CandidatePaths(fileName);
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException(
                $"{fileName} not found. It ships in the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (restore the test project, " +
                $"or set {EnvironmentVariable}). Looked in: {string.Join("; ", candidates)}", fileName);
    }

    /// <summary>Loads the pretrained backbone from <paramref name="path"/> (default: <see cref="Locate"/>).</summary>
    public static ResNet18Backbone LoadBackbone(string? path = null)
    {
        var model = OnnxReader.Read(path ?? Locate());
        var layout = Analyse(model);
        var backbone = new ResNet18Backbone(layout.BlocksPerStage, layout.Padding);
        try { LoadInto(backbone, model); }
        catch { backbone.Dispose(); throw; }
        backbone.eval();
        return backbone;
    }

    /// <summary>
    /// A <see cref="Classifier"/> over a pretrained backbone with a fresh linear head (see
    /// <see cref="ResNet18Classifier.WithLinearHead"/>), carrying the normalisation the ONNX network expects.
    /// </summary>
    public static Classifier CreateClassifier(IReadOnlyList<string> classNames, OutputActivation activation, long headSeed = 0,
        bool freezeBackbone = true, string? onnxPath = null, string name = "resnet18")
    {
        var model = ResNet18Classifier.WithLinearHead(LoadBackbone(onnxPath), classNames.Count, headSeed).FreezeBackbone(freezeBackbone);
        return Wrap(model, classNames, activation, name);
    }

    /// <summary>Wraps a ResNet18 classifier with this backbone's normalisation (<see cref="NormalisationMean"/>, <see cref="NormalisationStd"/>).</summary>
    public static Classifier Wrap(ResNet18Classifier model, IReadOnlyList<string> classNames, OutputActivation activation, string name = "resnet18")
    {
        if (classNames.Count != model.NumClasses)
            throw new ArgumentException($"{classNames.Count} class names for a head with {model.NumClasses} outputs.");
        return new Classifier(model, classNames, activation, 3, null, NormalisationMean, NormalisationStd, name);
    }

    /// <summary>
    /// Reads the network's layout from the graph's structure: the stem (Conv → BatchNormalization → Relu → MaxPool) and,
    /// for each residual <c>Add</c> in order, its main branch (Conv → BN → Relu → Conv → BN) and its shortcut (identity,
    /// or a 1×1 Conv → BN downsample, which opens a new stage). Gives TorchVision state-dict names for the ONNX
    /// initializers, the blocks per stage, and the padding style (checked on every strided layer).
    /// </summary>
    /// <exception cref="InvalidDataException">The graph is not a basic-block ResNet of this kind; the message says where it differs.</exception>
    public static ResNetOnnxLayout Analyse(OnnxModel model)
    {
        var g = model.Graph;
        var producer = new Dictionary<string, OnnxNode>();
        foreach (var n in g.Nodes) foreach (var o in n.Outputs) producer[o] = n;
        var map = new Dictionary<string, string>();
        string src = model.Source;
        var strided = new List<(OnnxNode Node, long Kernel)>();

        OnnxNode? Prod(string tensorName) => producer.TryGetValue(tensorName, out var n) ? n : null;
        OnnxNode Need(string tensorName, string op, string context)
        {
            var n = Prod(tensorName);
            if (n is null || n.OpType != op)
                throw new InvalidDataException($"{src}: not the expected ResNet graph: {context}: '{tensorName}' comes from {(n is null ? "no node" : n.OpType + " '" + n.Name + "'")}, expected {op}.");
            return n;
        }
        void ConvBn(OnnxNode conv, OnnxNode bn, string convName, string bnName)
        {
            if (conv.Inputs.Count != 2) throw new InvalidDataException($"{src}: convolution '{conv.Name}' has a bias; the ResNet layout has none.");
            float eps = bn.Float("epsilon", 1e-5f);
            if (Math.Abs(eps - 1e-5f) > 1e-7f)
                throw new InvalidDataException($"{src}: batch norm '{bn.Name}' has epsilon {eps}; TorchVision's BatchNorm2d uses 1e-5.");
            if (bn.Inputs.Count != 5) throw new InvalidDataException($"{src}: batch norm '{bn.Name}' has {bn.Inputs.Count} inputs, expected 5.");
            map[convName + ".weight"] = conv.Inputs[1];
            map[bnName + ".weight"] = bn.Inputs[1];
            map[bnName + ".bias"] = bn.Inputs[2];
            map[bnName + ".running_mean"] = bn.Inputs[3];
            map[bnName + ".running_var"] = bn.Inputs[4];
            var k = conv.Ints("kernel_shape", Array.Empty<long>());
            if (conv.Ints("strides", new long[] { 1, 1 }).Any(v => v != 1)) strided.Add((conv, k.Length > 0 ? k[0] : 1));
        }

        var adds = g.Nodes.Where(n => n.OpType == "Add").ToArray();
        if (adds.Length < 4) throw new InvalidDataException($"{src}: expected at least 4 residual additions, found {adds.Length}.");
        var blocks = new List<int> { 0 };
        for (int k = 0; k < adds.Length; k++)
        {
            var add = adds[k];
            if (add.Inputs.Count != 2) throw new InvalidDataException($"{src}: residual Add '{add.Name}' has {add.Inputs.Count} inputs.");
            int mainIdx = -1;
            for (int i = 0; i < 2; i++)
            {
                var bn = Prod(add.Inputs[i]);
                if (bn?.OpType == "BatchNormalization" && Prod(bn.Inputs[0])?.OpType == "Conv"
                    && Prod(Prod(bn.Inputs[0])!.Inputs[0])?.OpType == "Relu") { mainIdx = i; break; }
            }
            if (mainIdx < 0) throw new InvalidDataException($"{src}: residual Add '{add.Name}' has no Conv-BN-ReLU-Conv-BN branch.");
            var bn2 = Need(add.Inputs[mainIdx], "BatchNormalization", add.Name);
            var conv2 = Need(bn2.Inputs[0], "Conv", add.Name);
            var relu = Need(conv2.Inputs[0], "Relu", add.Name);
            var bn1 = Need(relu.Inputs[0], "BatchNormalization", add.Name);
            var conv1 = Need(bn1.Inputs[0], "Conv", add.Name);
            string blockInput = conv1.Inputs[0];
            var shortcut = add.Inputs[1 - mainIdx];
            bool opensStage = shortcut != blockInput;
            if (opensStage && k > 0) blocks.Add(0);
            string block = $"layer{blocks.Count}.{blocks[^1]}";
            blocks[^1]++;
            ConvBn(conv1, bn1, block + ".conv1", block + ".bn1");
            ConvBn(conv2, bn2, block + ".conv2", block + ".bn2");
            if (opensStage)
            {
                var dbn = Need(shortcut, "BatchNormalization", block + " shortcut");
                var dconv = Need(dbn.Inputs[0], "Conv", block + " shortcut");
                if (dconv.Inputs[0] != blockInput)
                    throw new InvalidDataException($"{src}: the shortcut of {block} does not start at the block input.");
                ConvBn(dconv, dbn, block + ".downsample.0", block + ".downsample.1");
            }
            if (k == 0)
            {
                var pool = Need(blockInput, "MaxPool", "stem");
                strided.Add((pool, 3));
                var srelu = Need(pool.Inputs[0], "Relu", "stem");
                var sbn = Need(srelu.Inputs[0], "BatchNormalization", "stem");
                var sconv = Need(sbn.Inputs[0], "Conv", "stem");
                if (g.DataInputs.All(i => i.Name != sconv.Inputs[0]))
                    throw new InvalidDataException($"{src}: the stem convolution does not read the graph input.");
                ConvBn(sconv, sbn, "conv1", "bn1");
            }
        }
        if (blocks.Count != 4) throw new InvalidDataException($"{src}: expected 4 stages, found {blocks.Count} (blocks [{string.Join(",", blocks)}]).");
        foreach (var (tv, onnx) in map)
            if (!g.Initializers.ContainsKey(onnx))
                throw new InvalidDataException($"{src}: '{onnx}' (for {tv}) is not an initializer of the graph.");

        // Padding of the strided layers: ONNX pads = [top, left, bottom, right]; the begin side is k/2 throughout.
        ResNetPadding? style = null;
        foreach (var (node, k) in strided)
        {
            var pads = node.Ints("pads", new long[] { 0, 0, 0, 0 });
            long begin = k / 2, end = k == 1 ? 0 : pads.Length == 4 ? pads[2] : -1;
            var here = pads.Length == 4 && pads[0] == begin && pads[1] == begin && pads[3] == end
                ? end == begin ? ResNetPadding.Symmetric : end == begin - 1 ? ResNetPadding.Cntk : (ResNetPadding?)null
                : null;
            if (here is null)
                throw new InvalidDataException($"{src}: {node.OpType} '{node.Name}' pads [{string.Join(",", pads)}]: neither symmetric nor CNTK-style for a {k}×{k} stride-2 layer.");
            if (k == 1) continue; // 1×1 downsampling pads nothing under either style
            if (style is not null && style != here)
                throw new InvalidDataException($"{src}: {node.OpType} '{node.Name}' pads [{string.Join(",", pads)}], unlike the other strided layers ({style}).");
            style = here;
        }
        return new ResNetOnnxLayout(map, blocks.ToArray(), style ?? ResNetPadding.Symmetric);
    }

    /// <summary>
    /// Copies the ONNX weights into <paramref name="backbone"/> (see <see cref="Analyse"/>), checking every
    /// shape, and swaps the stem's input channels from BGR (the file's order) to RGB.
    /// </summary>
    /// <exception cref="InvalidDataException">A shape differs or a backbone parameter has no counterpart; the message names both.</exception>
    public static void LoadInto(ResNet18Backbone backbone, OnnxModel model)
    {
        var layout = Analyse(model);
        if (!layout.BlocksPerStage.SequenceEqual(backbone.BlocksPerStage) || layout.Padding != backbone.Padding)
            throw new InvalidDataException($"{model.Source}: the file has blocks [{string.Join(",", layout.BlocksPerStage)}] with {layout.Padding} padding; " +
                                           $"the backbone was built with [{string.Join(",", backbone.BlocksPerStage)}] and {backbone.Padding} padding.");
        var map = layout.Names;
        var state = backbone.state_dict();
        var missing = state.Keys.Where(k => !k.EndsWith("num_batches_tracked") && !map.ContainsKey(k)).ToArray();
        if (missing.Length > 0)
            throw new InvalidDataException($"{model.Source}: no ONNX initializer for {string.Join(", ", missing)}.");
        using var _ = no_grad();
        foreach (var (name, onnxName) in map)
        {
            if (!state.TryGetValue(name, out var target))
                throw new InvalidDataException($"{model.Source}: mapped name '{name}' is not a ResNet18 parameter.");
            var src = model.Graph.Initializers[onnxName];
            if (!src.Dims.SequenceEqual(target.shape))
                throw new InvalidDataException($"{model.Source}: initializer '{onnxName}' has shape {src.ShapeText}, but {name} needs [{string.Join(",", target.shape)}].");
            using var t = src.ToTensor();
            if (name == "conv1.weight") { using var rgb = t.flip(1); target.copy_(rgb); }
            else target.copy_(t);
        }
    }

    /// <summary>
    /// Reads the per-channel means (R,G,B, 0…255) of the mean image in <c>ResNetPreprocess.onnx</c>, checking that the
    /// graph is the expected Split(R,G,B) → Concat(B,G,R) → Sub(MeanImage).
    /// </summary>
    public static float[] ReadChannelMeanRgb(string? preprocessPath = null)
    {
        var model = OnnxReader.Read(preprocessPath ?? Locate(PreprocessFileName));
        var g = model.Graph;
        var split = g.Nodes.FirstOrDefault(n => n.OpType == "Split");
        var concat = g.Nodes.FirstOrDefault(n => n.OpType == "Concat");
        var sub = g.Nodes.FirstOrDefault(n => n.OpType == "Sub");
        if (split is null || concat is null || sub is null || split.Outputs.Count != 3 || concat.Inputs.Count != 3)
            throw new InvalidDataException($"{model.Source}: expected Split → Concat → Sub (channel swap and mean subtraction).");
        // concat.Inputs[j] = split.Outputs[perm[j]]: the network's channel j is input channel perm[j].
        var perm = concat.Inputs.Select(i => split.Outputs.ToList().IndexOf(i)).ToArray();
        var meanName = sub.Inputs.FirstOrDefault(g.Initializers.ContainsKey)
            ?? throw new InvalidDataException($"{model.Source}: the Sub node subtracts no constant.");
        var mean = g.Initializers[meanName];
        if (mean.Dims.Length != 4 || mean.Dims[1] != 3 || mean.Floats is null)
            throw new InvalidDataException($"{model.Source}: mean image {meanName} has shape {mean.ShapeText}, expected [1,3,H,W] floats.");
        long plane = mean.Dims[2] * mean.Dims[3];
        var netMeans = Enumerable.Range(0, 3).Select(c => (float)mean.Floats.Skip((int)(c * plane)).Take((int)plane).Average(v => (double)v)).ToArray();
        var rgb = new float[3];
        for (int j = 0; j < 3; j++) rgb[perm[j]] = netMeans[j];
        return rgb;
    }
}
