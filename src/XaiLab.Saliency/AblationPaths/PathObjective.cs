using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>Score of a path state and its gradient with respect to the masks.</summary>
/// <param name="Score">The score of §2.3 (mean over the T interior masks).</param>
/// <param name="Gradient">∂Score/∂φ, shape <c>[P,T,*S]</c> like the state (P = 2 for the straddling pair).</param>
/// <param name="Retaining">P↑ of the first path, <c>mean_i F(x(φ(t_i)))</c>, for the adversarial-score warning.</param>
public sealed record PathEvaluation(double Score, Tensor Gradient, double Retaining) : IDisposable
{
    public void Dispose() => Gradient.Dispose();
}

/// <summary>The classifier's view of a path: per point the explained class' score and the top class.</summary>
/// <param name="Times">t = 0, t_1 … t_T, 1 (ends included).</param>
/// <param name="Score">F(x(t)) of the explained class at each time.</param>
/// <param name="TopClass">argmax of all class scores at each time.</param>
public sealed record ScoreCurve(double[] Times, double[] Score, int[] TopClass)
{
    /// <summary>Whether the explained class ranks first at each time.</summary>
    public bool[] RanksFirst(int classIndex) => TopClass.Select(c => c == classIndex).ToArray();
}

/// <summary>
/// The scores of §2.3 with their gradients by autograd (the mask upsampling is inside the graph; Lemma 4 gives the
/// closed form <c>∇P↑(t) = (x_BL − x_Tg) ⊙ ∇F(x(t))</c>, here additionally divided by T because the integral is the
/// mean over the T interior masks). State layout: <c>[P,T,*S]</c>, P = 1 except for the straddling pair (φ↑, φ↓).
/// </summary>
public static class PathObjective
{
    /// <summary>Number of paths in the state: 2 for <see cref="AblationScore.Straddling"/>, else 1.</summary>
    public static int PathCount(AblationScore score) => score == AblationScore.Straddling ? 2 : 1;

    /// <summary>
    /// Evaluates <paramref name="score"/> at <paramref name="state"/> <c>[P,T,*S]</c> and its gradient.
    /// The masks actually shown to the classifier may be hard-quantised by <paramref name="quantise"/> (§2.4.3B);
    /// its gradient is passed straight through.
    /// </summary>
    /// <param name="batchSize">Images per classifier call (0 = all at once); gradients are accumulated over chunks.</param>
    public static PathEvaluation Evaluate(Classifier model, IPathSpace space, Tensor state, AblationScore score, int classIndex,
        int batchSize = 0, Func<Tensor, Tensor>? quantise = null)
    {
        model.CheckClass(classIndex);
        int P = PathCount(score);
        if (state.dim() != space.MaskShape.Length + 2 || state.shape[0] != P || !state.shape.Skip(2).SequenceEqual(space.MaskShape))
            throw new ArgumentException($"Path state must be [{P},T,{string.Join(",", space.MaskShape)}] for the {score} score; got [{string.Join(",", state.shape)}].");
        using var scope = NewDisposeScope();
        int T = (int)state.shape[1];
        var s = state.detach();
        // Evaluation masks E (rows) with coefficients c_j and a constant: Score = constant + Σ_j c_j F(x(E_j)).
        Tensor e; double[] coeff; double constant;
        double inv = 1.0 / T;
        switch (score)
        {
            case AblationScore.Retaining: e = s[0]; coeff = Fill(T, inv); constant = 0; break;
            case AblationScore.Dissipating: e = s[0]; coeff = Fill(T, -inv); constant = 1; break;
            case AblationScore.Contrastive: e = cat(new[] { s[0], 1 - s[0] }, 0); coeff = Fill(T, inv).Concat(Fill(T, -inv)).ToArray(); constant = 1; break;
            default: e = cat(new[] { s[0], s[1] }, 0); coeff = Fill(T, inv).Concat(Fill(T, -inv)).ToArray(); constant = 1; break;
        }
        var leaf = e.detach().clone().requires_grad_(true);
        int n = (int)leaf.shape[0];
        int bs = batchSize <= 0 ? n : batchSize;
        double total = constant, retaining = 0;
        var coeffT = tensor(coeff, device: leaf.device).to_type(leaf.dtype);
        for (int start = 0; start < n; start += bs)
        {
            using var chunkScope = NewDisposeScope();
            int len = Math.Min(bs, n - start);
            var chunk = leaf.narrow(0, start, len);
            var masks = quantise is null ? chunk : quantise(chunk);
            var f = model.Scores(space.Render(masks)).select(1, classIndex);
            var part = (f * coeffT.narrow(0, start, len)).sum();
            part.backward();
            total += part.to_type(ScalarType.Float64).item<double>();
            int firstRows = Math.Max(0, Math.Min(T, start + len) - start);
            if (firstRows > 0) retaining += f.narrow(0, 0, firstRows).detach().to_type(ScalarType.Float64).sum().item<double>();
        }
        retaining /= T;
        var g = leaf.grad ?? zeros_like(leaf);
        Tensor grad = score switch
        {
            AblationScore.Retaining or AblationScore.Dissipating => g.unsqueeze(0),
            AblationScore.Contrastive => (g.narrow(0, 0, T) - g.narrow(0, T, T)).unsqueeze(0),
            _ => stack(new[] { g.narrow(0, 0, T), g.narrow(0, T, T) }, 0),
        };
        return new PathEvaluation(total, grad.detach().clone().MoveToOuterDisposeScope(), retaining);
    }

    /// <summary>
    /// The classifier along one path <c>[T,*S]</c> with the end masks 0 and 1 included: the explained class' score
    /// and the top class at t = 0, t_1 … t_T, 1. No gradients.
    /// </summary>
    public static ScoreCurve Curve(Classifier model, IPathSpace space, Tensor path, int classIndex, int batchSize = 0)
    {
        model.CheckClass(classIndex);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int T = (int)path.shape[0];
        var p = path.detach();
        var all = cat(new[] { zeros_like(p.narrow(0, 0, 1)), p, ones_like(p.narrow(0, 0, 1)) }, 0);
        int n = T + 2, bs = batchSize <= 0 ? n : batchSize;
        var scores = new double[n];
        var top = new int[n];
        for (int start = 0; start < n; start += bs)
        {
            using var chunkScope = NewDisposeScope();
            int len = Math.Min(bs, n - start);
            var sc = model.Scores(space.Render(all.narrow(0, start, len))).to_type(ScalarType.Float64).cpu();
            var f = sc.select(1, classIndex).data<double>().ToArray();
            var am = sc.argmax(1).data<long>().ToArray();
            for (int i = 0; i < len; i++) { scores[start + i] = f[i]; top[start + i] = (int)am[i]; }
        }
        var times = Enumerable.Range(0, n).Select(i => (double)i / (T + 1)).ToArray();
        return new ScoreCurve(times, scores, top);
    }

    static double[] Fill(int n, double v) { var a = new double[n]; Array.Fill(a, v); return a; }
}
