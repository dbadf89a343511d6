using TorchSharp;
using Xunit.Abstractions;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Imaging.Models;
using XaiLab.Imaging.Models.Onnx;
using static TorchSharp.torch;

namespace XaiLab.Tests.Pretrained;

/// <summary>
/// <c>fashion-resnet18</c>: the ImageNet ResNet18 backbone (frozen) with the committed linear head trained on Fashion scenes.
/// </summary>
[Trait("Category", "Unit")]
public class FashionResNet18Tests : IDisposable
{
    readonly ITestOutputHelper _out;
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("xailab-r18");
    public FashionResNet18Tests(ITestOutputHelper output) { _out = output; Devices.EnsureNativeLoaded(); }
    public void Dispose() => _dir.Delete(true);

    static readonly Lazy<Classifier> Model = new(() => ModelRegistry.Load(FashionResNet18.Name));

    static Tensor Scenes(int count, int first = 0)
    {
        var (images, labels) = new FashionScenes(FashionSceneKind.SingleLabel, "test").Batch(Enumerable.Range(first, count).ToArray());
        labels.Dispose();
        return images;
    }

    [Fact]
    public void Registry_entry_describes_the_model_and_it_loads()
    {
        var e = ModelRegistry.Get("fashion-resnet18");
        Assert.Equal("single-label", e.Task);
        Assert.Equal("fashion-scenes", e.Dataset);
        Assert.Equal((128, 128), e.InputSize);
        Assert.Equal(FashionItems.ClassNames, e.ClassNames);
        Assert.Equal(FashionResNet18.HeldOutText, e.HeldOutMetric);
        Assert.Matches(@"^accuracy 0\.\d{3} on fashion-scenes/test \(2000 scenes\)$", e.HeldOutMetric!);
        Assert.True(e.IsAvailable(), "the head is committed and the ONNX backbone comes with the test project's NuGet package");

        var m = Model.Value;
        Assert.Equal("fashion-resnet18", m.Name);
        Assert.Equal(OutputActivation.Softmax, m.Activation);
        Assert.Equal((128, 128), m.InputSize);
        var net = Assert.IsType<ResNet18Classifier>(m.Network);
        Assert.Equal(10, net.NumClasses);
        Assert.Equal(new[] { 2, 2, 2, 3 }, net.Backbone.BlocksPerStage);
        using var x = Scenes(2);
        using var _ = no_grad();
        using var s = m.Scores(x);
        Assert.Equal(new long[] { 2, 10 }, s.shape);
        using var sums = s.sum(1);
        Assert.All(sums.data<float>().ToArray(), v => Assert.InRange(v, 0.9999f, 1.0001f));
        Assert.Throws<ArgumentException>(() => m.Logits(zeros(1, 3, 224, 224)));
    }

    [Fact]
    public void Accuracy_on_the_first_200_test_scenes_is_near_the_stated_figure()
    {
        var r = XaiLab.Imaging.Models.Evaluation.Evaluate(Model.Value, new FashionScenes(FashionSceneKind.SingleLabel, "test"), "test", limit: 200, batchSize: 50);
        _out.WriteLine($"first 200 test scenes: accuracy {r.Value:0.000} ({r.Duration.TotalSeconds:0.0}s); stated {FashionResNet18.HeldOutAccuracy:0.000} on 2000");
        Assert.Equal(200, r.Images);
        // The binomial standard error of 200 scenes is about 3.5 points: two of them either side.
        Assert.InRange(r.Value, FashionResNet18.HeldOutAccuracy - 0.07, FashionResNet18.HeldOutAccuracy + 0.07);
        Assert.True(r.Value > 0.25, $"accuracy {r.Value:0.000} should be far above chance (0.1)");
    }

    [Fact]
    public void Backbone_is_frozen_and_equals_the_plain_pretrained_backbone()
    {
        var m = Model.Value;
        var net = (ResNet18Classifier)m.Network;
        Assert.True(net.BackboneFrozen);
        Assert.All(net.Backbone.parameters(), p => Assert.False(p.requires_grad));
        Assert.All(net.Head.parameters(), p => Assert.True(p.requires_grad));

        using var plain = ResNet18Onnx.LoadBackbone();
        using var x = Scenes(3, first: 10);
        using var xr = x.detach().clone().requires_grad_(true);
        net.train(); // a frozen backbone keeps evaluation-mode batch norm even so
        try
        {
            Assert.False(net.Backbone.training);
            using var logits = m.Logits(xr);
            using var ours = FashionResNet18.Features(net.Backbone, x);
            using var reference = FashionResNet18.Features(plain, x);
            using var d = (ours - reference).abs().max();
            Assert.True(d.item<float>() <= 1e-5f, $"features differ by {d.item<float>()}");
            // The classifier path (normalisation inside the wrapper) equals head(features): the training path.
            using (no_grad())
            {
                using var viaFeatures = net.Head.forward(reference);
                using var dl = (logits - viaFeatures).abs().max();
                Assert.True(dl.item<float>() < 1e-4f, $"logits differ from head(features) by {dl.item<float>()}");
            }
            // Gradients reach the input and the head, never the backbone.
            logits[.., 3].sum().backward();
            Assert.NotNull(xr.grad);
            Assert.True(xr.grad!.abs().sum().item<float>() > 0);
            Assert.All(net.Backbone.parameters(), p => Assert.Null(p.grad));
            Assert.NotNull(net.Head.weight!.grad);
        }
        finally
        {
            net.Head.zero_grad();
            net.eval();
        }
    }

    [Fact]
    public void A_truncated_head_file_fails_naming_it()
    {
        var bytes = File.ReadAllBytes(FashionResNet18.HeadPath);
        var path = Path.Combine(_dir.FullName, "cut-head.dat");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => FashionResNet18.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);

        File.WriteAllBytes(path, bytes[..5]);
        e = Assert.Throws<InvalidDataException>(() => FashionResNet18.LoadHead(path));
        Assert.Contains(path, e.Message);

        var missing = Path.Combine(_dir.FullName, "none.dat");
        var nf = Assert.Throws<FileNotFoundException>(() => FashionResNet18.Load(missing));
        Assert.Contains(missing, nf.Message);
        Assert.Contains("train-resnet18-head.sh", nf.Message);

        var wrong = Path.Combine(_dir.FullName, "five.dat");
        using (var five = nn.Linear(512, 5)) five.save(wrong);
        e = Assert.Throws<InvalidDataException>(() => FashionResNet18.LoadHead(wrong));
        Assert.Contains(wrong, e.Message);
        Assert.Contains("[5,512]", e.Message);
    }

    [Fact]
    public void The_committed_head_is_small_and_loads_bit_exactly()
    {
        var info = new FileInfo(FashionResNet18.HeadPath);
        Assert.InRange(info.Length, 10 * 513 * 4, 10 * 513 * 4 + 200);
        using var head = FashionResNet18.LoadHead(info.FullName);
        Assert.Equal(new long[] { 10, 512 }, head.weight!.shape);
        Assert.True(head.weight.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void FitHead_folds_the_standardisation_back_exactly()
    {
        // Features with very different scales and offsets per dimension, as the backbone's are.
        using var gen = new Generator(7);
        using var scale = rand(new long[] { 512 }, generator: gen) * 5 + 0.1;
        using var offset = rand(new long[] { 512 }, generator: gen) * 3;
        using var f = randn(new long[] { 300, 512 }, generator: gen) * scale + offset;
        using var y = randint(0, 10, new long[] { 300 }, generator: gen);
        using var init = nn.Linear(512, 10);
        // A negligible step: the fitted head must be the initial one mapped to z-space and back (identity).
        var (same, _) = FashionResNet18.FitHead(f, y, init, l2: 0, steps: 1, lr: 1e-12);
        using (same)
        using (no_grad())
        {
            using var dw = (same.weight! - init.weight!).abs().max();
            using var db = (same.bias! - init.bias!).abs().max();
            Assert.True(dw.item<float>() < 1e-5f && db.item<float>() < 1e-4f, $"weights moved {dw.item<float>()}, bias {db.item<float>()}");
        }
    }

    [Fact]
    public void FitHead_separates_separable_classes_and_L2_shrinks_the_weights()
    {
        // Ten Gaussian blobs in 512 dimensions with distinct means: a linear head separates them.
        using var gen = new Generator(11);
        using var means = randn(new long[] { 10, 512 }, generator: gen) * 2;
        using var y = arange(0, 10, dtype: int64).repeat(40);
        using var f = means.index_select(0, y) + randn(new long[] { 400, 512 }, generator: gen) + 4;
        using var init = nn.Linear(512, 10);
        var (weak, lossWeak) = FashionResNet18.FitHead(f, y, init, l2: 1e-3, steps: 200, lr: 0.05);
        var (strong, lossStrong) = FashionResNet18.FitHead(f, y, init, l2: 1.0, steps: 200, lr: 0.05);
        using (weak)
        using (strong)
        {
            Assert.Equal(1.0, FashionResNet18.Accuracy(weak, f, y).Accuracy);
            Assert.True(lossWeak < 0.05, $"cross-entropy {lossWeak} on separable data");
            Assert.True(lossStrong > lossWeak, "a larger L2 penalty trades cross-entropy for smaller weights");
            using var nw = weak.weight!.norm();
            using var ns = strong.weight!.norm();
            Assert.True(ns.item<float>() < nw.item<float>());
            var (acc, perClass) = FashionResNet18.Accuracy(strong, f, y);
            Assert.Equal(10, perClass.Length);
            Assert.Equal(acc, perClass.Average(), 9);
        }
    }
}
