using TorchSharp;
using XaiLab.Cli;
using XaiLab.Denoising;
using XaiLab.Imaging;
using XaiLab.Imaging.Models;
using XaiLab.Saliency.Evaluation;
using static TorchSharp.torch;

namespace XaiLab.Tests.Foundation;

/// <summary>
/// <see cref="SeededInit"/> against what it replaces: <c>torch.manual_seed(s)</c> followed by construction. These tests seed
/// libtorch's global generator on purpose, so they run in the non-parallel "global-rng" collection.
/// </summary>
[Collection(SerialCollections.GlobalRng)]
[Trait("Category", "Unit")]
public class SeededInitMatchesManualSeedTests
{
    public SeededInitMatchesManualSeedTests() => Devices.EnsureNativeLoaded();

    /// <summary>Every parameter and buffer of <paramref name="a"/> and <paramref name="b"/> is bit-identical.</summary>
    internal static void AssertSameState(nn.Module a, nn.Module b, string what)
    {
        var sa = a.state_dict(); var sb = b.state_dict();
        Assert.Equal(sa.Keys, sb.Keys);
        foreach (var (k, t) in sa)
        {
            Assert.True(t.dtype == sb[k].dtype && t.shape.SequenceEqual(sb[k].shape), $"{what}: {k} differs in dtype or shape");
            Assert.True(t.equal(sb[k]).all().item<bool>(), $"{what}: {k} differs (max |Δ| {(t.to_type(ScalarType.Float64) - sb[k].to_type(ScalarType.Float64)).abs().max().item<double>():G3})");
        }
    }

    static void AssertSame<T>(Func<T> build, ulong seed, string what) where T : nn.Module
    {
        manual_seed((long)seed);
        using var old = build();
        using var fresh = SeededInit.Apply(build(), seed);
        AssertSameState(old, fresh, what);
    }

    static Tensor Prior()
    {
        using var d = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = 16, Count = 8, Seed = 4 });
        return RadialMean.FromClean(d.Clean);
    }

    [Fact]
    public void EveryLayerKindGetsTheWeightsOfManualSeed()
    {
        AssertSame(() => nn.Sequential(("c", nn.Conv2d(3, 5, 3, padding: 1)), ("cn", nn.Conv2d(5, 4, (3, 1), bias: false)), ("bn", nn.BatchNorm2d(4)),
            ("c1", nn.Conv1d(4, 2, 3)), ("t", nn.ConvTranspose2d(4, 3, 2, stride: 2)), ("f", nn.Flatten()), ("l", nn.Linear(12, 7)),
            ("l0", nn.Linear(7, 3, hasBias: false)), ("ln", nn.LayerNorm(3))), 11, "layer kinds, float32");
        AssertSame(() => nn.Sequential(("conv", nn.Conv2d(3, 4, 3, padding: 1, dtype: ScalarType.Float64)), ("tanh", nn.Tanh()),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(4 * 8 * 8, 3, dtype: ScalarType.Float64))), 3, "float64 layers");
    }

    [Fact]
    public void TheSeededModelsOfTheLibraryAreUnchanged()
    {
        AssertSame(() => FashionModels.Build(FashionArchitecture.Cnn), 0, "fashion-cnn");
        AssertSame(() => FashionModels.Build(FashionArchitecture.ResNet), 7, "fashion-resnet");
        AssertSame(() => new SceneResNet(5, 8), 1, "SceneResNet");
        AssertSame(() => new CartesianDenoiser(new DenoiserOptions { Depth = 3, Width = 8 }), 2, "cartesian denoiser");
        AssertSame(() => new SpiralDenoiser(16, new DenoiserOptions { Depth = 3, Width = 4 }), 2, "spiral denoiser");
        using var prior = Prior();
        foreach (var kind in new[] { DenoiserKind.Cartesian, DenoiserKind.Spiral })
        {
            var o = new DenoiserOptions { Depth = 2, Width = 4 };
            manual_seed(5);
            using var old = Denoisers.Create(kind, 16, o, prior);
            using var gen = new Generator(5, CPU);
            using var now = Denoisers.Create(kind, 16, o, prior, gen);
            AssertSameState(old, now, $"{kind} denoiser with the radial prior");
        }
    }

    [Fact]
    public void TheFactoriesThatSeededTheGlobalGeneratorGiveTheirOldWeights()
    {
        // DenoisingExperiment.CreateModel: was random.manual_seed(Training.Seed) + Denoisers.Create.
        var e = new DenoisingExperiment
        {
            Net = DenoiserKind.Spiral, Data = new ProjectionDataOptions { ImageSize = 16, Count = 8, Seed = 4 },
            Architecture = new DenoiserOptions { Depth = 2, Width = 4 }, Training = new DenoisingTrainingOptions { Seed = 3 },
        };
        using var train = ProjectionDataset.Create(e.Data);
        using var prior = RadialMean.FromClean(train.Clean);
        manual_seed(3);
        using (var old = Denoisers.Create(DenoiserKind.Spiral, 16, e.Architecture, prior))
        using (var now = e.CreateModel(train))
            AssertSameState(old, now, "DenoisingExperiment.CreateModel");

        // MethodBenchmark.RandomSmallCnn and the bench stand-in: were manual_seed(seed) + these layers.
        manual_seed(4);
        using (var old = nn.Sequential(("features", nn.Sequential(
                   ("0", nn.Conv2d(3, 16, 3, padding: 1)), ("1", nn.ReLU()), ("2", nn.MaxPool2d(2)),
                   ("3", nn.Conv2d(16, 32, 3, padding: 1)), ("4", nn.ReLU()), ("5", nn.MaxPool2d(2)),
                   ("6", nn.Conv2d(32, 64, 3, padding: 1)), ("7", nn.ReLU()), ("8", nn.MaxPool2d(2)),
                   ("9", nn.Conv2d(64, 64, 3, padding: 1)), ("10", nn.ReLU()))),
                   ("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(64, 10))))
        using (var now = MethodBenchmark.RandomSmallCnn(seed: 4))
            AssertSameState(old, now.Network, "MethodBenchmark.RandomSmallCnn");
        manual_seed(6);
        using (var old = nn.Sequential(
                   ("c1", nn.Conv2d(3, 32, 3, stride: 2, padding: 1)), ("r1", nn.ReLU()),
                   ("c2", nn.Conv2d(32, 64, 3, stride: 2, padding: 1)), ("r2", nn.ReLU()),
                   ("c3", nn.Conv2d(64, 128, 3, stride: 2, padding: 1)), ("r3", nn.ReLU()),
                   ("c4", nn.Conv2d(128, 128, 3, stride: 2, padding: 1)), ("r4", nn.ReLU()),
                   ("gap", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("fc", nn.Linear(128, 10))))
        using (var now = StandInCnn.Create(6))
            AssertSameState(old, now.Network, "StandInCnn.Create");
    }
}

/// <summary><see cref="SeededInit"/> on its own: private, seeded, torch's default bounds (runs in parallel with everything).</summary>
[Trait("Category", "Unit")]
public class SeededInitTests
{
    public SeededInitTests() => Devices.EnsureNativeLoaded();

    sealed class OwnParameter : nn.Module<Tensor, Tensor>
    {
        readonly TorchSharp.Modules.Parameter scale = nn.Parameter(ones(1));
        public OwnParameter() : base("own-parameter") => RegisterComponents();
        public override Tensor forward(Tensor x) => x * scale;
    }

    [Fact]
    public void SameSeedSameWeightsWhateverTheGlobalGeneratorDoes()
    {
        static nn.Module<Tensor, Tensor> Net() => nn.Sequential(("c", nn.Conv2d(3, 8, 3)), ("bn", nn.BatchNorm2d(8)), ("f", nn.Flatten()), ("l", nn.Linear(8 * 6 * 6, 4)));
        using var a = SeededInit.Apply(Net(), 21);
        using (rand(1000)) { } // another draw from the global generator in between must not matter
        using var b = SeededInit.Apply(Net(), 21);
        using var c = SeededInit.Apply(Net(), 22);
        SeededInitMatchesManualSeedTests.AssertSameState(a, b, "same seed");
        Assert.False(a.parameters().First().equal(c.parameters().First()).all().item<bool>(), "another seed must give other weights");
        using var g1 = new Generator(21, CPU);
        using var d = SeededInit.Apply(Net(), g1);
        SeededInitMatchesManualSeedTests.AssertSameState(a, d, "seed vs generator");
    }

    [Fact]
    public void WeightsAndBiasesFollowKaimingUniformWithASqrt5()
    {
        // a = √5: bound = √3·√(2/(1+a²))/√fan_in = 1/√fan_in, for the weight and (by torch's rule) the bias alike.
        using var lin = SeededInit.Apply(nn.Linear(400, 300), 8);
        double bound = 1 / Math.Sqrt(400);
        using var w = lin.weight!.detach().to_type(ScalarType.Float64);
        Assert.True(w.abs().max().item<double>() <= bound);
        Assert.Equal(bound / Math.Sqrt(3), w.std().item<double>(), 3);   // U(−b, b): σ = b/√3 (120 000 draws: sd of the estimate 0.13 %)
        Assert.True(lin.bias!.abs().max().item<float>() <= bound);
        using var conv = SeededInit.Apply(nn.Conv2d(6, 4, 5), 9);       // fan_in = 6·5·5
        Assert.True(conv.weight.abs().max().item<float>() <= 1 / Math.Sqrt(150) + 1e-7);
        using var bn = nn.BatchNorm2d(4);
        using (no_grad()) { bn.weight!.fill_(3); bn.running_var!.fill_(7); }
        SeededInit.Apply(bn, 1);
        Assert.Equal(1f, bn.weight!.min().item<float>());
        Assert.Equal(1f, bn.running_var!.max().item<float>());
    }

    [Fact]
    public void AModuleWithItsOwnParametersIsRejected()
    {
        using var m = new OwnParameter();
        var e = Assert.Throws<ArgumentException>(() => SeededInit.Apply(m, 1));
        Assert.Contains("own-parameter", e.Message);
        Assert.Contains("expected only those", e.Message);
    }
}
