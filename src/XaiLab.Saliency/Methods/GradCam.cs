using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Methods;

/// <summary>Options of <see cref="GradCam"/>.</summary>
public sealed record GradCamOptions
{
    /// <summary>
    /// Name of the layer whose output activations A are used, as listed by <c>Network.named_modules()</c>.
    /// Null = <see cref="GradCam.DefaultLayer"/>: TorchRay's benchmark layers, <c>layer4</c> for ResNets and
    /// <c>features.29</c> (the ReLU before pool5) for VGG16; for other networks the last leaf module (in call order)
    /// whose output is 4-D with more than one spatial position.
    /// </summary>
    public string? Layer { get; init; }
    /// <summary>Differentiated output; default the logit y^c (Selvaraju et al. 2017).</summary>
    public ExplainedOutput Output { get; init; } = ExplainedOutput.Logit;
}

/// <summary>
/// Grad-CAM (Selvaraju et al. 2017; thesis §1.2.2C): with A <c>[K,h,w]</c> the activations of the named layer and
/// α_k = mean over (h,w) of ∂y^c/∂A_k, the map is <c>ReLU(Σ_k α_k A_k)</c> at the layer's resolution <c>[h,w]</c>
/// (evaluations resize it bilinearly). Activations are captured with a forward hook on the submodule found by name in
/// <c>Classifier.Network.named_modules()</c>. Diagnostics: <c>layer</c>, <c>activation_shape</c>.
/// </summary>
public sealed class GradCam(GradCamOptions? options = null) : ISaliencyMethod
{
    /// <summary>The layer whose activations are used and the explained output (logit by default).</summary>
    public GradCamOptions Options { get; } = options ?? new GradCamOptions();
    /// <summary>Registry name <c>grad-cam</c>.</summary>
    public string Name => "grad-cam";

    /// <summary>The names of <paramref name="network"/>'s submodules (the root, named "", excluded).</summary>
    public static IReadOnlyList<string> LayerNames(nn.Module network) =>
        network.named_modules().Select(t => t.name).Where(n => n.Length > 0).ToArray();

    /// <summary>Finds the submodule named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No such layer; the message lists the layer names.</exception>
    public static nn.Module<Tensor, Tensor> FindLayer(nn.Module network, string name)
    {
        foreach (var (n, m) in network.named_modules())
            if (n == name)
                return m as nn.Module<Tensor, Tensor>
                       ?? throw new ArgumentException($"grad-cam: layer '{name}' is a {m.GetType().Name}, not a Tensor→Tensor module.");
        throw new ArgumentException($"grad-cam: unknown layer '{name}'. Layers: {string.Join(", ", LayerNames(network))}.");
    }

    /// <summary>The Grad-CAM map <c>ReLU(Σ_k α_k A_k)</c> <c>[h,w]</c> of class <paramref name="classIndex"/> for <paramref name="image"/> <c>[C,H,W]</c>, at the layer's resolution.</summary>
    /// <exception cref="ArgumentException">The layer named in the options does not exist in the model.</exception>
    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
    {
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classIndex, Name).unsqueeze(0);
        string layerName = Options.Layer ?? DefaultLayer(model, x);
        var layer = FindLayer(model.Network, layerName);
        Tensor? captured = null;
        // TorchSharp's Sequential disposes intermediate results: keep our own handle on the activations and pass a
        // view of it downstream, so that the captured tensor stays valid and lies on the path to the output.
        // The model's forward may run in its own dispose scope (FashionCnn does), which would dispose the captured handle
        // when it ends: detach it from every scope and hand it to this method's scope after the forward pass.
        var hook = layer.register_forward_hook((_, _, output) => { var keep = output.alias().DetachFromDisposeScope(); captured = keep; return keep.alias(); });
        using var _ = enable_grad();
        Tensor y;
        try { y = MethodSupport.ClassOutput(model, x, classIndex, Options.Output).sum(); }
        finally { hook.remove(); }
        if (captured is null) throw new InvalidOperationException($"grad-cam: layer '{layerName}' was not called during the forward pass.");
        using var held = captured;      // outside every scope (see above): disposed here
        if (captured.dim() != 4)
            throw new ArgumentException($"grad-cam: layer '{layerName}' outputs shape [{string.Join(",", captured.shape)}]; expected convolutional activations [1,K,h,w].");
        if (!captured.requires_grad)
            throw new InvalidOperationException($"grad-cam: the output does not depend differentiably on layer '{layerName}'.");
        var g = autograd.grad(new[] { y }, new[] { captured })[0][0];
        var a = captured.detach()[0];
        var alpha = g.mean(new long[] { 1, 2 });
        var cam = nn.functional.relu((alpha.view(-1, 1, 1) * a).sum(new long[] { 0 }));
        return new SaliencyMap(MethodSupport.Finish(cam), Name, classIndex, new Dictionary<string, object>
        {
            [SaliencyDiagnostics.Key.Layer] = layerName,
            [SaliencyDiagnostics.Key.ActivationShape] = string.Join("x", a.shape),
        });
    }

    /// <summary>
    /// The layer Grad-CAM uses when none is named: TorchRay's benchmark choice for the architectures it evaluates —
    /// <c>features.29</c> for <see cref="XaiLab.Imaging.Models.Vgg16"/>, <c>layer4</c> for any network with TorchVision's
    /// ResNet names (a module <c>layer4</c> next to <c>fc</c>) — otherwise the last leaf module, in forward-call order,
    /// whose output is 4-D with h·w &gt; 1 (found by one hooked forward pass on <paramref name="x"/> <c>[1,C,H,W]</c>).
    /// </summary>
    public static string DefaultLayer(Classifier model, Tensor x)
    {
        if (model.Network is XaiLab.Imaging.Models.Vgg16) return "features.29";
        var names = LayerNames(model.Network);
        if (names.Contains("layer4") && names.Contains("fc")) return "layer4";
        return LastSpatialLayer(model, x);
    }

    /// <summary>The last leaf module (in forward-call order) whose output is 4-D with h·w &gt; 1, found by one hooked forward pass.</summary>
    static string LastSpatialLayer(Classifier model, Tensor x)
    {
        string? last = null;
        var hooks = new List<Action>();
        try
        {
            foreach (var (n, m) in model.Network.named_modules())
            {
                if (n.Length == 0 || m.children().Any() || m is not nn.Module<Tensor, Tensor> mm) continue;
                var name = n;
                var remover = mm.register_forward_hook((_, _, o) => { if (o.dim() == 4 && o.shape[2] * o.shape[3] > 1) last = name; return o; });
                hooks.Add(() => remover.remove());
            }
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            model.Logits(x);
        }
        finally { foreach (var remove in hooks) remove(); }
        return last ?? throw new ArgumentException($"grad-cam: no layer of model '{model.Name}' outputs 4-D activations. Layers: {string.Join(", ", LayerNames(model.Network))}.");
    }
}
