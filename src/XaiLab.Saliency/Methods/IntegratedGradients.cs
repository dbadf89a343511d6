using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Methods;

/// <summary>Quadrature rule for the path integral of Integrated Gradients.</summary>
public enum IntegrationRule
{
    /// <summary>α_k = k/m, k = 1..m, weights 1/m (Sundararajan et al. 2017, Eq 3): m gradient evaluations.</summary>
    RiemannRight,
    /// <summary>α_k = (k − ½)/m, k = 1..m, weights 1/m: m evaluations, second-order accurate.</summary>
    RiemannMidpoint,
    /// <summary>α_k = k/m, k = 0..m, end weights 1/(2m), inner 1/m: m + 1 evaluations, second-order accurate.</summary>
    Trapezoid,
}

/// <summary>Options of <see cref="IntegratedGradients"/> (defaults: Sundararajan, Taly &amp; Yan 2017).</summary>
public sealed record IntegratedGradientsOptions
{
    /// <summary>Number of integration steps m; default 50 (the published and Captum default).</summary>
    public int Steps { get; init; } = 50;
    /// <summary>Quadrature rule; default the paper's right Riemann sum.</summary>
    public IntegrationRule Rule { get; init; } = IntegrationRule.RiemannRight;
    /// <summary>Baseline x' <c>[C,H,W]</c> in image space [0,1]; null = black (all zeros).</summary>
    public Tensor? Baseline { get; init; }
    /// <summary>Most path points per forward/backward pass (memory knob); default 16.</summary>
    public int InternalBatchSize { get; init; } = 16;
    /// <summary>Integrated output; default the activated score F (thesis Eq 1.5), so completeness reads F(x) − F(x').</summary>
    public ExplainedOutput Output { get; init; } = ExplainedOutput.Score;
}

/// <summary>
/// Integrated Gradients (thesis §1.2.3B, Eq 1.5/1.6; Sundararajan, Taly &amp; Yan 2017, Eq 1):
/// <c>IG(x) = (x − x') ⊙ ∫₀¹ ∇F(x' + α(x − x')) dα</c>, approximated by the chosen rule with m steps.
/// Sign: the thesis writes the path from target to baseline, <c>(x_BL − x_Tg) ⊙ AverageGrads</c>; with the path
/// parameter reversed the integral changes sign (thesis footnote 6), so this is the same map with "larger = more
/// salient" for evidence of the class. The saliency map <c>[H,W]</c> is the attribution summed over colour channels
/// (the pointwise scalar product of Eq 1.6). Diagnostics: <c>completeness_error</c> = |Σ IG − (F(x) − F(x'))|
/// (Proposition 1 of the paper; zero for exact integration), <c>f_image</c>, <c>f_baseline</c>, <c>attribution_sum</c>.
/// </summary>
public sealed class IntegratedGradients(IntegratedGradientsOptions? options = null) : ISaliencyMethod
{
    public IntegratedGradientsOptions Options { get; } = options ?? new IntegratedGradientsOptions();
    public string Name => "integrated-gradients";

    /// <summary>The integration nodes α_k and weights w_k of <paramref name="rule"/> with <paramref name="m"/> steps.</summary>
    public static (double[] Alphas, double[] Weights) Nodes(IntegrationRule rule, int m) => rule switch
    {
        IntegrationRule.RiemannRight => (Enumerable.Range(1, m).Select(k => (double)k / m).ToArray(), Enumerable.Repeat(1.0 / m, m).ToArray()),
        IntegrationRule.RiemannMidpoint => (Enumerable.Range(1, m).Select(k => (k - 0.5) / m).ToArray(), Enumerable.Repeat(1.0 / m, m).ToArray()),
        _ => (Enumerable.Range(0, m + 1).Select(k => (double)k / m).ToArray(),
              Enumerable.Range(0, m + 1).Select(k => k == 0 || k == m ? 0.5 / m : 1.0 / m).ToArray()),
    };

    /// <summary>The attributions <c>[C,H,W]</c> (float32 or float64 like the image, on the CPU) and the diagnostics.</summary>
    public (Tensor Attributions, Dictionary<string, object> Diagnostics) Attribute(Classifier model, Tensor image, int classIndex)
    {
        MethodSupport.CheckPositive(Options.Steps, nameof(Options.Steps), Name);
        MethodSupport.CheckPositive(Options.InternalBatchSize, nameof(Options.InternalBatchSize), Name);
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classIndex, Name);
        Tensor xb;
        if (Options.Baseline is { } b)
        {
            if (!b.shape.SequenceEqual(x.shape))
                throw new ArgumentException($"{Name}: baseline must have the image's shape [{string.Join(",", x.shape)}]; got [{string.Join(",", b.shape)}].");
            xb = b.detach().to(x.device).to_type(x.dtype);
        }
        else xb = zeros_like(x);
        var diff = x - xb;
        var (alphas, weights) = Nodes(Options.Rule, Options.Steps);
        var total = zeros_like(x);
        for (int start = 0; start < alphas.Length; start += Options.InternalBatchSize)
        {
            using var inner = NewDisposeScope();
            int n = Math.Min(Options.InternalBatchSize, alphas.Length - start);
            var a = tensor(alphas.AsSpan(start, n).ToArray(), dtype: x.dtype, device: x.device).view(-1, 1, 1, 1);
            var w = tensor(weights.AsSpan(start, n).ToArray(), dtype: x.dtype, device: x.device).view(-1, 1, 1, 1);
            var pts = (xb.unsqueeze(0) + a * diff.unsqueeze(0)).requires_grad_(true);
            using (enable_grad())
            {
                var y = MethodSupport.ClassOutput(model, pts, classIndex, Options.Output).sum();
                var g = autograd.grad(new[] { y }, new[] { pts })[0];
                total.add_((g * w).sum(new long[] { 0 }).detach());
            }
        }
        var attr = diff * total;
        double fx, fb;
        using (no_grad())
        {
            var ends = MethodSupport.ClassOutput(model, stack(new[] { x, xb }), classIndex, Options.Output).to_type(ScalarType.Float64).cpu();
            fx = ends[0].item<double>(); fb = ends[1].item<double>();
        }
        double sum = attr.sum().to_type(ScalarType.Float64).item<double>();
        var diag = new Dictionary<string, object>
        {
            ["completeness_error"] = Math.Abs(sum - (fx - fb)),
            ["f_image"] = fx,
            ["f_baseline"] = fb,
            ["attribution_sum"] = sum,
            ["steps"] = Options.Steps,
            ["rule"] = Options.Rule.ToString(),
        };
        return (attr.detach().cpu().MoveToOuterDisposeScope(), diag);
    }

    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
    {
        var (attr, diag) = Attribute(model, image, classIndex);
        using (attr)
        {
            using var scope = NewDisposeScope();
            return new SaliencyMap(MethodSupport.Finish(attr.sum(new long[] { 0 })), Name, classIndex, diag);
        }
    }
}
