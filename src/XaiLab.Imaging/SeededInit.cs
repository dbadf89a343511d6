using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace XaiLab.Imaging;

/// <summary>
/// Seeded weight initialisation without libtorch's process-global generator. Constructing a TorchSharp layer draws its
/// default initialisation from the global generator, so <c>torch.manual_seed(s)</c> followed by construction is
/// reproducible only while no other thread draws from that generator in between. <see cref="Apply{T}(T, ulong)"/>
/// re-draws every parameter from a private <see cref="Generator"/> instead, with torch's default rules, visiting the
/// layers in pre-order (a module before its children, children in registration order) — for a freshly built network
/// the order in which construction drew them. For the
/// architectures of this code base (plain, residual and denoising CNNs whose layers are registered in construction
/// order) the weights are therefore bit-identical to <c>manual_seed(seed)</c> + construction (checked by the test suite).
/// Rules: convolutions and linear layers get a Kaiming-uniform weight with a = √5 (bound √(6/((1+a²)·fan_in))) and a bias
/// uniform in ±1/√fan_in; batch/layer/group norms get weight 1, bias 0 and reset running statistics. Parameter-free
/// modules are skipped; any other module that owns parameters is an error (its initialisation is unknown here).
/// </summary>
public static class SeededInit
{
    /// <summary>Re-initialises <paramref name="module"/> from a fresh generator seeded with <paramref name="seed"/>; returns the module.</summary>
    public static T Apply<T>(T module, ulong seed) where T : nn.Module
    {
        Devices.EnsureNativeLoaded();
        using var gen = new Generator(seed, CPU);
        return Apply(module, gen);
    }

    /// <summary>
    /// Re-initialises every parameter of <paramref name="module"/> from <paramref name="generator"/> (a CPU generator, so the
    /// module must still be on the CPU: initialise first, then move it); returns the module.
    /// </summary>
    /// <exception cref="ArgumentException">A module owns parameters but is not a convolution, linear layer or normalisation layer.</exception>
    public static T Apply<T>(T module, Generator generator) where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(generator);
        using var _ = no_grad();
        Visit(module, "", generator);
        return module;
    }

    // Pre-order over the registered children: a module, then each child's subtree in registration order.
    static void Visit(nn.Module m, string name, Generator generator)
    {
        switch (m)
        {
            case Convolution c: Layer(c.weight, c.bias, generator); break;
            case Linear l: Layer(l.weight!, l.bias, generator); break;
            case BatchNorm1d or BatchNorm2d or BatchNorm3d or LayerNorm or GroupNorm:
                foreach (var (pn, p) in m.named_parameters(recurse: false)) { if (pn == "weight") p.fill_(1); else p.zero_(); }
                foreach (var (bn, b) in m.named_buffers(recurse: false)) { if (bn == "running_var") b.fill_(1); else b.zero_(); }
                break;
            default:
                if (m.named_parameters(recurse: false).Any())
                    throw new ArgumentException($"SeededInit: module '{(name.Length == 0 ? m.GetName() : name)}' ({m.GetType().Name}) owns parameters but is not a convolution, linear or normalisation layer; expected only those to own parameters.");
                break;
        }
        foreach (var (childName, child) in m.named_children())
            Visit(child, name.Length == 0 ? childName : name + "." + childName, generator);
    }

    // torch's reset_parameters of Conv*/Linear: kaiming_uniform_(weight, a = √5) then bias ~ U(±1/√fan_in).
    static void Layer(Tensor weight, Tensor? bias, Generator g)
    {
        long fanIn = FanIn(weight);
        double a = Math.Sqrt(5);
        double gain = Math.Sqrt(2.0 / (1 + a * a));
        double std = fanIn == 0 ? 0 : gain / Math.Sqrt(fanIn);
        double bound = Math.Sqrt(3.0) * std;
        weight.uniform_(-bound, bound, generator: g);
        if (bias is not null && fanIn != 0)
        {
            double b = 1 / Math.Sqrt(fanIn);
            bias.uniform_(-b, b, generator: g);
        }
    }

    static long FanIn(Tensor w) => w.dim() < 2 ? w.numel() : w.shape[1] * (w.dim() > 2 ? w.shape.Skip(2).Aggregate(1L, (x, y) => x * y) : 1);
}
