using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>
/// The spiral net's last convolution (one output channel) on the CPU in float32: a <c>k×k</c> kernel over the ribbon
/// <c>[B, C, k, N]</c>, valid across its k rows and zero-padded by k/2 along the spiral (§7.3.2), i.e. exactly
/// <c>conv2d(ribbon, weight [1, C, k, k], bias, padding: (0, k/2))</c> → <c>[B, 1, 1, N]</c>. The k ribbon rows are
/// contiguous channels of one 1-D signal, so <c>y[b, i] = bias + Σ_{q &lt; C·k} Σ_{j &lt; k} w[q, j]·r[b, q, i + j − k/2]</c>
/// (w = the weight viewed as <c>[C·k, k]</c>, r = the ribbon viewed as <c>[B, C·k, N]</c>): C·k·k vector
/// multiply-adds along the spiral per batch item, and the same again for each gradient (input: shifted multiply-adds of the
/// output gradient; weight: dot products). libtorch's oneDNN convolution runs this single-output shape (a 3- or
/// 5-row input convolved down to one row) at a fraction of its speed for the Cartesian net's 1-output layer, its
/// backward especially (benchmarks/spiral-step-cpu.txt); this kernel computes the same sums in a different order
/// (float32 rounding aside). Work is split over batch items (forward, input gradient) or input channels (weight
/// gradient) on <c>torch.get_num_threads()</c> threads, each sum in a fixed order: deterministic.
/// </summary>
public static class RibbonConvolution
{
    /// <summary>
    /// <paramref name="ribbon"/> <c>[B, C, k, N]</c> convolved with <paramref name="weight"/> <c>[1, C, k, k]</c> and
    /// <paramref name="bias"/> <c>[1]</c> (or null) to <c>[B, 1, 1, N]</c>; float32 CPU tensors. Differentiable in all three.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes, dtype or device do not match.</exception>
    public static Tensor Apply(Tensor ribbon, Tensor weight, Tensor? bias)
    {
        if (ribbon.dim() != 4 || weight.dim() != 4 || weight.shape[0] != 1 || weight.shape[1] != ribbon.shape[1]
            || weight.shape[2] != ribbon.shape[2] || weight.shape[3] != ribbon.shape[2] || ribbon.shape[2] % 2 == 0
            || (bias is not null && bias.NumberOfElements != 1))
            throw new ArgumentException($"Expected a ribbon [B,C,k,N] (k odd), a weight [1,C,k,k] and a bias [1], got [{string.Join(",", ribbon.shape)}], [{string.Join(",", weight.shape)}], [{(bias is null ? "none" : string.Join(",", bias.shape))}].");
        foreach (var t in bias is null ? [ribbon, weight] : new[] { ribbon, weight, bias })
            if (t.device_type != DeviceType.CPU || t.dtype != ScalarType.Float32)
                throw new ArgumentException($"Expected float32 CPU tensors, got {t.dtype} on {t.device}.");
        return RibbonConvolutionFunction.apply(ribbon, weight, bias);
    }

    /// <summary>dst[i] += a·x[i] for i &lt; n.</summary>
    internal static unsafe void Axpy(float* dst, float a, float* x, int n)
    {
        int i = 0;
        if (Avx.IsSupported && Fma.IsSupported)
        {
            var va = Vector256.Create(a);
            for (; i + 8 <= n; i += 8) Avx.Store(dst + i, Fma.MultiplyAdd(va, Avx.LoadVector256(x + i), Avx.LoadVector256(dst + i)));
        }
        for (; i < n; i++) dst[i] += a * x[i];
    }

    /// <summary>Σ_{i &lt; n} x[i]·y[i] (four 8-lane partial sums, then the tail; a fixed order for a given n).</summary>
    internal static unsafe double Dot(float* x, float* y, int n)
    {
        int i = 0; double s = 0;
        if (Avx.IsSupported && Fma.IsSupported)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (; i + 32 <= n; i += 32)
            {
                a0 = Fma.MultiplyAdd(Avx.LoadVector256(x + i), Avx.LoadVector256(y + i), a0);
                a1 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 8), Avx.LoadVector256(y + i + 8), a1);
                a2 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 16), Avx.LoadVector256(y + i + 16), a2);
                a3 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 24), Avx.LoadVector256(y + i + 24), a3);
            }
            for (; i + 8 <= n; i += 8) a0 = Fma.MultiplyAdd(Avx.LoadVector256(x + i), Avx.LoadVector256(y + i), a0);
            var v = Avx.Add(Avx.Add(a0, a1), Avx.Add(a2, a3));
            for (int l = 0; l < 8; l++) s += v.GetElement(l);
        }
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }
}

/// <summary>Autograd function of <see cref="RibbonConvolution.Apply"/>.</summary>
public sealed class RibbonConvolutionFunction : torch.autograd.SingleTensorFunction<RibbonConvolutionFunction>
{
    /// <summary>The autograd function's name in torch's graph.</summary>
    public override string Name => "SpiralRibbonConvolution1";

    /// <summary>Forward: <c>vars</c> = ribbon <c>[B,C,k,N]</c>, weight <c>[1,C,k,k]</c>, bias <c>[1]</c> or null; returns <c>[B,1,1,N]</c>.</summary>
    public override unsafe Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var ribbon = (Tensor)vars[0]; var weight = (Tensor)vars[1]; var bias = vars[2] as Tensor;
        ctx.save_for_backward([ribbon, weight]);
        ctx.save_data("bias", bias is not null);
        int b = (int)ribbon.shape[0], q = (int)(ribbon.shape[1] * ribbon.shape[2]), k = (int)ribbon.shape[2], n = (int)ribbon.shape[3], h = k / 2;
        using var r = ribbon.detach().contiguous();
        using var w = weight.detach().contiguous();
        float b0 = bias is null ? 0f : bias.detach().cpu().item<float>();
        var y = empty([b, 1, 1, n], ScalarType.Float32);
        var wv = w.data<float>().ToArray();
        ResamplingKernel.Split(b, (b0_, b1_) =>
        {
            fixed (byte* rb = r.bytes, yb = y.bytes)
            fixed (float* wp = wv)
                for (int bi = b0_; bi < b1_; bi++)
                {
                    float* dst = (float*)yb + (long)bi * n;
                    new Span<float>(dst, n).Fill(b0);
                    for (int c = 0; c < q; c++)
                    {
                        float* src = (float*)rb + ((long)bi * q + c) * n;
                        for (int j = 0; j < k; j++)
                        {
                            int off = j - h, lo = Math.Max(0, -off), hi = Math.Min(n, n - off);
                            RibbonConvolution.Axpy(dst + lo, wp[c * k + j], src + lo + off, hi - lo);
                        }
                    }
                }
        });
        return y;
    }

    /// <summary>Backward: gradients of the ribbon (shifted multiply-adds), the weight (dot products) and the bias (a sum).</summary>
    public override unsafe List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        var saved = ctx.get_saved_variables();
        using var r = saved[0].detach().contiguous();
        using var w = saved[1].detach().contiguous();
        bool hasBias = (bool)ctx.get_data("bias");
        using var g = grad_output.to(ScalarType.Float32).contiguous();
        int b = (int)r.shape[0], q = (int)(r.shape[1] * r.shape[2]), k = (int)r.shape[2], n = (int)r.shape[3], h = k / 2;
        var wv = w.data<float>().ToArray();
        var gr = empty(r.shape, ScalarType.Float32);
        var gwv = new float[q * k];
        ResamplingKernel.Split(b * q, (r0, r1) =>
        {
            fixed (byte* gb = g.bytes, grb = gr.bytes)
            fixed (float* wp = wv)
                for (int row = r0; row < r1; row++)
                {
                    int bi = row / q, c = row % q;
                    float* dst = (float*)grb + (long)row * n, src = (float*)gb + (long)bi * n;
                    new Span<float>(dst, n).Clear();
                    for (int j = 0; j < k; j++)
                    {
                        // y[i] uses r[i + off] ⇒ ∂/∂r[t] = Σ_j w[c,j]·g[t − off] for 0 ≤ t − off < n.
                        int off = j - h, lo = Math.Max(0, off), hi = Math.Min(n, n + off);
                        RibbonConvolution.Axpy(dst + lo, wp[c * k + j], src + lo - off, hi - lo);
                    }
                }
        });
        ResamplingKernel.Split(q, (c0, c1) =>
        {
            fixed (byte* gb = g.bytes, rb = r.bytes)
            fixed (float* gw = gwv)
                for (int c = c0; c < c1; c++)
                    for (int j = 0; j < k; j++)
                    {
                        int off = j - h, lo = Math.Max(0, -off), hi = Math.Min(n, n - off);
                        double s = 0;
                        for (int bi = 0; bi < b; bi++)
                            s += RibbonConvolution.Dot((float*)gb + (long)bi * n + lo, (float*)rb + ((long)bi * q + c) * n + lo + off, hi - lo);
                        gw[c * k + j] = (float)s;
                    }
        });
        var gw = tensor(gwv).view(saved[1].shape);
        var gbias = hasBias ? g.sum().view(1) : null;
        return new List<Tensor> { gr, gw, gbias! };
    }
}
