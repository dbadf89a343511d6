using System.Security.Cryptography;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>
/// Shares optimised paths between <see cref="AblationPathMethod"/>s that differ only in their reduction or window: the
/// reductions of §2.7.2 (average, class transition, influence weighting) and the window (Eq 2.37) all read the same
/// path, so a pointing game naming <c>ablation-path-avg,ablation-path-clt,ablation-path-clt-window</c> optimises each
/// (image, class) once instead of three times. The contrastive average uses the straddling score, so its options
/// differ and it gets its own path.
/// <para>Keys are the model's name, the image's content (SHA-256 of its float32 values: every caller may pass its own
/// copy), the class and the full <see cref="AblationPathOptions"/> (record equality). Only the paths of the most recent
/// <see cref="Capacity"/> images are kept (older ones are disposed), so memory stays bounded over a dataset run that
/// visits the images in order. Thread-safe. The cache owns its results: callers read them and never dispose them.</para>
/// </summary>
public sealed class AblationPathCache : IDisposable
{
    readonly object _gate = new();
    readonly Dictionary<Key, AblationPathResult> _paths = new();
    readonly LinkedList<string> _images = new();

    /// <param name="capacity">Images whose paths are kept (≥ 1); default 16, enough for a runner batch of images.</param>
    public AblationPathCache(int capacity = 16)
    {
        if (capacity < 1) throw new ArgumentException($"AblationPathCache: capacity must be ≥ 1; got {capacity}.", nameof(capacity));
        Capacity = capacity;
    }

    /// <summary>Images whose paths are kept.</summary>
    public int Capacity { get; }
    /// <summary>Paths optimised through this cache (misses).</summary>
    public int Optimised { get; private set; }
    /// <summary>Requests answered from the cache (hits).</summary>
    public int Reused { get; private set; }

    readonly record struct Key(string Model, string Image, int Class, AblationPathOptions Options);

    /// <summary>The content key of an image <c>[C,H,W]</c>: its shape and the SHA-256 of its float32 values.</summary>
    public static string ImageKey(Tensor image)
    {
        using var scope = NewDisposeScope();
        var values = image.detach().to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return string.Join("x", image.shape) + ":" + Convert.ToHexString(SHA256.HashData(bytes));
    }

    /// <summary>
    /// The paths of <paramref name="items"/> under <paramref name="options"/>: cached ones are reused, the missing ones are
    /// optimised together by <paramref name="optimise"/> (called once with the missing pairs, or not at all).
    /// </summary>
    public IReadOnlyList<AblationPathResult> GetOrOptimise(Classifier model, IReadOnlyList<(Tensor Image, int ClassIndex)> items, AblationPathOptions options,
        Func<IReadOnlyList<(Tensor Image, int ClassIndex)>, IReadOnlyList<AblationPathResult>> optimise)
    {
        var keys = items.Select(it => new Key(model.Name, ImageKey(it.Image), it.ClassIndex, options)).ToArray();
        var found = new AblationPathResult?[items.Count];
        var missing = new List<int>();
        lock (_gate)
        {
            for (int i = 0; i < keys.Length; i++)
            {
                if (_paths.TryGetValue(keys[i], out var r)) { found[i] = r; Reused++; }
                else if (!missing.Any(j => keys[j] == keys[i])) missing.Add(i);
            }
        }
        if (missing.Count > 0)
        {
            var computed = optimise(missing.Select(i => items[i]).ToArray());
            lock (_gate)
            {
                for (int n = 0; n < missing.Count; n++)
                {
                    var k = keys[missing[n]];
                    if (_paths.TryGetValue(k, out var other)) { computed[n].Dispose(); found[missing[n]] = other; continue; } // raced
                    _paths[k] = computed[n];
                    Touch(k.Image);
                    Optimised++;
                }
                for (int i = 0; i < keys.Length; i++) found[i] ??= _paths[keys[i]];
                Evict(keys.Select(k => k.Image).ToHashSet());
            }
        }
        lock (_gate) foreach (var k in keys) Touch(k.Image);
        return found.Select(r => r!).ToArray();
    }

    void Touch(string image)
    {
        _images.Remove(image);
        _images.AddLast(image);
    }

    /// <summary>Drops the oldest images beyond the capacity, never one of <paramref name="inUse"/>.</summary>
    void Evict(HashSet<string> inUse)
    {
        while (_images.Count > Capacity && _images.First is { } oldest && !inUse.Contains(oldest.Value))
        {
            _images.RemoveFirst();
            foreach (var k in _paths.Keys.Where(k => k.Image == oldest.Value).ToArray())
            {
                _paths[k].Dispose();
                _paths.Remove(k);
            }
        }
    }

    /// <summary>Disposes every cached path.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var r in _paths.Values) r.Dispose();
            _paths.Clear();
            _images.Clear();
        }
    }
}
