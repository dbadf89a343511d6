using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency;

/// <summary>
/// A saliency map <c>[H,W]</c> (float32, CPU) where larger means more salient, for every method (SPEC, "Conventions").
/// It may be at a lower resolution than the image (e.g. Grad-CAM, mask-resolution ablation paths); evaluations resize it.
/// </summary>
/// <param name="Map">The map <c>[h,w]</c>; larger = more salient.</param>
/// <param name="Method">The name of the method that produced it.</param>
/// <param name="ClassIndex">The explained class.</param>
/// <param name="Diagnostics">Method-specific figures (e.g. IG's completeness error, iterations, stop reason), snake_case keys
/// with typed properties for the well-known ones (<see cref="SaliencyDiagnostics"/>: <c>map.Diagnostics?.CompletenessError</c>).</param>
public sealed record SaliencyMap(Tensor Map, string Method, int ClassIndex, SaliencyDiagnostics? Diagnostics = null) : IDisposable
{
    /// <summary>Map height h (may be below the image's).</summary>
    public int Height => (int)Map.shape[0];
    /// <summary>Map width w.</summary>
    public int Width => (int)Map.shape[1];

    /// <summary>The map resized bilinearly (align_corners = false) to <paramref name="height"/>×<paramref name="width"/>.</summary>
    public Tensor Resized(int height, int width)
    {
        if (Height == height && Width == width) return Map.alias();
        using var scope = NewDisposeScope();
        var r = nn.functional.interpolate(Map.unsqueeze(0).unsqueeze(0).to_type(ScalarType.Float32),
            new long[] { height, width }, mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
        return r.MoveToOuterDisposeScope();
    }

    /// <summary>Disposes <see cref="Map"/>.</summary>
    public void Dispose() => Map.Dispose();
}

/// <summary>
/// One interface for every saliency method (Captum's lesson): a user who learned one method knows them all,
/// and an evaluation loop (pointing game, insertion/deletion, sanity checks) takes any of them.
/// </summary>
public interface ISaliencyMethod
{
    /// <summary>Short stable name used on the command line and in result files (e.g. <c>gradient</c>, <c>rise</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Explains class <paramref name="classIndex"/> of <paramref name="model"/> on one image <c>[C,H,W]</c> in [0,1].
    /// </summary>
    /// <exception cref="ArgumentException">The image does not fit the model.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The class index is out of range.</exception>
    SaliencyMap Explain(Classifier model, Tensor image, int classIndex);
}
