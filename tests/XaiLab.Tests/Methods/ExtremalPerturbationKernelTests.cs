using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Tests.Methods;

/// <summary>
/// The fused smooth-max kernel of Extremal Perturbation (<see cref="SmoothMaxKernel"/>) and its radix sort
/// (<see cref="StableSortValues"/>) against the tensor formulations they replace.
/// </summary>
[Trait("Category", "Unit")]
public class ExtremalPerturbationKernelTests
{
    static double RelMax(Tensor a, Tensor reference) =>
        (a.to_type(ScalarType.Float64) - reference.to_type(ScalarType.Float64)).abs().max().item<double>() / reference.to_type(ScalarType.Float64).abs().max().item<double>();

    /// <summary>Masks and ∂(Σ m·g)/∂p of one formulation for parameters p (float32 or float64) and upstream gradient g.</summary>
    static (Tensor Masks, Tensor Grad) MasksAndGrad(Func<Tensor, Tensor> generate, Tensor p, Tensor upstream)
    {
        var pv = p.detach().requires_grad_(true);
        using var _ = enable_grad();
        var m = generate(pv);
        var grad = autograd.grad(new[] { (m * upstream.to_type(m.dtype)).sum() }, new[] { pv })[0];
        return (m.detach(), grad.detach());
    }

    [Theory]
    [InlineData(128, 1)] // TorchRay's geometry (step 7, σ 21, margin σ) at the pointing game's 128 px
    [InlineData(37, 3)]  // a small odd size: the last cell row/column is partial
    public void FusedSmoothMaxEqualsTheTensorFormulation(int size, int trials)
    {
        using var scope = NewDisposeScope();
        using var gen = new ExtremalPerturbation.MaskGenerator(size, size, 7, 21, CPU);
        var rng = new torch.Generator(11);
        for (int t = 0; t < trials; t++)
        {
            var p = rand(new long[] { 4, gen.ParamHeight * gen.ParamWidth }, generator: rng);
            if (t % 2 == 1) p = (p * 3 - 1).clamp(0, 1); // many parameters exactly 0 or 1, as after the optimiser's clamp
            var g = randn(new long[] { 4, gen.OutHeight, gen.OutWidth }, generator: rng);
            var (mf, gf) = MasksAndGrad(gen.GenerateFused, p, g);
            var (m32, g32) = MasksAndGrad(gen.GenerateTensor, p, g);
            var (m64, g64) = MasksAndGrad(gen.GenerateTensor, p.to_type(ScalarType.Float64), g);
            Assert.Equal(m32.shape, mf.shape);
            Assert.Equal(ScalarType.Float32, mf.dtype);
            // Against the same tensor formulation evaluated in float64: the fused float32 kernel is within 1e-5 of the
            // maximum (measured ≈ 5e-7 for masks, ≤ 5e-6 for gradients); the float32 tensor formulation itself is
            // ≈ 3e-6 / ≤ 2e-5 off, so fused vs float32 tensor is bounded by their sum.
            Assert.True(RelMax(mf, m64) < 1e-5, $"size {size} trial {t}: fused masks vs float64 {RelMax(mf, m64):E2}");
            Assert.True(RelMax(gf, g64) < 1e-5, $"size {size} trial {t}: fused gradient vs float64 {RelMax(gf, g64):E2}");
            Assert.True(RelMax(mf, m32) < 1e-5, $"size {size} trial {t}: fused vs tensor masks {RelMax(mf, m32):E2}");
            Assert.True(RelMax(gf, g32) < 4e-5, $"size {size} trial {t}: fused vs tensor gradient {RelMax(gf, g32):E2}");
            // The generator picks the kernel for float32 CPU parameters and the tensor formulation for float64.
            Assert.Equal(0, (gen.Generate(p) - mf).abs().max().item<float>());
            Assert.Equal(0, (gen.Generate(p.to_type(ScalarType.Float64)) - m64).abs().max().item<double>());
        }
    }

    [Fact]
    public void FusedFormulationRejectsWhatItCannotCompute()
    {
        using var scope = NewDisposeScope();
        using var gen = new ExtremalPerturbation.MaskGenerator(20, 20, 7, 21, CPU, formulation: SmoothMaxFormulation.Fused);
        var e = Assert.Throws<ArgumentException>(() => gen.Generate(ones(2, gen.ParamHeight * gen.ParamWidth, dtype: ScalarType.Float64)));
        Assert.Contains("float32 CPU parameters", e.Message);
        Assert.Throws<ArgumentException>(() => gen.Generate(ones(2, gen.ParamHeight * gen.ParamWidth + 1)));
    }

    [Fact]
    public void RadixSortEqualsTorchStableSortWithTiesZerosAndNaN()
    {
        using var scope = NewDisposeScope();
        var rng = new torch.Generator(5);
        // Few distinct values (many ties), both zeros, negatives, infinities and NaN, over 3 rows.
        var x = (randint(-6, 7, new long[] { 3, 5000 }, generator: rng).to_type(ScalarType.Float32) / 4);
        x[0, 10] = -0.0f; x[0, 11] = 0.0f; x[0, 12] = -0.0f; x[1, 7] = float.NaN; x[1, 100] = float.PositiveInfinity;
        x[2, 3] = float.NegativeInfinity; x[2, 4] = 1e-40f; x[2, 5] = -1e-40f;
        var g = randn(new long[] { 3, 5000 }, generator: rng);
        Tensor ours, theirs, gOurs, gTheirs;
        using (enable_grad())
        {
            var a = x.detach().requires_grad_(true);
            ours = StableSortValues.Apply(a);
            gOurs = autograd.grad(new[] { (ours * g).sum() }, new[] { a })[0];
            var b = x.detach().requires_grad_(true);
            theirs = b.sort(1, descending: false, stable: true).Values;
            gTheirs = autograd.grad(new[] { (theirs * g).sum() }, new[] { b })[0];
        }
        var o = ours.detach().data<float>().ToArray();
        var t = theirs.detach().data<float>().ToArray();
        Assert.Equal(t.Length, o.Length);
        for (int i = 0; i < o.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(o[i]) == BitConverter.SingleToInt32Bits(t[i]), $"value {i}: {o[i]} vs torch {t[i]}");
        Assert.Equal(gTheirs.data<float>().ToArray(), gOurs.data<float>().ToArray()); // the same permutation
    }

    [Fact]
    public void ShortRunGivesTheSameMasksWithBothFormulations()
    {
        using var scope = NewDisposeScope();
        // TorchRay's geometry and all four areas on a 41-px image (78×78 full mask), 20 iterations, the area constraint
        // at 1 % of TorchRay's weight. At the full weight 300 the two formulations drift apart (≈ 0.35 here, ≈ 0.06 at
        // 128 px, where the float32 tensor formulation drifts as far from its own float64 evaluation): the constraint sorts
        // the mask, and ≈ 1e-6 rounding differences reorder nearly tied pixels around the step of the target profile, each
        // swap moving a gradient of 2λ/N between pixels. The sort itself is checked bit for bit above.
        const int size = 41;
        using var model = TestModels.SmallConv(classes: 3, size: size, seed: 4);
        var img = rand(new long[] { 3, size, size }, generator: new torch.Generator(9));
        var options = new ExtremalPerturbationOptions { Iterations = 20, AreaWeight = 3 };
        var (fused, df) = new ExtremalPerturbation(options) { Formulation = SmoothMaxFormulation.Fused }.Masks(model, img, 1);
        var (tens, dt) = new ExtremalPerturbation(options) { Formulation = SmoothMaxFormulation.Tensor }.Masks(model, img, 1);
        Assert.Equal(tens.shape, fused.shape);
        Assert.True(tens.max().item<float>() - tens.min().item<float>() > 0.5, "the masks moved away from their start");
        double diff = (fused - tens).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"masks differ by {diff:E2} after 20 iterations");
        var rf = (double[])df["rewards"];
        var rt = (double[])dt["rewards"];
        for (int i = 0; i < rf.Length; i++) Assert.Equal(rt[i], rf[i], 1e-4);
    }
}
