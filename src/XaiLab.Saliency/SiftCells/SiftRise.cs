using System.Diagnostics;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Saliency.SiftCells;

/// <summary>Options of <see cref="SiftRise"/>.</summary>
public sealed record SiftRiseOptions
{
    /// <summary>Number of random feature subsets N. Default 2000 (the features are far fewer than RISE's pixels, so fewer samples suffice).</summary>
    public int Masks { get; init; } = 2000;
    /// <summary>Probability p that a feature is kept (θ_j = 1); default 0.5, as pixel RISE.</summary>
    public double KeepProbability { get; init; } = 0.5;
    /// <summary>Gain vectors per classifier batch (memory knob; does not change the result). Default 32.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Seed of the subset generator (a private generator; the global torch seed is untouched). Default 0.</summary>
    public long Seed { get; init; }
    /// <summary>The SIFT feature basis built for each image (η, sparsity, detector, …). Default: the thesis' defaults.</summary>
    public SiftBasisOptions Basis { get; init; } = new();
}

/// <summary>
/// RISE over SIFT features — the future work proposed in thesis §4.3.2/§4.4: instead of random grid cells, random subsets
/// of the image's SIFT features are switched off, θ_i ∈ {0,1}^K with P(θ_ij = 1) = p, and the classifier sees D(θ_i), the
/// SIFT decoder's image with only those features (removed features go to the implicit baseline θ = 0; no sub-resolution
/// grid or interpolation choices are needed). The feature saliency is RISE's Monte-Carlo estimate
/// <c>s_j = Σ_i F(D(θ_i))·θ_ij / (N·p)</c> ≈ E[F | feature j kept], and the spatial map is its Voronoi-field heatmap
/// (Eq 4.46 with C = 1), a convex combination of the s_j of the cells covering each pixel (θ ≡ 1 maps to 1).
/// All subsets are drawn first, in a fixed order, so the batch size does not change the map.
/// Diagnostics: <c>keypoints</c>, <c>masks</c>, <c>seed</c>, <c>mean_score</c>, <c>basis_seconds</c>, <c>reconstruction_error</c>, <c>feature_saliency</c> (double[K]).
/// </summary>
public sealed class SiftRise(SiftRiseOptions? options = null) : ISaliencyMethod
{
    /// <summary>The options.</summary>
    public SiftRiseOptions Options { get; } = options ?? new SiftRiseOptions();
    /// <summary><c>sift-rise</c>.</summary>
    public string Name => "sift-rise";

    /// <summary>Explains with a basis built for <paramref name="image"/> (see <see cref="Explain(Classifier, SiftFeatureBasis, int)"/>).</summary>
    public SaliencyMap Explain(Classifier model, Tensor image, int classIndex)
    {
        Validate();
        using var scope = NewDisposeScope();
        var x = MethodSupport.PrepareImage(model, image, classIndex, Name).to_type(ScalarType.Float32);
        using var basis = SiftFeatureBasis.Build(x.cpu(), Options.Basis);
        if (model.Device.type != DeviceType.CPU) basis.To(model.Device);
        var result = Explain(model, basis, classIndex);
        result.Map.MoveToOuterDisposeScope(); // out of this method's scope, into the caller's
        return result;
    }

    /// <summary>Explains class <paramref name="classIndex"/> on the image of a given basis (reuse one basis for several classes or methods).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Options out of range, or the class index.</exception>
    public SaliencyMap Explain(Classifier model, SiftFeatureBasis basis, int classIndex)
    {
        Validate();
        model.CheckClass(classIndex);
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        int k = basis.K, n = Options.Masks;
        using var gen = new Generator((ulong)Options.Seed, CPU);
        var subsets = (rand(new long[] { n, k }, generator: gen) < Options.KeepProbability).to_type(ScalarType.Float32); // [N,K], CPU
        var weighted = zeros(k, dtype: ScalarType.Float64);
        double scoreSum = 0;
        using (no_grad())
        {
            for (int start = 0; start < n; start += Options.BatchSize)
            {
                using var inner = NewDisposeScope();
                int m = Math.Min(Options.BatchSize, n - start);
                var theta = subsets.narrow(0, start, m);
                var f = model.Scores(basis.Render(theta.to(basis.Device)))[.., classIndex].to_type(ScalarType.Float64).cpu();
                scoreSum += f.sum().item<double>();
                weighted.add_(matmul(f.unsqueeze(0), theta.to_type(ScalarType.Float64))[0]);
            }
        }
        var saliency = (weighted / (n * Options.KeepProbability)).to_type(ScalarType.Float32);
        var map = basis.VoronoiField(saliency.unsqueeze(0).to(basis.Device))[0];
        var diagnostics = new Dictionary<string, object>
        {
            ["keypoints"] = k, ["masks"] = n, ["seed"] = Options.Seed, ["mean_score"] = scoreSum / n,
            ["basis_seconds"] = basis.Diagnostics.BuildSeconds, ["reconstruction_error"] = basis.Diagnostics.ReconstructionError,
            ["explain_seconds"] = clock.Elapsed.TotalSeconds,
            ["feature_saliency"] = saliency.data<float>().ToArray().Select(v => (double)v).ToArray(),
        };
        return new SaliencyMap(MethodSupport.Finish(map), Name, classIndex, diagnostics);
    }

    void Validate()
    {
        MethodSupport.CheckPositive(Options.Masks, nameof(Options.Masks), Name);
        MethodSupport.CheckPositive(Options.BatchSize, nameof(Options.BatchSize), Name);
        if (!(Options.KeepProbability > 0 && Options.KeepProbability < 1))
            throw new ArgumentOutOfRangeException(nameof(Options.KeepProbability), $"{Name}: keep probability must lie in (0,1); got {Options.KeepProbability}.");
        Options.Basis.Validate();
    }
}
