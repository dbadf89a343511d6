using System.Collections;
using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.PyBridge;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Imaging.Models;
using static TorchSharp.torch;

namespace XaiLab.Tests.Pretrained;

/// <summary>
/// VGG16/ResNet50 against TorchVision's, and the PyTorch weight-file paths (TorchSharp.PyBridge save → our load),
/// including TorchRay's Caffe checkpoint layout and the registry entries.
/// </summary>
[Trait("Category", "Unit")]
public class ModelZooTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("xailab-models");
    public ModelZooTests() => Devices.EnsureNativeLoaded();
    public void Dispose() => _dir.Delete(true);

    static void RandomiseBatchNorm(nn.Module m, long seed)
    {
        using var gen = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (name, t) in m.state_dict())
        {
            if (name.EndsWith("running_mean")) t.copy_(randn(t.shape, generator: gen) * 0.1);
            else if (name.EndsWith("running_var")) t.copy_(rand(t.shape, generator: gen) + 0.5);
            else if (name.Contains("bn") && name.EndsWith(".bias")) t.copy_(randn(t.shape, generator: gen) * 0.1);
        }
    }

    static float MaxDiff(nn.Module<Tensor, Tensor> a, nn.Module<Tensor, Tensor> b, long[] shape, long seed = 3)
    {
        using var gen = new Generator((ulong)seed);
        using var x = randn(shape, generator: gen);
        using var _ = no_grad();
        a.eval(); b.eval();
        using var ya = a.forward(x);
        using var yb = b.forward(x);
        Assert.Equal(ya.shape, yb.shape);
        return (ya - yb).abs().max().item<float>();
    }

    [Fact]
    public void ResNet50_saved_by_PyBridge_from_TorchVision_loads_and_matches_TorchVision()
    {
        var tv = torchvision.models.resnet50(num_classes: 20);
        RandomiseBatchNorm(tv, 1);
        var path = Path.Combine(_dir.FullName, "tv_resnet50.pth");
        tv.save_py(path);
        using var ours = PretrainedModels.LoadTorchVisionResNet50(path, 20);
        Assert.Equal(tv.state_dict().Keys.OrderBy(k => k), ours.state_dict().Keys.OrderBy(k => k));
        Assert.True(MaxDiff(tv, ours, new long[] { 2, 3, 64, 64 }) < 1e-4f);
        tv.Dispose();
    }

    [Fact]
    public void Vgg16_has_TorchVision_names_and_shapes_and_computes_the_same()
    {
        var tv = torchvision.models.vgg16();
        using var ours = new Vgg16();
        var a = tv.state_dict(); var b = ours.state_dict();
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        foreach (var (k, t) in a) Assert.Equal(t.shape, b[k].shape);
        StateDicts.LoadInto(ours, a, "torchvision vgg16");
        Assert.True(MaxDiff(tv, ours, new long[] { 1, 3, 32, 32 }) < 1e-4f);
        tv.Dispose();
    }

    [Fact]
    public void TorchRay_ResNet50_checkpoint_layout_is_converted()
    {
        // Build the Caffe-style checkpoint from a known model: BN split into normalisation (.0) and Scale (.1),
        // the stem in BGR order. Loading it must give back the same network.
        using var reference = new ResNet50(20, caffe: true);
        RandomiseBatchNorm(reference, 2);
        var checkpoint = new Hashtable();
        var bn = new Regex(@"^(.*(?:bn\d|downsample\.1))\.(weight|bias|running_mean|running_var|num_batches_tracked)$");
        foreach (var (name, t) in reference.state_dict())
        {
            var m = bn.Match(name);
            string key = !m.Success ? name
                : m.Groups[2].Value is "weight" or "bias" ? $"{m.Groups[1].Value}.1.{m.Groups[2].Value}"
                : $"{m.Groups[1].Value}.0.{m.Groups[2].Value}";
            checkpoint[key] = name == "conv1.weight" ? t.flip(1) : t.clone();
        }
        Assert.True(checkpoint.ContainsKey("layer2.0.downsample.1.0.running_var"));
        Assert.True(checkpoint.ContainsKey("layer2.0.bn3.1.weight"));
        var path = Path.Combine(_dir.FullName, "resnet50_voc.pth");
        PyTorchPickler.PickleStateDict(path, checkpoint);

        using var loaded = PretrainedModels.LoadTorchRayResNet50(path, 20);
        Assert.True(loaded.Caffe);
        Assert.True(MaxDiff(reference, loaded, new long[] { 1, 3, 96, 96 }) < 1e-5f);
        // The stem's channels were swapped back: red input weights equal the checkpoint's third (blue-order) channel.
        var stem = (Tensor)checkpoint["conv1.weight"]!;
        Assert.Equal(0f, (loaded.state_dict()["conv1.weight"][.., 0] - stem[.., 2]).abs().max().item<float>());
    }

    [Fact]
    public void Caffe_ResNet50_strides_the_first_conv_and_rounds_the_pool_up()
    {
        using var caffe = new ResNet50(5, caffe: true);
        using var tvStyle = new ResNet50(5);
        Assert.True(caffe.state_dict().ContainsKey("conv1.bias"));
        Assert.False(tvStyle.state_dict().ContainsKey("conv1.bias"));
        var c = caffe.named_modules().ToDictionary(m => m.name, m => m.module);
        var t = tvStyle.named_modules().ToDictionary(m => m.name, m => m.module);
        using var _ = no_grad();
        Tensor Run(Dictionary<string, nn.Module> mods, string name, params long[] shape) =>
            ((nn.Module<Tensor, Tensor>)mods[name]).forward(zeros(shape));
        // Caffe: the 1×1 convolution halves the size, the 3×3 keeps it; TorchVision the other way round.
        Assert.Equal(28, Run(c, "layer2.0.conv1", 1, 256, 56, 56).shape[2]);
        Assert.Equal(56, Run(t, "layer2.0.conv1", 1, 256, 56, 56).shape[2]);
        Assert.Equal(28, Run(c, "layer2.0.conv2", 1, 128, 28, 28).shape[2]);
        Assert.Equal(28, Run(t, "layer2.0.conv2", 1, 128, 56, 56).shape[2]);
        // Max pool: no padding and ceil mode gives ⌈(111−3)/2⌉+1 = 55 rows; TorchVision's ⌊(111+2−3)/2⌋+1 = 56.
        Assert.Equal(55, Run(c, "maxpool", 1, 64, 111, 111).shape[2]);
        Assert.Equal(56, Run(t, "maxpool", 1, 64, 111, 111).shape[2]);
        Assert.Equal(56, Run(c, "maxpool", 1, 64, 112, 112).shape[2]);
    }

    [Fact]
    public void TorchRay_VGG16_checkpoint_layout_is_converted()
    {
        using var reference = new Vgg16(20, caffeMaxPool: true, channelDivisor: 16);
        var checkpoint = new Hashtable();
        foreach (var (name, t) in reference.state_dict())
        {
            string key = name.Replace("classifier.3.", "classifier.2.").Replace("classifier.6.", "classifier.4.");
            Tensor v = name == "features.0.weight" ? t.flip(1)
                : name == "classifier.0.weight" ? t.reshape(t.shape[0], 512 / 16, 7, 7)   // stored convolution-shaped
                : t.clone();
            checkpoint[key] = v;
        }
        var path = Path.Combine(_dir.FullName, "vgg16_voc.pth");
        PyTorchPickler.PickleStateDict(path, checkpoint);
        using var loaded = PretrainedModels.LoadTorchRayVgg16(path, 20, channelDivisor: 16);
        Assert.True(loaded.CaffeMaxPool);
        Assert.True(MaxDiff(reference, loaded, new long[] { 2, 3, 64, 64 }) < 1e-5f);
    }

    [Fact]
    public void Wrong_shape_names_the_file_and_the_parameter()
    {
        using var ten = new Vgg16(10, channelDivisor: 16);
        var path = Path.Combine(_dir.FullName, "ten_classes.pth");
        ten.save_py(path);
        var e = Assert.Throws<InvalidDataException>(() => PretrainedModels.LoadTorchRayVgg16(path, 20, channelDivisor: 16));
        Assert.Contains(path, e.Message);
        Assert.Contains("'classifier.6.weight'", e.Message);
        Assert.Contains("[10,256]", e.Message);
        Assert.Contains("[20,256]", e.Message);
    }

    [Fact]
    public void Missing_and_unexpected_entries_are_named()
    {
        using var m = new Vgg16(3, channelDivisor: 16);
        var state = m.state_dict().Where(kv => kv.Key != "features.2.bias").ToDictionary(kv => kv.Key, kv => kv.Value);
        var e = Assert.Throws<InvalidDataException>(() => StateDicts.LoadInto(m, state, "some.pth"));
        Assert.Contains("some.pth", e.Message);
        Assert.Contains("'features.2.bias'", e.Message);
        var extra = m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        extra["head.weight"] = zeros(2);
        Assert.Contains("'head.weight'", Assert.Throws<InvalidDataException>(() => StateDicts.LoadInto(m, extra, "x.pth")).Message);
        StateDicts.LoadInto(m, extra, "x.pth", strict: false);
    }

    [Fact]
    public void Garbage_files_are_reported_with_their_path()
    {
        var path = Path.Combine(_dir.FullName, "garbage.pth");
        File.WriteAllBytes(path, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 });
        var e = Assert.Throws<InvalidDataException>(() => StateDicts.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("fetch-weights.sh", e.Message);
        Assert.Throws<FileNotFoundException>(() => StateDicts.Read(Path.Combine(_dir.FullName, "none.pth")));
    }

    [Fact]
    public void Safetensors_round_trip()
    {
        using var a = new Vgg16(4, channelDivisor: 16);
        var path = Path.Combine(_dir.FullName, "small.safetensors");
        a.save_safetensors(path);
        using var b = new Vgg16(4, channelDivisor: 16);
        StateDicts.Load(b, path);
        Assert.Equal(0f, MaxDiff(a, b, new long[] { 1, 3, 32, 32 }));
    }
}

/// <summary>
/// The registry's data-root lookup through <c>XAILAB_DATA</c>: the one test that sets a process environment variable (the
/// registry has no other way to be pointed at a folder), so it runs in the non-parallel "process-environment" collection.
/// </summary>
[Collection(SerialCollections.ProcessEnvironment)]
[Trait("Category", "Unit")]
public class ModelRegistryDataRootTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("xailab-models");
    public ModelRegistryDataRootTests() => Devices.EnsureNativeLoaded();
    public void Dispose() => _dir.Delete(true);

    [Fact]
    public void Registry_lists_the_thesis_models_and_loads_one_from_the_data_folder()
    {
        foreach (var (name, k, task) in new[] { ("vgg16-voc", 20, "multi-label"), ("resnet50-voc", 20, "multi-label"), ("vgg16-coco", 80, "multi-label"),
                                               ("resnet50-coco", 80, "multi-label"), ("resnet50-imagenet", 1000, "single-label") })
        {
            var e = ModelRegistry.Get(name);
            Assert.Equal(k, e.ClassNames.Count);
            Assert.Equal(task, e.Task);
            Assert.Equal("bash data-scripts/fetch-weights.sh", e.FetchHint);
        }

        // A data root with models/resnet50_voc.pth in TorchRay's layout makes 'resnet50-voc' available.
        using var reference = new ResNet50(20, caffe: true);
        var checkpoint = new Hashtable();
        foreach (var (name, t) in reference.state_dict())
        {
            var key = Regex.Replace(name, @"^(.*(?:bn\d|downsample\.1))\.(weight|bias)$", "$1.1.$2");
            key = Regex.Replace(key, @"^(.*(?:bn\d|downsample\.1))\.(running_mean|running_var|num_batches_tracked)$", "$1.0.$2");
            checkpoint[key] = name == "conv1.weight" ? t.flip(1) : t.clone();
        }
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "models"));
        PyTorchPickler.PickleStateDict(Path.Combine(_dir.FullName, "models", "resnet50_voc.pth"), checkpoint);
        var old = Environment.GetEnvironmentVariable(DataLocations.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(DataLocations.EnvironmentVariable, _dir.FullName);
            Assert.True(ModelRegistry.Get("resnet50-voc").IsAvailable());
            using var clf = ModelRegistry.Load("resnet50-voc");
            Assert.Equal(OutputActivation.Sigmoid, clf.Activation);
            Assert.Equal("dog", clf.ClassNames[11]);
            using var gen = new Generator(9);
            using var image = rand(new long[] { 1, 3, 64, 64 }, generator: gen);
            using var _ = no_grad();
            using var logits = clf.Logits(image);
            reference.eval();
            using var mean = tensor(new[] { 123.68f, 116.779f, 103.939f }, new long[] { 1, 3, 1, 1 });
            using var expected = reference.forward(image * 255f - mean);
            Assert.True((logits - expected).abs().max().item<float>() < 1e-3f);
        }
        finally { Environment.SetEnvironmentVariable(DataLocations.EnvironmentVariable, old); }
    }
}
