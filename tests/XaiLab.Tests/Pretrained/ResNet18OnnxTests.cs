using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using Xunit.Abstractions;
using XaiLab.Imaging;
using XaiLab.Imaging.Models;
using XaiLab.Imaging.Models.Onnx;
using static TorchSharp.torch;

namespace XaiLab.Tests.Pretrained;

/// <summary>The ImageNet ResNet18 backbone from Microsoft.ML.DnnImageFeaturizer.ResNet18, imported and checked against ONNX Runtime.</summary>
[Trait("Category", "Integration")]
public class ResNet18OnnxTests
{
    readonly ITestOutputHelper _out;
    public ResNet18OnnxTests(ITestOutputHelper output) { _out = output; Devices.EnsureNativeLoaded(); }

    static readonly Lazy<OnnxModel> Model = new(() => OnnxReader.Read(ResNet18Onnx.Locate()));

    [Fact]
    public void The_package_file_is_found_and_parsed()
    {
        var m = Model.Value;
        Assert.True(m.IrVersion >= 3);
        Assert.Equal("CNTK", m.ProducerName);
        var input = Assert.Single(m.Graph.DataInputs);
        Assert.Equal(new long[] { 1, 3, 224, 224 }, input.Shape);
        Assert.Equal(new long[] { 1, 512, 1, 1 }, Assert.Single(m.Graph.Outputs).Shape);
        Assert.Equal(new long[] { 64, 3, 7, 7 }, m.Graph.Initializers.Values.Single(t => t.Dims.SequenceEqual(new long[] { 64, 3, 7, 7 })).Dims);
    }

    [Fact]
    public void Layout_maps_every_backbone_tensor_to_a_distinct_initializer()
    {
        var layout = ResNet18Onnx.Analyse(Model.Value);
        Assert.Equal(new[] { 2, 2, 2, 3 }, layout.BlocksPerStage);
        Assert.Equal(ResNetPadding.Cntk, layout.Padding);
        using var backbone = new ResNet18Backbone(layout.BlocksPerStage, layout.Padding);
        var keys = backbone.state_dict().Keys.Where(k => !k.EndsWith("num_batches_tracked")).OrderBy(k => k).ToArray();
        Assert.Equal(keys, layout.Names.Keys.OrderBy(k => k).ToArray());
        Assert.Equal(layout.Names.Count, layout.Names.Values.Distinct().Count());
        // Every initializer of the file is used exactly once: nothing of the network is left behind.
        Assert.Equal(Model.Value.Graph.Initializers.Count, layout.Names.Count);
    }

    [Fact]
    public void Backbone_matches_OnnxRuntime_on_random_input()
    {
        var path = ResNet18Onnx.Locate();
        using var backbone = ResNet18Onnx.LoadBackbone(path);
        // Preprocessed-image scale: grey levels minus the mean, roughly ±128.
        using var gen = new Generator(1234);
        using var bgr = randn(new long[] { 2, 3, 224, 224 }, generator: gen) * 60f;
        using var rgb = bgr.flip(1);
        float[] ours;
        using (no_grad())
        using (var f = backbone.forward(rgb)) ours = f.data<float>().ToArray();
        Assert.Equal(2 * 512, ours.Length);

        using var session = new InferenceSession(path);
        var inputName = session.InputMetadata.Keys.Single();
        var all = bgr.data<float>().ToArray();
        double maxAbs = 0, maxRef = 0;
        for (int n = 0; n < 2; n++)
        {
            var one = new DenseTensor<float>(all.AsMemory(n * 3 * 224 * 224, 3 * 224 * 224), new[] { 1, 3, 224, 224 });
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(inputName, one) });
            var reference = results.First().AsTensor<float>().ToArray();
            Assert.Equal(512, reference.Length);
            for (int i = 0; i < 512; i++)
            {
                maxAbs = Math.Max(maxAbs, Math.Abs(reference[i] - ours[n * 512 + i]));
                maxRef = Math.Max(maxRef, Math.Abs(reference[i]));
            }
        }
        _out.WriteLine($"max |ours - onnxruntime| = {maxAbs:E3} (largest feature {maxRef:F3})");
        Assert.True(maxRef > 0.1, "the features should not all vanish");
        Assert.True(maxAbs <= 1e-4, $"max abs difference {maxAbs:E3} exceeds 1e-4");
    }

    [Fact]
    public void Cntk_padding_equals_symmetric_padding_at_even_sizes_and_crops_at_odd_sizes()
    {
        using var cntk = new ResNet18Backbone(new[] { 1, 1, 1, 1 }, ResNetPadding.Cntk);
        using var sym = new ResNet18Backbone(new[] { 1, 1, 1, 1 }, ResNetPadding.Symmetric);
        sym.load_state_dict(cntk.state_dict());
        cntk.eval(); sym.eval();
        using var _ = no_grad();
        using var gen = new Generator(7);
        using var even = randn(new long[] { 1, 3, 64, 96 }, generator: gen);
        using var a = cntk.forward(even);
        using var b = sym.forward(even);
        Assert.Equal(0.0, (a - b).abs().max().item<float>(), 6);
        // At an odd size the stem differs: ONNX's rule gives (33+3+2-7)/2+1 = 16 rows, symmetric padding 17.
        using var odd = randn(new long[] { 1, 3, 33, 33 }, generator: gen);
        using var c = cntk.forward(odd);
        using var d = sym.forward(odd);
        Assert.True((c - d).abs().max().item<float>() > 1e-4);
    }

    [Fact]
    public void Preprocessing_constants_match_the_mean_image_of_the_package()
    {
        var rgb = ResNet18Onnx.ReadChannelMeanRgb();
        for (int c = 0; c < 3; c++) Assert.Equal(ResNet18Onnx.ChannelMeanRgb[c], rgb[c], 3);
        // ImageNet means are largest in red and smallest in blue: the file's BGR order was undone.
        Assert.True(rgb[0] > rgb[1] && rgb[1] > rgb[2]);
        Assert.All(ResNet18Onnx.NormalisationStd, s => Assert.Equal(1 / 255f, s, 7));
    }

    [Fact]
    public void Classifier_feeds_the_backbone_grey_levels_minus_the_channel_mean()
    {
        using var clf = ResNet18Onnx.CreateClassifier(new[] { "a", "b", "c" }, OutputActivation.Softmax, headSeed: 3);
        var model = (ResNet18Classifier)clf.Network;
        using var gen = new Generator(5);
        using var image = rand(new long[] { 1, 3, 64, 64 }, generator: gen);
        using var _ = no_grad();
        using var viaClassifier = clf.Logits(image);
        using var mean = tensor(ResNet18Onnx.ChannelMeanRgb, new long[] { 1, 3, 1, 1 });
        using var manual = model.forward(image * 255f - mean);
        Assert.True((viaClassifier - manual).abs().max().item<float>() < 1e-3);
        Assert.Equal(new long[] { 1, 3 }, viaClassifier.shape);
    }

    [Fact]
    public void Linear_head_is_seeded_and_a_frozen_backbone_gets_no_gradient_and_keeps_its_statistics()
    {
        using var backboneA = new ResNet18Backbone();
        using var backboneB = new ResNet18Backbone();
        var m1 = ResNet18Classifier.WithLinearHead(backboneA, 4, seed: 11);
        var m2 = ResNet18Classifier.WithLinearHead(backboneB, 4, seed: 11);
        Assert.Equal(0f, (m1.Head.weight! - m2.Head.weight!).abs().max().item<float>());
        double bound = 1 / Math.Sqrt(512);
        Assert.True(m1.Head.weight!.abs().max().item<float>() <= bound);
        Assert.Throws<ArgumentOutOfRangeException>(() => ResNet18Classifier.WithLinearHead(backboneA, 0));

        m1.FreezeBackbone();
        m1.train();
        Assert.True(m1.Head.training);
        Assert.False(m1.Backbone.training);
        var bnMean = m1.Backbone.state_dict()["bn1.running_mean"].clone();
        using var gen = new Generator(2);
        using var x = randn(new long[] { 2, 3, 64, 64 }, generator: gen);
        var loss = m1.forward(x).sum();
        loss.backward();
        Assert.NotNull(m1.Head.weight!.grad);
        Assert.All(m1.Backbone.parameters(), p => { Assert.False(p.requires_grad); Assert.Null(p.grad); });
        Assert.Equal(0f, (bnMean - m1.Backbone.state_dict()["bn1.running_mean"]).abs().max().item<float>());

        m1.FreezeBackbone(false);
        Assert.True(m1.Backbone.training);
        Assert.All(m1.Backbone.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void Locate_names_the_places_it_searched_when_the_file_is_missing()
    {
        var e = Assert.Throws<FileNotFoundException>(() => ResNet18Onnx.Locate("NoSuchModel.onnx"));
        Assert.Contains("NoSuchModel.onnx", e.Message);
        Assert.Contains("Microsoft.ML.DnnImageFeaturizer.ResNet18", e.Message);
    }
}
