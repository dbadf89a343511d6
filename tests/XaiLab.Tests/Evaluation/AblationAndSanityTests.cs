using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;
using XaiLab.Tests.Methods;
using static TorchSharp.torch;

namespace XaiLab.Tests.Evaluation;

[Trait("Category", "Unit")]
public class AblationAndSanityTests
{
    static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    [Fact]
    public void DeletionAndInsertionCurvesOfALinearModelAreKnown()
    {
        using var scope = NewDisposeScope();
        // F = sigmoid(v·x), x = ones (2×2), black baseline. Saliency = v: order 2.0 (pixel 1), 1.0 (3), 0.5 (0), −1.0 (2).
        var v = new double[] { 0.5, 2.0, -1.0, 1.0 };
        using var model = TestModels.LinearSigmoid(v, 2, 2);
        var x = ones(1, 2, 2);
        var sal = tensor(v.Select(d => (float)d).ToArray()).view(2, 2);
        var o = new PixelAblationOptions { Steps = 4, BatchSize = 2 };
        var del = PixelAblation.Evaluate(model, x, sal, 0, AblationMode.Deletion, o);
        double[] delSums = { 2.5, 0.5, -0.5, -1.0, 0 };       // Σ v over the pixels not yet deleted
        for (int k = 0; k <= 4; k++) Assert.Equal(Sigmoid(delSums[k]), del.Scores[k], 6);
        double delAuc = 0.25 * Enumerable.Range(0, 4).Sum(k => (Sigmoid(delSums[k]) + Sigmoid(delSums[k + 1])) / 2);
        Assert.Equal(delAuc, del.Auc, 6);
        Assert.Equal("black", del.Baseline);

        var ins = PixelAblation.Evaluate(model, x, sal, 0, AblationMode.Insertion, o with { CustomBaseline = zeros(1, 2, 2) });
        double[] insSums = { 0, 2.0, 3.0, 3.5, 2.5 };         // Σ v over the pixels inserted so far
        for (int k = 0; k <= 4; k++) Assert.Equal(Sigmoid(insSums[k]), ins.Scores[k], 6);
        Assert.Equal(0.25 * Enumerable.Range(0, 4).Sum(k => (Sigmoid(insSums[k]) + Sigmoid(insSums[k + 1])) / 2), ins.Auc, 6);

        // The reversed ranking is worse on both curves.
        var rev = -sal;
        Assert.True(PixelAblation.Evaluate(model, x, rev, 0, AblationMode.Deletion, o).Auc > del.Auc);
        Assert.True(PixelAblation.Evaluate(model, x, rev, 0, AblationMode.Insertion, o with { CustomBaseline = zeros(1, 2, 2) }).Auc < ins.Auc);
    }

    [Fact]
    public void SpearmanOfHandExamples()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4, 5 });
        Assert.Equal(1, SanityCheck.Spearman(a, a * 10 + 3), 12);
        Assert.Equal(-1, SanityCheck.Spearman(a, -a), 12);
        // ties: ranks of [1,1,2] are [1.5,1.5,3]; of [1,2,3] are [1,2,3]: ρ = Pearson = 0.8660…
        Assert.Equal(Math.Sqrt(3) / 2, SanityCheck.Spearman(tensor(new float[] { 1, 1, 2 }), tensor(new float[] { 1, 2, 3 })), 12);
        Assert.Equal(new[] { 1.5, 1.5, 3 }, SanityCheck.Ranks(new double[] { 7, 7, 9 }));
    }

    [Fact]
    public void ModelRandomisationSeparatesTheCentreMethodFromTheGradient()
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.SmallConv(size: 16);
        using var gen = new Generator(4, CPU);
        var x = rand(3, 16, 16, generator: gen);
        float before;
        using (no_grad()) before = model.Logits(x).sum().item<float>();

        var centre = SanityCheck.ModelRandomisation(model, new CentreMethod(), x, 1);
        Assert.Equal(new[] { "fc", "conv2", "conv1" }, centre.Stages.Select(s => s.RandomisedLayers.Last()));
        Assert.All(centre.Stages, s => Assert.Equal(1, s.Spearman, 9)); // ignores the model: fails the check

        var grad = SanityCheck.ModelRandomisation(model, new GradientMethod(), x, 1, new ModelRandomisationOptions { Seed = 3 });
        Assert.True(grad.Stages[^1].Spearman < 0.5, $"fully randomised gradient map still correlates {grad.Stages[^1].Spearman}");
        var once = SanityCheck.ModelRandomisation(model, new GradientMethod(), x, 1, new ModelRandomisationOptions { Mode = RandomisationMode.AllAtOnce, Seed = 3 });
        Assert.Single(once.Stages);
        Assert.Equal(grad.Stages[^1].Spearman, once.Stages[0].Spearman, 9); // same seed, same order of draws

        using (no_grad()) Assert.Equal(before, model.Logits(x).sum().item<float>()); // weights restored
    }

    [Fact]
    public void MarkerFaithfulnessCountsRelianceAndPointing()
    {
        using var scope = NewDisposeScope();
        // 1-channel 12×12 images; the model reads only the 3×3 marker at rows 0..2, cols 9..11 (logit 0 = Σ marker / 2).
        int s = 12;
        var wts = new double[s * s];
        for (int y = 0; y < 3; y++) for (int x = 9; x < 12; x++) wts[y * s + x] = 0.5;
        using var model = TestModels.LinearSigmoid(wts, s, s);
        var marker = zeros(new long[] { s, s }, ScalarType.Bool);
        marker[TensorIndex.Slice(0, 3), TensorIndex.Slice(9, 12)] = true;
        var withMarker = full(new long[] { 1, s, s }, 0.2f);
        withMarker[0, TensorIndex.Slice(0, 3), TensorIndex.Slice(9, 12)] = 1;
        var without = full(new long[] { 1, s, s }, 0.2f); // marker region has the background colour: removal changes nothing
        var cases = new[]
        {
            new MarkerCase("a", withMarker, 0, marker),
            new MarkerCase("b", withMarker.clone(), 0, marker),
            new MarkerCase("c", without, 0, marker),
        };
        var grad = MarkerFaithfulness.Evaluate(model, new GradientMethod(), cases);
        Assert.Equal(3, grad.Scenes);
        Assert.Equal(2, grad.Reliant);
        Assert.Equal(2, grad.PointsAtMarker);
        Assert.Equal(1.0, grad.Rate);
        Assert.Null(grad.Cases[2].PointsAtMarker);
        var centre = MarkerFaithfulness.Evaluate(model, new CentreMethod(), cases, new MarkerFaithfulnessOptions { Tolerance = 0 });
        Assert.Equal(2, centre.Reliant);
        Assert.Equal(0, centre.PointsAtMarker);
        Assert.Equal(Sigmoid(4.5), grad.Cases[0].Score, 5);
        Assert.Equal(Sigmoid(0.9), grad.Cases[0].ScoreWithoutMarker, 5); // filled with the mean colour 0.2

        // The same through annotated scenes (class = the scene's label).
        var box = new XaiLab.Imaging.Data.BoundingBox(0, 0, 11, 11);
        var scenes = cases.Select(c => new XaiLab.Imaging.Data.Scene(c.Id, c.Image, new[] { new XaiLab.Imaging.Data.SceneObject(0, box) })).ToArray();
        var viaScenes = MarkerFaithfulness.Evaluate(model, new GradientMethod(), scenes, cases.Select(c => c.MarkerMask).ToArray());
        Assert.Equal((grad.Scenes, grad.Reliant, grad.PointsAtMarker), (viaScenes.Scenes, viaScenes.Reliant, viaScenes.PointsAtMarker));
    }
}
