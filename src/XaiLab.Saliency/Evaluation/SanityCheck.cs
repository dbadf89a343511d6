using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Evaluation;

/// <summary>How the weights are randomised in the model-randomisation test.</summary>
public enum RandomisationMode
{
    /// <summary>Adebayo et al.'s cascading test: re-initialise layers one more at a time, starting from the top (output) layer.</summary>
    Cascading,
    /// <summary>All layers at once (one stage).</summary>
    AllAtOnce,
}

/// <summary>Options of <see cref="SanityCheck.ModelRandomisation"/>.</summary>
public sealed record ModelRandomisationOptions
{
    /// <summary>Cascading (layers randomised from the top, one more per stage) or all at once; default cascading.</summary>
    public RandomisationMode Mode { get; init; } = RandomisationMode.Cascading;
    /// <summary>Seed of the new weights; default 0.</summary>
    public long Seed { get; init; }
}

/// <summary>One stage: the layers randomised so far and the rank correlations of the new saliency with the original.</summary>
/// <param name="Spearman">Spearman correlation of the signed maps.</param>
/// <param name="SpearmanAbs">Spearman correlation of the absolute maps (Adebayo et al. report both).</param>
/// <param name="RandomisedLayers">Names of the layers re-initialised so far.</param>
public sealed record RandomisationStage(IReadOnlyList<string> RandomisedLayers, double Spearman, double SpearmanAbs);

/// <summary>The model-randomisation test's result; the model's weights are restored afterwards.</summary>
public sealed record ModelRandomisationResult(string Method, RandomisationMode Mode, IReadOnlyList<RandomisationStage> Stages);

/// <summary>
/// Sanity checks for saliency methods (Adebayo et al. 2018; thesis §1.2.4A): a method that explains the model must change
/// its output when the model's weights are randomised. Reported as Spearman rank correlation between the original and
/// the randomised saliency (≈ 1: the method ignores the weights — it fails the check).
/// </summary>
public static class SanityCheck
{
    /// <summary>
    /// Spearman rank correlation of two maps of equal shape (Pearson correlation of their ranks; ties get average ranks).
    /// NaN when either map is constant.
    /// </summary>
    public static double Spearman(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) throw new ArgumentException($"Spearman: shapes differ, [{string.Join(",", a.shape)}] vs [{string.Join(",", b.shape)}].");
        var ra = Ranks(a.detach().cpu().to_type(ScalarType.Float64).flatten().data<double>().ToArray());
        var rb = Ranks(b.detach().cpu().to_type(ScalarType.Float64).flatten().data<double>().ToArray());
        double ma = ra.Average(), mb = rb.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < ra.Length; i++) { sab += (ra[i] - ma) * (rb[i] - mb); saa += (ra[i] - ma) * (ra[i] - ma); sbb += (rb[i] - mb) * (rb[i] - mb); }
        return saa == 0 || sbb == 0 ? double.NaN : sab / Math.Sqrt(saa * sbb);
    }

    /// <summary>Ranks 1..n with ties sharing their average rank.</summary>
    public static double[] Ranks(double[] v)
    {
        var idx = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
        var r = new double[v.Length];
        for (int i = 0; i < idx.Length;)
        {
            int j = i;
            while (j + 1 < idx.Length && v[idx[j + 1]] == v[idx[i]]) j++;
            double avg = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) r[idx[k]] = avg;
            i = j + 1;
        }
        return r;
    }

    /// <summary>
    /// The layers of <paramref name="network"/> that own parameters, in definition order (bottom to top).
    /// </summary>
    public static IReadOnlyList<string> ParameterLayers(nn.Module network) =>
        network.named_modules().Where(t => t.module.named_parameters(recurse: false).Any()).Select(t => t.name).ToArray();

    /// <summary>
    /// The modules with parameters in the order the forward pass calls them (found by one hooked forward pass on
    /// <paramref name="image"/>), so that "from the top" means from the output layer down whatever order the
    /// modules were registered in (hooks fire for submodules invoked with <c>call</c>, as <c>Sequential</c> does). Modules
    /// the pass does not reach keep their registration order, at the start.
    /// </summary>
    public static IReadOnlyList<string> ParameterLayersInCallOrder(Classifier model, Tensor image)
    {
        var withParams = ParameterLayers(model.Network);
        var order = new List<string>();
        var hooks = new List<Action>();
        try
        {
            var modules = model.Network.named_modules().ToDictionary(t => t.name, t => t.module);
            foreach (var name in withParams)
            {
                if (modules[name] is not nn.Module<Tensor, Tensor> m) continue;
                var n = name;
                var remover = m.register_forward_hook((_, _, o) => { if (!order.Contains(n)) order.Add(n); return o; });
                hooks.Add(() => remover.remove());
            }
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            model.Logits(image);
        }
        finally { foreach (var remove in hooks) remove(); }
        return withParams.Where(n => !order.Contains(n)).Concat(order).ToArray();
    }

    /// <summary>
    /// Runs <paramref name="method"/> on the original model and after randomising its layers (cascading from the top, or all
    /// at once). Each parameter tensor is redrawn from a zero-mean Gaussian with the original tensor's standard deviation
    /// (1/√fan_in where that is 0, e.g. constant biases). The original weights are restored afterwards, also on error.
    /// </summary>
    public static ModelRandomisationResult ModelRandomisation(Classifier model, ISaliencyMethod method, Tensor image, int classIndex, ModelRandomisationOptions? options = null)
    {
        var o = options ?? new ModelRandomisationOptions();
        var layers = ParameterLayersInCallOrder(model, image);
        if (layers.Count == 0) throw new ArgumentException($"Model randomisation: model '{model.Name}' has no parameters.");
        var modules = model.Network.named_modules().ToDictionary(t => t.name, t => t.module);
        var saved = model.Network.parameters().Select(p => p.detach().clone().DetachFromDisposeScope()).ToArray();
        var stages = new List<RandomisationStage>();
        using var gen = new Generator((ulong)o.Seed, CPU);
        try
        {
            using var original = method.Explain(model, image, classIndex);
            var topDown = layers.Reverse().ToArray();
            var groups = o.Mode == RandomisationMode.AllAtOnce
                ? new[] { topDown }
                : Enumerable.Range(1, topDown.Length).Select(k => topDown.Take(k).ToArray()).ToArray();
            int done = 0;
            foreach (var group in groups)
            {
                for (; done < group.Length; done++) Randomise(modules[group[done]], gen);
                using var randomised = method.Explain(model, image, classIndex);
                using var scope = NewDisposeScope();
                var a = original.Map;
                var b = randomised.Resized(original.Height, original.Width);
                stages.Add(new RandomisationStage(group, Spearman(a, b), Spearman(a.abs(), b.abs())));
            }
        }
        finally
        {
            using (no_grad())
            {
                var ps = model.Network.parameters().ToArray();
                for (int i = 0; i < ps.Length; i++) ps[i].copy_(saved[i]);
            }
            foreach (var s in saved) s.Dispose();
        }
        return new ModelRandomisationResult(method.Name, o.Mode, stages);
    }

    static void Randomise(nn.Module module, Generator gen)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (_, p) in module.named_parameters(recurse: false))
        {
            double std = p.numel() > 1 ? p.to_type(ScalarType.Float64).std().item<double>() : 0;
            if (!(std > 0)) std = 1 / Math.Sqrt(Math.Max(1, p.dim() >= 2 ? p.numel() / p.shape[0] : p.numel()));
            var r = randn(p.shape, dtype: ScalarType.Float64, generator: gen) * std;
            p.copy_(r.to(p.device).to_type(p.dtype));
        }
    }
}
