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
    /// <summary>
    /// Gauss–Legendre quadrature with m nodes mapped from [−1,1] to [0,1] (α = (1 + ξ)/2, w = ω/2, ξ the roots of the
    /// Legendre polynomial P_m): m evaluations, exact for polynomials of degree 2m − 1. Captum's default
    /// (<c>method="gausslegendre"</c>).
    /// </summary>
    GaussLegendre,
}

/// <summary>Options of <see cref="IntegratedGradients"/> (defaults: Sundararajan, Taly &amp; Yan 2017).</summary>
public sealed record IntegratedGradientsOptions
{
    /// <summary>Number of integration steps m; default 50 (the published and Captum default).</summary>
    public int Steps { get; init; } = 50;
    /// <summary>
    /// Quadrature rule; default the paper's right Riemann sum (Eq 3 of Sundararajan et al.). Captum's default is
    /// <see cref="IntegrationRule.GaussLegendre"/> (maps differ by a few per cent of their maximum at 50 steps).
    /// </summary>
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
    /// <summary>Baseline, steps m, quadrature rule, batch size and explained output (score by default).</summary>
    public IntegratedGradientsOptions Options { get; } = options ?? new IntegratedGradientsOptions();
    /// <summary>Registry name <c>integrated-gradients</c>.</summary>
    public string Name => "integrated-gradients";

    /// <summary>The integration nodes α_k and weights w_k of <paramref name="rule"/> with <paramref name="m"/> steps.</summary>
    public static (double[] Alphas, double[] Weights) Nodes(IntegrationRule rule, int m) => rule switch
    {
        IntegrationRule.GaussLegendre => GaussLegendreNodes(m),
        IntegrationRule.RiemannRight => (Enumerable.Range(1, m).Select(k => (double)k / m).ToArray(), Enumerable.Repeat(1.0 / m, m).ToArray()),
        IntegrationRule.RiemannMidpoint => (Enumerable.Range(1, m).Select(k => (k - 0.5) / m).ToArray(), Enumerable.Repeat(1.0 / m, m).ToArray()),
        _ => (Enumerable.Range(0, m + 1).Select(k => (double)k / m).ToArray(),
              Enumerable.Range(0, m + 1).Select(k => k == 0 || k == m ? 0.5 / m : 1.0 / m).ToArray()),
    };

    /// <summary>
    /// Gauss–Legendre nodes and weights on [0,1] (ascending α): the roots ξ of P_m by Newton's method from the Chebyshev
    /// guesses cos(π(i − ¼)/(m + ½)), weights ω = 2/((1 − ξ²)P_m'(ξ)²); α = (1 + ξ)/2, w = ω/2.
    /// </summary>
    public static (double[] Alphas, double[] Weights) GaussLegendreNodes(int m)
    {
        if (m <= 0) throw new ArgumentOutOfRangeException(nameof(m), $"Gauss–Legendre needs at least one node; got {m}.");
        var a = new double[m];
        var w = new double[m];
        for (int i = 1; i <= m; i++)
        {
            double x = Math.Cos(Math.PI * (i - 0.25) / (m + 0.5)), dp = 0;
            for (int it = 0; it < 100; it++)
            {
                // Three-term recurrence: P_0 = 1, P_1 = x, (k+1)P_{k+1} = (2k+1)xP_k − kP_{k−1}.
                double p0 = 1, p1 = x;
                for (int k = 1; k < m; k++) { double p2 = ((2 * k + 1) * x * p1 - k * p0) / (k + 1); p0 = p1; p1 = p2; }
                dp = m * (x * p1 - p0) / (x * x - 1);
                double dx = p1 / dp;
                x -= dx;
                if (Math.Abs(dx) < 1e-15) break;
            }
            {
                double p0 = 1, p1 = x;
                for (int k = 1; k < m; k++) { double p2 = ((2 * k + 1) * x * p1 - k * p0) / (k + 1); p0 = p1; p1 = p2; }
                dp = m * (x * p1 - p0) / (x * x - 1);
            }
            // Roots come out descending in x; store ascending in α.
            a[m - i] = (1 + x) / 2;
            w[m - i] = 1 / ((1 - x * x) * dp * dp);
        }
        return (a, w);
    }

    /// <summary>The attributions <c>[C,H,W]</c> (float32 or float64 like the image, on the CPU) and the diagnostics.</summary>
    public (Tensor Attributions, SaliencyDiagnostics Diagnostics) Attribute(Classifier model, Tensor image, int classIndex)
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
            [SaliencyDiagnostics.Key.CompletenessError] = Math.Abs(sum - (fx - fb)),
            [SaliencyDiagnostics.Key.ImageOutput] = fx,
            [SaliencyDiagnostics.Key.BaselineOutput] = fb,
            [SaliencyDiagnostics.Key.AttributionSum] = sum,
            [SaliencyDiagnostics.Key.Steps] = Options.Steps,
            ["rule"] = Options.Rule.ToString(),
        };
        return (attr.detach().cpu().MoveToOuterDisposeScope(), new SaliencyDiagnostics(diag));
    }

    /// <summary>The IG map <c>[H,W]</c> (attribution summed over channels, Eq 1.6) of class <paramref name="classIndex"/> for <paramref name="image"/> <c>[C,H,W]</c>, with the completeness error among the diagnostics.</summary>
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
