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
    /// <summary>Disposes <see cref="Gradient"/>.</summary>
    public void Dispose() => Gradient.Dispose();
}

/// <summary>Scores and gradients of B path states, all on the device (reading them is the caller's host synchronisation).</summary>
/// <param name="Scores">The score of §2.3 of each path, <c>[B]</c>.</param>
/// <param name="Gradient">∂Score_b/∂φ_b, <c>[B,P,T,*S]</c>.</param>
/// <param name="Retaining">P↑ of each first path, <c>[B]</c>.</param>
public sealed record PathEvaluationBatch(Tensor Scores, Tensor Gradient, Tensor Retaining) : IDisposable
{
    /// <summary>Disposes the three device tensors <see cref="Scores"/>, <see cref="Gradient"/> and <see cref="Retaining"/>.</summary>
    public void Dispose() { Scores.Dispose(); Gradient.Dispose(); Retaining.Dispose(); }
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

    /// <summary>Rows (masks shown to the classifier) per path state: T, or 2T for the contrastive and straddling scores.</summary>
    public static int RowsPerPath(AblationScore score, int steps) => score is AblationScore.Contrastive or AblationScore.Straddling ? 2 * steps : steps;

    /// <summary>
    /// Evaluates <paramref name="score"/> at <paramref name="state"/> <c>[P,T,*S]</c> and its gradient.
    /// The masks actually shown to the classifier may be hard-quantised by <paramref name="quantise"/> (§2.4.3B);
    /// its gradient is passed straight through.
    /// </summary>
    /// <param name="batchSize">Images per classifier call (0 = all at once); gradients are accumulated over chunks.</param>
    /// <param name="model">The classifier whose class score F is evaluated along the path.</param>
    /// <param name="space">The path space that renders a mask φ(t_i) into the image x(φ(t_i)) (§2.6.1).</param>
    /// <param name="state">The path state <c>[P,T,*S]</c> with values in [0,1], 1 = ablated (P = 2 only for the straddling pair).</param>
    /// <param name="score">Which path score of §2.3 to evaluate (Eq 2.13–2.16).</param>
    /// <param name="classIndex">The explained class c.</param>
    /// <param name="quantise">Optional hard quantisation of each mask batch (§2.4.3B); null = soft masks as they are.</param>
    public static PathEvaluation Evaluate(Classifier model, IPathSpace space, Tensor state, AblationScore score, int classIndex,
        int batchSize = 0, Func<Tensor, Tensor>? quantise = null)
    {
        model.CheckClass(classIndex);
        int P = PathCount(score);
        if (state.dim() != space.MaskShape.Length + 2 || state.shape[0] != P || !state.shape.Skip(2).SequenceEqual(space.MaskShape))
            throw new ArgumentException($"Path state must be [{P},T,{string.Join(",", space.MaskShape)}] for the {score} score; got [{string.Join(",", state.shape)}].");
        using var scope = NewDisposeScope();
        var ev = EvaluateCore(model, new[] { space }, state.unsqueeze(0), score, new[] { classIndex }, batchSize,
            quantise is null ? null : (m, _) => quantise(m));
        var sc = stack(new[] { ev.Scores, ev.Retaining }, 0).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        return new PathEvaluation(sc[0], ev.Gradient[0].detach().clone().MoveToOuterDisposeScope(), sc[1]);
    }

    /// <summary>
    /// Batched evaluation for <see cref="AblationPath.OptimiseMany(Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>:
    /// B path states <c>[B,P,T,*S]</c>, path b rendered by <paramref name="spaces"/>[b] and scored for
    /// <paramref name="classes"/>[b]; all B·rows masks go through the classifier together (chunks of
    /// <paramref name="batchSize"/> images, 0 = all at once). Everything stays on the device: no host synchronisation.
    /// </summary>
    /// <param name="quantisation">Hard masks with a straight-through gradient (§2.4.3B).</param>
    /// <param name="uniform">For <see cref="MaskQuantisation.Random"/>: the uniform draws <c>[B·rows,*S]</c>, one per evaluated mask.</param>
    /// <param name="model">The classifier whose class scores are evaluated.</param>
    /// <param name="spaces">One path space per path state (B of them, all with the same <see cref="IPathSpace.MaskShape"/>).</param>
    /// <param name="states">The path states <c>[B,P,T,*S]</c>, values in [0,1], 1 = ablated.</param>
    /// <param name="score">Which path score of §2.3 to evaluate (Eq 2.13–2.16), shared by all B paths.</param>
    /// <param name="classes">The explained class of each path (B entries).</param>
    /// <param name="batchSize">Images per classifier call (0 = all B·rows at once); gradients are accumulated over chunks.</param>
    public static PathEvaluationBatch EvaluateMany(Classifier model, IReadOnlyList<IPathSpace> spaces, Tensor states, AblationScore score,
        IReadOnlyList<int> classes, int batchSize = 0, MaskQuantisation quantisation = MaskQuantisation.None, Tensor? uniform = null)
    {
        int P = PathCount(score);
        var maskShape = spaces[0].MaskShape;
        if (states.dim() != maskShape.Length + 3 || states.shape[0] != spaces.Count || states.shape[1] != P || !states.shape.Skip(3).SequenceEqual(maskShape))
            throw new ArgumentException($"Path states must be [{spaces.Count},{P},T,{string.Join(",", maskShape)}] for the {score} score; got [{string.Join(",", states.shape)}].");
        if (classes.Count != spaces.Count) throw new ArgumentException($"One class per path: {spaces.Count} spaces, {classes.Count} classes.");
        foreach (var c in classes) model.CheckClass(c);
        Func<Tensor, long, Tensor>? q = quantisation switch
        {
            MaskQuantisation.Threshold => (m, _) => m + (m.detach().ge(0.5).to_type(m.dtype) - m.detach()),
            MaskQuantisation.Random => uniform is null
                ? throw new ArgumentException("Random quantisation needs the uniform draws.")
                : (m, start) => m + (uniform.narrow(0, start, m.shape[0]).lt(m.detach()).to_type(m.dtype) - m.detach()),
            _ => null,
        };
        return EvaluateCore(model, spaces, states, score, classes, batchSize, q);
    }

    static PathEvaluationBatch EvaluateCore(Classifier model, IReadOnlyList<IPathSpace> spaces, Tensor states, AblationScore score,
        IReadOnlyList<int> classes, int batchSize, Func<Tensor, long, Tensor>? quantise)
    {
        using var scope = NewDisposeScope();
        int B = (int)states.shape[0], T = (int)states.shape[2];
        var s = states.detach();
        var maskShape = s.shape.Skip(3).ToArray();
        // Evaluation masks E (rows per path) with coefficients c_j and a constant: Score = constant + Σ_j c_j F(x(E_j)).
        Tensor e; double[] coeff; double constant;
        double inv = 1.0 / T;
        switch (score)
        {
            case AblationScore.Retaining: e = s.select(1, 0); coeff = Fill(T, inv); constant = 0; break;
            case AblationScore.Dissipating: e = s.select(1, 0); coeff = Fill(T, -inv); constant = 1; break;
            case AblationScore.Contrastive: e = cat(new[] { s.select(1, 0), 1 - s.select(1, 0) }, 1); coeff = Fill(T, inv).Concat(Fill(T, -inv)).ToArray(); constant = 1; break;
            default: e = s.reshape(new long[] { B, 2 * T }.Concat(maskShape).ToArray()); coeff = Fill(T, inv).Concat(Fill(T, -inv)).ToArray(); constant = 1; break;
        }
        int R = coeff.Length;
        var leaf = e.reshape(new long[] { B * R }.Concat(maskShape).ToArray()).detach().clone().requires_grad_(true);
        int n = B * R;
        int bs = batchSize <= 0 ? n : batchSize;
        // Coefficients and classes per row, made on the device by fills (a host→device copy would synchronise).
        var dev = leaf.device;
        var coeffPath = coeff.Length == T ? full(T, coeff[0], dtype: leaf.dtype, device: dev)
            : cat(new[] { full(T, coeff[0], dtype: leaf.dtype, device: dev), full(T, coeff[T], dtype: leaf.dtype, device: dev) }, 0);
        var coeffRows = coeffPath.repeat(B);                                                                        // [B·R]
        var classRows = cat(classes.Select(c => full(R, (long)c, dtype: ScalarType.Int64, device: dev)).ToArray(), 0); // [B·R]
        var values = new List<Tensor>();
        for (int start = 0; start < n; start += bs)
        {
            int len = Math.Min(bs, n - start);
            Tensor f;
            using (var chunkScope = NewDisposeScope())
            {
                // Render the chunk's rows path by path (each path has its own space), then one classifier call.
                var images = new List<Tensor>();
                for (int b = start / R; b * R < start + len; b++)
                {
                    int lo = Math.Max(start, b * R), hi = Math.Min(start + len, (b + 1) * R);
                    var masks = leaf.narrow(0, lo, hi - lo);
                    if (quantise is not null) masks = quantise(masks, lo);
                    images.Add(spaces[b].Render(masks));
                }
                var scores = model.Scores(images.Count == 1 ? images[0] : cat(images.ToArray(), 0));
                f = scores.gather(1, classRows.narrow(0, start, len).unsqueeze(1)).squeeze(1);
                (f * coeffRows.narrow(0, start, len)).sum().backward();
                f = f.detach().MoveToOuterDisposeScope();
            }
            values.Add(f);
        }
        var fAll = (values.Count == 1 ? values[0] : cat(values.ToArray(), 0)).reshape(B, R);
        var total = (fAll * coeffRows.reshape(B, R)).sum(new long[] { 1 }) + constant;   // [B]
        var retaining = fAll.narrow(1, 0, T).mean(new long[] { 1 });                        // [B]
        var g = (leaf.grad ?? zeros_like(leaf)).reshape(new long[] { B, R }.Concat(maskShape).ToArray());
        Tensor grad = score switch
        {
            AblationScore.Retaining or AblationScore.Dissipating => g.unsqueeze(1),
            AblationScore.Contrastive => (g.narrow(1, 0, T) - g.narrow(1, T, T)).unsqueeze(1),
            _ => g.reshape(new long[] { B, 2, T }.Concat(maskShape).ToArray()),
        };
        return new PathEvaluationBatch(total.MoveToOuterDisposeScope(), grad.detach().clone().MoveToOuterDisposeScope(), retaining.MoveToOuterDisposeScope());
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
