using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Imaging.Models;
using static TorchSharp.torch;

namespace XaiLab.Tests.Data;

[Trait("Category", "Unit")]
public class SceneResNetTests
{
    static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"xailab-scene-{Guid.NewGuid():N}-{name}");

    [Fact]
    public void ArchitectureHasTheStatedSizeShapesAndNormalisationInside()
    {
        var spec = SceneModels.Find("fashion-resnet-224")!;
        using var net = SceneModels.Build(spec);
        long parameters = net.parameters().Sum(p => p.numel());
        Assert.Equal(2_806_600, parameters); // ≥ 1 M; fp16 storage ≈ 5.6 MB
        using var classifier = SceneModels.Wrap(spec, SceneModels.Build(spec));
        Assert.Equal(OutputActivation.Sigmoid, classifier.Activation);
        Assert.Equal((224, 224), classifier.InputSize);
        Assert.Equal(8, classifier.NumClasses);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gen = new Generator(7);
        var x = rand(new long[] { 1, 3, 224, 224 }, generator: gen);
        Assert.Equal(new long[] { 1, 8 }, classifier.Logits(x).shape);
        // layer4 (Grad-CAM's layer) is 7×7 with 256 channels.
        var inner = (SceneResNet)classifier.Network;
        Tensor? seen = null;
        var hook = inner.Layer4.register_forward_hook((_, _, o) => { seen = o.alias().DetachFromDisposeScope(); return o; });
        classifier.Logits(x);
        hook.remove();
        Assert.Equal(new long[] { 1, 256, 7, 7 }, seen!.shape);
        seen.Dispose();
        // Normalisation is inside: the network sees (x − mean)/std.
        var mean = tensor(SceneModels.Mean).reshape(1, 3, 1, 1); var std = tensor(SceneModels.Std).reshape(1, 3, 1, 1);
        Assert.True(classifier.Logits(x).allclose(inner.forward((x - mean) / std), 1e-5, 1e-5));
        Assert.Contains("224×224", Assert.Throws<ArgumentException>(() => classifier.Logits(zeros(1, 3, 128, 128))).Message);
    }

    [Fact]
    public void HalfPrecisionWeightsRoundTripExactlyAndAreValidated()
    {
        var spec = new SceneModelSpec("scene-test", 8, null);
        using var net = SceneModels.Build(spec);
        SceneModels.RoundToHalf(net);
        var path = Temp("w.dat");
        try
        {
            SceneModels.SaveHalf(net, path);
            long parameters = net.state_dict().Values.Where(t => t.is_floating_point()).Sum(t => t.numel());
            long bytes = new FileInfo(path).Length;
            Assert.InRange(bytes, 2 * parameters, 2 * parameters + 40_000); // 2 bytes per value plus headers and BN counters
            Assert.Equal(ScalarType.Float32, net.parameters().First().dtype); // saving leaves the module fp32
            using var loaded = SceneModels.Load(spec, path);
            var a = net.state_dict(); var b = loaded.Network.state_dict();
            foreach (var (name, t) in a)
            {
                Assert.Equal(t.dtype, b[name].dtype);
                Assert.True(t.eq(b[name]).all().item<bool>(), $"{name} differs after the fp16 round trip");
            }
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            net.eval();
            var x = rand(new long[] { 1, 3, 224, 224 }, generator: new Generator(3));
            var wrapped = SceneModels.Wrap(spec, net);
            Assert.True(wrapped.Logits(x).eq(loaded.Logits(x)).all().item<bool>());

            // A file of another width names the tensor; a truncated one says so.
            var wide = Temp("wide.dat");
            using (var other = new SceneResNet(8, 16)) SceneModels.SaveHalf(other, wide);
            Assert.Contains("shape", Assert.Throws<InvalidDataException>(() => SceneModels.Load(spec, wide)).Message);
            File.Delete(wide);
            var cut = Temp("cut.dat");
            File.WriteAllBytes(cut, File.ReadAllBytes(path)[..(int)(bytes / 2)]);
            Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => SceneModels.Load(spec, cut)).Message);
            File.Delete(cut);
            // fp32 files (the 128-px models' format) are not accepted silently.
            var full = Temp("fp32.dat");
            net.save(full);
            Assert.Contains("fp16", Assert.Throws<InvalidDataException>(() => SceneModels.Load(spec, full)).Message);
            File.Delete(full);
            Assert.Contains("train-scenes224.sh", Assert.Throws<FileNotFoundException>(() => SceneModels.Load(spec, Temp("missing.dat"))).Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TrainingRunsEndToEndAndLowersTheLoss()
    {
        // A narrow net (width 8) on 2 × 16 scenes: checks the route (render → BCE → AdamW → fp16 save → test mAP), not the accuracy.
        var spec = new SceneModelSpec("scene-train-test", 8, null);
        var path = Temp("trained.dat");
        try
        {
            var o = new FashionTrainingOptions { Epochs = 2, ScenesPerEpoch = 16, BatchSize = 8, ValScenes = 4, TestScenes = 8, LearningRate = 3e-3, Seed = 1,
                Threads = torch.get_num_threads() }; // unchanged for the tests that share the process
            var lines = new List<string>();
            var r = SceneTraining.Train(spec, o, lines.Add, path, FashionScenes224Tests.Pool.Value);
            Assert.Equal(2, r.Epochs.Count);
            Assert.True(r.Epochs[1].Loss < r.Epochs[0].Loss, $"loss {r.Epochs[0].Loss:F4} → {r.Epochs[1].Loss:F4}");
            Assert.Equal("mAP", r.Test.Metric);
            Assert.Equal(8, r.Test.Images);
            Assert.InRange(r.Test.Value, 0, 1);
            Assert.True(File.Exists(Path.ChangeExtension(path, ".json")));
            using var loaded = SceneModels.Load(spec, path);
            var again = XaiLab.Imaging.Models.Evaluation.Evaluate(loaded, new FashionScenes224("test"), "test", 8);
            Assert.Equal(r.Test.Value, again.Value, 6); // the reported figure is that of the stored fp16 weights
            Assert.Contains(lines, l => l.Contains("saved"));
        }
        finally { File.Delete(path); File.Delete(Path.ChangeExtension(path, ".json")); }
    }
}
