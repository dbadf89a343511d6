using ModelEvaluation = XaiLab.Imaging.Models.Evaluation;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Imaging.Models;
using static TorchSharp.torch;

namespace XaiLab.Tests.Data;

[Trait("Category", "Unit")]
public class FashionModelTests
{
    static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"xailab-model-{Guid.NewGuid():N}-{name}");

    [Fact]
    public void EveryRegisteredModelLoadsAndReachesItsStatedHeldOutFigure()
    {
        Assert.Superset(new HashSet<string> { "fashion-cnn", "fashion-resnet", "fashion-cnn-multi", "fashion-cnn-biased" },
            ModelRegistry.All.Select(e => e.Name).ToHashSet());
        foreach (var spec in FashionModels.All)
        {
            var entry = ModelRegistry.Get(spec.Name);
            Assert.True(entry.IsAvailable(), $"weights of {spec.Name} are missing");
            Assert.NotNull(spec.HeldOut);
            Assert.Equal(spec.HeldOutText, entry.HeldOutMetric);
            using var model = ModelRegistry.Load(spec.Name);
            Assert.Equal(spec.MultiLabel ? OutputActivation.Sigmoid : OutputActivation.Softmax, model.Activation);
            Assert.Equal((128, 128), model.InputSize);
            // On 200 of the 2000 test scenes an accuracy p has binomial sd √(p(1−p)/200) (≤ 0.035): allow 3.5σ; mAP, 0.1.
            var r = ModelEvaluation.Evaluate(model, DatasetRegistry.Open(spec.Dataset, "test"), limit: 200);
            Assert.Equal(spec.MetricName, r.Metric);
            double p = spec.HeldOut!.Value, tolerance = spec.MultiLabel ? 0.1 : 3.5 * Math.Sqrt(p * (1 - p) / 200);
            Assert.True(Math.Abs(r.Value - p) <= tolerance,
                $"{spec.Name}: {r.Metric} {r.Value:0.000} on 200 test scenes, stated {spec.HeldOut:0.000}");
        }
    }

    [Fact]
    public void BiasedModelUsesThePlantedMarkerAndTheCleanModelDoesNot()
    {
        var test = new FashionScenes(FashionSceneKind.Biased, "test");
        using var biased = ModelRegistry.Load("fashion-cnn-biased");
        using var clean = ModelRegistry.Load("fashion-cnn");
        var b = ModelEvaluation.MeasureMarkerEffect(biased, test, limit: 100);
        var c = ModelEvaluation.MeasureMarkerEffect(clean, test, limit: 100);
        Assert.Equal(100, b.Images);
        // measured on 500 scenes at training: biased 0.732 with vs 0.004 without; clean 0.042 vs 0.036 (100 scenes: sd ≈ 0.045)
        var msg = $"biased model: {b.WithMarker:0.00} with vs {b.WithoutMarker:0.00} without the marker; clean model: {c.WithMarker:0.00} vs {c.WithoutMarker:0.00}";
        Assert.True(b.Increase > 0.5, msg);
        Assert.True(b.Increase > c.Increase + 0.4, msg);
        Assert.True(c.Increase < 0.25, msg);
    }

    [Fact]
    public void SaveLoadRoundTripGivesIdenticalLogits()
    {
        foreach (var spec in new[] { FashionModels.Spec("fashion-cnn"), FashionModels.Spec("fashion-resnet") })
        {
            using var gen = new Generator(3, CPU);
            var net = SeededInit.Apply(FashionModels.Build(spec.Architecture), gen);
            var path = Temp("rt.dat");
            net.save(path);
            using var a = FashionModels.Wrap(spec, net);
            using var b = FashionModels.Load(spec, path);
            using var x = rand(2, 3, 128, 128, generator: gen);
            using var _ = no_grad();
            Assert.Equal(a.Logits(x).data<float>().ToArray(), b.Logits(x).data<float>().ToArray());
            Assert.Equal(new long[] { 2, 10 }, b.Logits(x).shape);
        }
    }

    [Fact]
    public void MissingTruncatedOrMismatchedWeightsAreClearErrors()
    {
        var spec = FashionModels.Spec("fashion-cnn");
        var missing = Temp("none.dat");
        var e1 = Assert.Throws<FileNotFoundException>(() => FashionModels.Load(spec, missing));
        Assert.Contains(missing, e1.Message);

        var good = Temp("good.dat");
        FashionModels.Build(spec.Architecture).save(good);
        var bytes = File.ReadAllBytes(good);
        foreach (var cut in new[] { bytes.Length / 2, 40, bytes.Length - 1 })
        {
            var truncated = Temp($"cut{cut}.dat");
            File.WriteAllBytes(truncated, bytes[..cut]);
            var e = Assert.Throws<InvalidDataException>(() => FashionModels.Load(spec, truncated));
            Assert.Contains(truncated, e.Message);
            Assert.Contains("truncated", e.Message);
        }

        var fiveClasses = Temp("five.dat");
        new FashionCnn(5).save(fiveClasses);
        var e2 = Assert.Throws<InvalidDataException>(() => FashionModels.Load(spec, fiveClasses));
        Assert.Contains(fiveClasses, e2.Message);
        Assert.Contains("5 classes", e2.Message);

        var otherArch = Temp("resnet.dat");
        FashionModels.Build(FashionArchitecture.ResNet).save(otherArch);
        var e3 = Assert.Throws<InvalidDataException>(() => FashionModels.Load(spec, otherArch));
        Assert.Contains(otherArch, e3.Message);
        Assert.Contains("another architecture", e3.Message);

        // Random bytes are no weights file at all, not "another architecture".
        var noise = Temp("noise.dat");
        var random = new byte[4096];
        new Random(5).NextBytes(random);
        File.WriteAllBytes(noise, random);
        var e4 = Assert.Throws<InvalidDataException>(() => FashionModels.Load(spec, noise));
        Assert.Contains(noise, e4.Message);
        Assert.Contains("not a TorchSharp weights file", e4.Message);
    }

    [Fact]
    public void AveragePrecisionMatchesAHandComputedExample()
    {
        // ranks of the positives: 1 and 3 → (1/1 + 2/3) / 2
        Assert.Equal((1 + 2.0 / 3) / 2, ModelEvaluation.AveragePrecision(new[] { 0.9f, 0.8f, 0.7f, 0.6f }, new[] { true, false, true, false }), 12);
        Assert.Equal(1.0, ModelEvaluation.AveragePrecision(new[] { 0.9f, 0.1f }, new[] { true, false }));
        Assert.True(double.IsNaN(ModelEvaluation.AveragePrecision(new[] { 0.9f }, new[] { false })));
    }
}

[Trait("Category", "Unit")]
public class FashionTrainingTests
{
    [Fact]
    public void TrainingRunsSavesWeightsAndRecordAndCanContinue()
    {
        // A 12k-item pool standing in for the Debian training set (CI may lack it): the embedded items, repeated.
        var src = FashionItems.EmbeddedTest;
        var px = new byte[12_000 * 784];
        var labels = new byte[12_000];
        for (int i = 0; i < 12_000; i++) { src.Images.Image(i % 2000).CopyTo(px.AsSpan(i * 784, 784)); labels[i] = src.Labels[i % 2000]; }
        var pool = new FashionItems("test pool", new IdxImages(12_000, 28, 28, px), labels);
        var spec = FashionModels.Spec("fashion-cnn-multi");
        var path = Path.Combine(Path.GetTempPath(), $"xailab-train-{Guid.NewGuid():N}.dat");
        // Threads: the count this thread already has, so that training does not change it for the tests that share the process.
        var o = new FashionTrainingOptions { Epochs = 1, ScenesPerEpoch = 64, BatchSize = 16, ValScenes = 16, TestScenes = 16, Threads = torch.get_num_threads() };
        var lines = new List<string>();
        var r = FashionTraining.Train(spec, o, lines.Add, path, pool);
        Assert.True(File.Exists(path));
        Assert.True(File.Exists(Path.ChangeExtension(path, ".json")));
        Assert.Equal(new FileInfo(path).Length, r.WeightBytes);
        Assert.Single(r.Epochs);
        Assert.True(double.IsFinite(r.Epochs[0].Loss) && r.Epochs[0].Loss > 0);
        Assert.Equal("mAP", r.Test.Metric);
        Assert.Equal(16, r.Test.Images);
        Assert.Contains(lines, l => l.StartsWith("epoch 1:"));
        // continuing starts from the saved weights
        using (var saved = FashionModels.Load(spec, path))
        {
            var lines2 = new List<string>();
            var r2 = FashionTraining.Train(spec, o with { InitialWeights = path, FirstScene = 64, LearningRate = 1e-9 }, lines2.Add, path + "2", pool);
            using var cont = FashionModels.Load(spec, path + "2");
            // AdamW moves each weight by about the learning rate per step: with 1e-9 the continued weights are the saved ones
            var a = saved.Network.parameters().ToArray();
            var b = cont.Network.parameters().ToArray();
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++) Assert.True((a[i] - b[i]).abs().max().item<float>() < 1e-6f);
            Assert.Contains(lines2, l => l.Contains("from scene 64") && l.Contains("continuing from " + path));
            Assert.Equal(64, r2.Options.FirstScene);
        }
        Assert.Throws<ArgumentException>(() => FashionTraining.Train(spec, o with { Epochs = 0 }, null, path, pool));
    }
}
