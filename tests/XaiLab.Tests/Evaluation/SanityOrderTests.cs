using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.Evaluation;
using static TorchSharp.torch;

namespace XaiLab.Tests.Evaluation;

[Trait("Category", "Unit")]
public class SanityOrderTests
{
    /// <summary>Registers its head before its features, although the forward pass runs features → head.</summary>
    sealed class HeadFirstNet : nn.Module<Tensor, Tensor>
    {
        readonly nn.Module<Tensor, Tensor> head = nn.Linear(8, 3);
        readonly nn.Module<Tensor, Tensor> features = nn.Conv2d(3, 8, 3, padding: 1);
        public HeadFirstNet() : base("head-first") { RegisterComponents(); }
        public override Tensor forward(Tensor x) => head.call(features.call(x).relu().mean(new long[] { 2, 3 }));
    }

    [Fact]
    public void CascadingRandomisationStartsAtTheOutputLayerWhateverTheRegistrationOrder()
    {
        Devices.EnsureNativeLoaded();
        using var gen = new Generator(5, CPU);
        using var model = new Classifier(SeededInit.Apply(new HeadFirstNet(), gen), new[] { "a", "b", "c" }, OutputActivation.Softmax);
        using var image = rand(3, 8, 8, generator: gen);
        Assert.Equal(new[] { "head", "features" }, SanityCheck.ParameterLayers(model.Network));          // registration order
        Assert.Equal(new[] { "features", "head" }, SanityCheck.ParameterLayersInCallOrder(model, image)); // call order
        var r = SanityCheck.ModelRandomisation(model, new XaiLab.Saliency.Methods.GradientMethod(), image, 0);
        Assert.Equal(new[] { "head" }, r.Stages[0].RandomisedLayers);
    }
}
