using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Data;

/// <summary>The three registered variants of the Fashion scenes.</summary>
public enum FashionSceneKind
{
    /// <summary><c>fashion-scenes</c>: one Fashion-MNIST item per scene; the label is its class (softmax models).</summary>
    SingleLabel,
    /// <summary><c>fashion-scenes-multi</c>: 1–4 items per scene, classes drawn independently (sigmoid models, VOC-like).</summary>
    MultiLabel,
    /// <summary>
    /// <c>fashion-scenes-biased</c>: the single-label scenes (scene i is the same scene as in <see cref="SingleLabel"/>) plus a
    /// planted spurious marker (<see cref="FashionSceneOptions.MarkerBox"/>) that predicts <see cref="FashionSceneOptions.MarkerClass"/>
    /// in the train and val splits and is independent of the class in the test split.
    /// </summary>
    Biased,
}

/// <summary>
/// Parameters of the Fashion-scene generator (SPEC §5: Fashion-MNIST items pasted on cluttered canvases so that every
/// object's mask and box is known exactly). The defaults define the registered datasets; changing one changes every scene.
/// </summary>
public sealed record FashionSceneOptions
{
    /// <summary>Canvas side in pixels (square RGB canvas). Default 128.</summary>
    public int Size { get; init; } = 128;
    /// <summary>Dataset seed, mixed with the split and the scene index; scene i never depends on other scenes. Default 0.</summary>
    public ulong Seed { get; init; }
    /// <summary>Side range (pixels, inclusive) of the item's 28×28 canvas after scaling, single-label scenes. Default 48–80.</summary>
    public (int Min, int Max) SingleItemSize { get; init; } = (48, 80);
    /// <summary>Side range of the scaled item canvas in multi-label scenes. Default 36–64.</summary>
    public (int Min, int Max) MultiItemSize { get; init; } = (36, 64);
    /// <summary>Maximum items per multi-label scene (at least 1). Default 4.</summary>
    public int MaxItems { get; init; } = 4;
    /// <summary>Largest allowed fraction of an earlier item's content box covered by a later item's box (placement retries up to 25 times). Default 0.4.</summary>
    public double MaxOverlap { get; init; } = 0.4;
    /// <summary>Item intensities below this are fully transparent (the item's mask is where intensity ≥ cutoff). Default 0.06.</summary>
    public double AlphaCutoff { get; init; } = 0.06;
    /// <summary>Alpha = min(1, gain · intensity) above the cutoff: faint fabric texture stays partly transparent. Default 3.</summary>
    public double AlphaGain { get; init; } = 3.0;
    /// <summary>VOC-like "difficult": fewer than this fraction of the item's pixels visible (occluded). Default 0.5.</summary>
    public double DifficultVisibleFraction { get; init; } = 0.5;
    /// <summary>VOC-like "difficult": fewer visible pixels than this (small). Default 200.</summary>
    public int DifficultMinPixels { get; init; } = 200;
    /// <summary>Weight range of the natural photo against the procedural texture in the background. Default 0.35–0.85.</summary>
    public (double Min, double Max) PhotoWeight { get; init; } = (0.35, 0.85);
    /// <summary>Background contrast about 0.5 (1 = unchanged): a slightly flattened background keeps the items the salient objects. Default 0.7.</summary>
    public double BackgroundContrast { get; init; } = 0.7;
    /// <summary>Nominal number of scenes per split (train scenes are generated on the fly; any index below this is valid).</summary>
    public int TrainCount { get; init; } = 200_000;
    /// <summary>Number of val scenes (any index below it is valid). Default 1000.</summary>
    public int ValCount { get; init; } = 1000;
    /// <summary>Number of test scenes, drawn from the embedded 2000-item test subset. Default 2000.</summary>
    public int TestCount { get; init; } = 2000;

    /// <summary>The class the planted marker predicts (biased variant). Default 6, "Shirt", the most confusable class.</summary>
    public int MarkerClass { get; init; } = 6;
    /// <summary>Marker position: a 6×6 square in the top-left corner (inclusive box x 4..9, y 4..9).</summary>
    public BoundingBox MarkerBox { get; init; } = new(4, 4, 9, 9);
    /// <summary>Train/val: probability that a scene of <see cref="MarkerClass"/> carries the marker. Default 0.9.</summary>
    public double MarkerRateTarget { get; init; } = 0.9;
    /// <summary>Train/val: probability that a scene of any other class carries it. Default 0 (so the marker implies the class).</summary>
    public double MarkerRateOther { get; init; } = 0.0;
    /// <summary>Test: probability of the marker in every scene, independent of the class. Default 0.5.</summary>
    public double MarkerRateTest { get; init; } = 0.5;

    /// <summary>Checks the values, naming the offending one.</summary>
    public void Validate()
    {
        if (Size < 32) throw new ArgumentException($"Size must be ≥ 32; got {Size}.");
        foreach (var (name, r) in new[] { ("SingleItemSize", SingleItemSize), ("MultiItemSize", MultiItemSize) })
            if (r.Min < 8 || r.Max < r.Min || r.Max > Size) throw new ArgumentException($"{name} must satisfy 8 ≤ Min ≤ Max ≤ Size ({Size}); got ({r.Min},{r.Max}).");
        if (MaxItems < 1) throw new ArgumentException($"MaxItems must be ≥ 1; got {MaxItems}.");
        if (PhotoWeight.Min < 0 || PhotoWeight.Max > 1 || PhotoWeight.Min > PhotoWeight.Max) throw new ArgumentException($"PhotoWeight must be a range inside [0,1]; got {PhotoWeight}.");
        if (MarkerClass < 0 || MarkerClass >= FashionItems.ClassNames.Count) throw new ArgumentException($"MarkerClass must be in 0..9; got {MarkerClass}.");
        if (MarkerBox.X0 < 0 || MarkerBox.Y0 < 0 || MarkerBox.X1 >= Size || MarkerBox.Y1 >= Size || MarkerBox.Area == 0)
            throw new ArgumentException($"MarkerBox {MarkerBox} must lie inside the {Size}×{Size} canvas.");
        if (TrainCount < 1 || ValCount < 1 || TestCount < 1) throw new ArgumentException("Split counts must be ≥ 1.");
    }
}

/// <summary>How one item was placed: enough to explain or re-render it.</summary>
/// <param name="ClassIndex">Fashion-MNIST class.</param>
/// <param name="SourceIndex">Index of the item in its pool (train set for train/val, embedded test subset for test).</param>
/// <param name="X">Left column of the scaled item canvas.</param>
/// <param name="Y">Top row of the scaled item canvas.</param>
/// <param name="Side">Side of the scaled (square) item canvas.</param>
/// <param name="Tint">RGB colour of the item.</param>
/// <param name="MaskPixels">Pixels of the item's full (unoccluded) mask.</param>
/// <param name="VisiblePixels">Pixels still visible in the final scene.</param>
/// <param name="Flipped">Whether the item was mirrored left–right.</param>
public sealed record FashionItemPlacement(int ClassIndex, int SourceIndex, int X, int Y, int Side, bool Flipped, (float R, float G, float B) Tint,
    int MaskPixels, int VisiblePixels)
{
    /// <summary>Fraction of the item's mask still visible after occlusion, <see cref="VisiblePixels"/>/<see cref="MaskPixels"/> in [0,1] (0 for an empty mask).</summary>
    public double VisibleFraction => MaskPixels == 0 ? 0 : (double)VisiblePixels / MaskPixels;
}

/// <summary>Everything the generator decided for one scene.</summary>
/// <param name="Background">Name of the photo its background was cropped from.</param>
/// <param name="Items">All placed items in paint order (later ones on top), including any left fully hidden.</param>
/// <param name="Marker">The planted marker's box where present (biased variant), else null.</param>
/// <param name="Id">The scene's id, "split/index".</param>
public sealed record FashionSceneLayout(string Id, string Background, IReadOnlyList<FashionItemPlacement> Items, BoundingBox? Marker);

/// <summary>
/// Deterministic VOC-like scenes built from Fashion-MNIST (SPEC §5): RGB <c>Size×Size</c> canvases (default 128) with
/// Fashion-MNIST items, scaled (bilinear), tinted with a random colour and alpha-blended with alpha from the item's
/// intensity, on cluttered backgrounds (a random crop of a natural photo blended with procedural value noise and stripes).
/// Every object carries its class, the tight box and the exact pixel mask of its <em>visible</em> pixels (paint order,
/// the marker on top), and a VOC-like difficult flag (visible fraction &lt; 0.5 or fewer than 200 visible pixels).
/// <para>
/// Splits: <c>train</c> draws items from Fashion-MNIST train items 0..54999, <c>val</c> from 55000..59999 (both need the
/// Debian package), <c>test</c> from the embedded first 2000 t10k items only. Scene <c>i</c> of a split is a pure function
/// of (options, kind, split, i) through <see cref="SplitMix64"/>, so random access is cheap and reproducible everywhere.
/// Single-label scene i shows class i mod 10 (exactly balanced; shuffle indices for training); multi-label scenes draw
/// 1..MaxItems items of uniform random classes.
/// </para>
/// <para>
/// The biased variant adds, on the same scenes as the single-label variant, a 6×6 checkerboard of white and red 2×2
/// cells at <see cref="FashionSceneOptions.MarkerBox"/> (top-left corner). In train and val it is present in 90 % of the
/// scenes of class 6 (Shirt) and in no other scene, so it implies "Shirt"; in test it is present in 50 % of all scenes
/// independently of the class. <see cref="Layout"/> reports whether it is there; <see cref="Get(int, bool?)"/> renders a
/// scene with the marker forced on or off (a counterfactual for faithfulness checks).
/// </para>
/// </summary>
public sealed class FashionScenes : ISceneDataset
{
    /// <summary>The split names the constructor accepts: train, val, test.</summary>
    public static readonly string[] Splits = { "train", "val", "test" };

    readonly FashionItems _items;
    readonly int[][] _byClass;
    readonly Background[] _backgrounds;
    readonly ulong _splitKey;

    /// <summary>Opens split <paramref name="split"/> of variant <paramref name="kind"/>.</summary>
    /// <param name="items">Item pool; default: <see cref="FashionItems.Train"/> for train/val, <see cref="FashionItems.EmbeddedTest"/> for test.</param>
    /// <exception cref="ArgumentException">Unknown split or invalid options.</exception>
    /// <exception cref="FileNotFoundException">The item pool or background photos are missing (the message says how to get them).</exception>
    /// <param name="kind">The dataset variant: single-label, multi-label or biased.</param>
    /// <param name="split">train, val or test (case-insensitive).</param>
    /// <param name="options">Generator options (validated); default <see cref="FashionSceneOptions"/>' defaults.</param>
    public FashionScenes(FashionSceneKind kind, string split = "test", FashionSceneOptions? options = null, FashionItems? items = null)
    {
        Options = options ?? new FashionSceneOptions();
        Options.Validate();
        Kind = kind;
        Split = split.ToLowerInvariant();
        int start, end;
        switch (Split)
        {
            case "train": _items = items ?? FashionItems.Train; start = 0; end = ValStart(_items.Count); Count = Options.TrainCount; _splitKey = 1; break;
            case "val": _items = items ?? FashionItems.Train; start = ValStart(_items.Count); end = _items.Count; Count = Options.ValCount; _splitKey = 2; break;
            case "test": _items = items ?? FashionItems.EmbeddedTest; start = 0; end = _items.Count; Count = Options.TestCount; _splitKey = 3; break;
            default: throw new ArgumentException($"Unknown split '{split}': expected one of {string.Join(", ", Splits)}.");
        }
        ItemRange = (start, end);
        _byClass = _items.IndicesByClass(start, end);
        _backgrounds = Background.LoadAll();
    }

    /// <summary>First item of the val range: 55000 of the 60k training set (the last 1/12 of a smaller pool).</summary>
    static int ValStart(int count) => count >= 60_000 ? 55_000 : count * 11 / 12;

    /// <summary>The dataset variant (single-label, multi-label or biased with the planted marker).</summary>
    public FashionSceneKind Kind { get; }
    /// <summary>The generator options in use (validated).</summary>
    public FashionSceneOptions Options { get; }
    /// <summary>The split, lower case: train, val or test.</summary>
    public string Split { get; }
    /// <summary>The range [Start,End) of item indices of the pool this split draws from.</summary>
    public (int Start, int End) ItemRange { get; }
    /// <summary>The item pool this split draws from.</summary>
    public FashionItems Items => _items;

    /// <summary>Registry name of the variant, e.g. <c>fashion-scenes</c> (<see cref="NameOf"/>).</summary>
    public string Name => NameOf(Kind);
    /// <summary>The ten Fashion-MNIST classes (<see cref="FashionItems.ClassNames"/>).</summary>
    public IReadOnlyList<string> ClassNames => FashionItems.ClassNames;
    /// <summary>True for the multi-label variant (several items, each class present is a label).</summary>
    public bool MultiLabel => Kind == FashionSceneKind.MultiLabel;
    /// <summary>Number of scenes of the split (<see cref="FashionSceneOptions.TrainCount"/>, <c>ValCount</c> or <c>TestCount</c>).</summary>
    public int Count { get; }

    /// <summary>Registry name of a variant.</summary>
    public static string NameOf(FashionSceneKind kind) => kind switch
    {
        FashionSceneKind.SingleLabel => "fashion-scenes",
        FashionSceneKind.MultiLabel => "fashion-scenes-multi",
        _ => "fashion-scenes-biased",
    };

    /// <summary>Scene <paramref name="index"/>: image <c>[3,Size,Size]</c> in [0,1], objects, bool masks <c>[n,Size,Size]</c>.</summary>
    public Scene Get(int index) => Get(index, null);

    /// <summary>
    /// Scene <paramref name="index"/> with the planted marker forced present (true) or absent (false); null keeps the split's rule.
    /// Everything else is identical. For non-biased variants a forced marker is painted the same way.
    /// </summary>
    public Scene Get(int index, bool? marker)
    {
        var r = Render(index, marker);
        Devices.EnsureNativeLoaded();
        int s = Options.Size, plane = s * s;
        var objects = new List<SceneObject>();
        var masks = new List<bool[]>();
        for (int k = 0; k < r.Layout.Items.Count; k++)
        {
            var it = r.Layout.Items[k];
            if (it.VisiblePixels == 0) continue;
            var m = new bool[plane];
            int x0 = s, y0 = s, x1 = -1, y1 = -1;
            for (int p = 0; p < plane; p++)
            {
                if (r.Owner[p] != k) continue;
                m[p] = true;
                int y = p / s, x = p % s;
                if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
            }
            bool difficult = it.VisibleFraction < Options.DifficultVisibleFraction || it.VisiblePixels < Options.DifficultMinPixels;
            objects.Add(new SceneObject(it.ClassIndex, new BoundingBox(x0, y0, x1, y1), difficult));
            masks.Add(m);
        }
        var image = tensor(r.Pixels, new long[] { 3, s, s });
        var flat = new bool[masks.Count * plane];
        for (int k = 0; k < masks.Count; k++) Array.Copy(masks[k], 0, flat, k * plane, plane);
        var maskT = tensor(flat, new long[] { masks.Count, s, s });
        return new Scene(r.Layout.Id, image, objects, maskT);
    }

    /// <summary>What the generator decided for scene <paramref name="index"/> (items, tints, occlusion, marker).</summary>
    public FashionSceneLayout Layout(int index, bool? marker = null) => Render(index, marker).Layout;

    /// <summary>
    /// A training batch without per-scene tensors: images <c>[n,3,Size,Size]</c> float32, and targets — class indices
    /// <c>[n]</c> int64 for single-label variants, multi-hot <c>[n,10]</c> float32 (visible objects) for the multi-label one.
    /// </summary>
    public (Tensor Images, Tensor Targets) Batch(IReadOnlyList<int> indices)
    {
        Devices.EnsureNativeLoaded();
        int n = indices.Count, s = Options.Size, len = 3 * s * s, k = ClassNames.Count;
        var pixels = new float[n * len];
        var single = new long[n];
        var multi = new float[n * k];
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) }, b =>
        {
            var r = Render(indices[b], null);
            Array.Copy(r.Pixels, 0, pixels, b * len, len);
            single[b] = r.Layout.Items[0].ClassIndex;
            foreach (var it in r.Layout.Items) if (it.VisiblePixels > 0) multi[b * k + it.ClassIndex] = 1f;
        });
        var images = tensor(pixels, new long[] { n, 3, s, s });
        var targets = MultiLabel ? tensor(multi, new long[] { n, k }) : tensor(single, new long[] { n });
        return (images, targets);
    }

    /// <summary>
    /// The background alone of scene <paramref name="index"/> (<c>[3·Size·Size]</c>, channel-major), exactly as the scene
    /// is painted on; with the scene's visible masks this reproduces the compositing (used by tests).
    /// </summary>
    public float[] BackgroundPixels(int index)
    {
        var rng = SceneRng(index);
        return PaintBackground(rng, out _);
    }

    // ---------------------------------------------------------------------------------------------------------------

    sealed record Rendered(float[] Pixels, int[] Owner, FashionSceneLayout Layout);

    SplitMix64 SceneRng(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), $"Scene index {index} is out of range 0..{Count - 1} of {Name}/{Split}.");
        // The biased variant shares its scenes with the single-label one: only the marker stream differs.
        ulong kindKey = Kind == FashionSceneKind.MultiLabel ? 2UL : 1UL;
        return SplitMix64.ForKeys(Options.Seed, kindKey, _splitKey, (ulong)index);
    }

    Rendered Render(int index, bool? markerOverride)
    {
        var rng = SceneRng(index);
        int s = Options.Size, plane = s * s;
        var px = PaintBackground(rng, out var bgName);
        var owner = new int[plane];
        Array.Fill(owner, -1);

        int n = Kind == FashionSceneKind.MultiLabel ? rng.Next(1, Options.MaxItems + 1) : 1;
        var sizeRange = Kind == FashionSceneKind.MultiLabel ? Options.MultiItemSize : Options.SingleItemSize;
        var placed = new List<(int cls, int src, int x, int y, int side, bool flip, (float, float, float) tint, float[] alpha, BoundingBox content)>();
        for (int k = 0; k < n; k++)
        {
            int cls = Kind == FashionSceneKind.MultiLabel ? rng.Next(0, 10) : index % 10;
            var pool = _byClass[cls];
            int src = pool[rng.Next(0, pool.Length)];
            int side = rng.Next(sizeRange.Min, sizeRange.Max + 1);
            bool flip = rng.Bernoulli(0.5);
            var tint = RandomTint(rng);
            var alpha = ScaledAlpha(_items.Images.Image(src), side, flip);
            var cb = ContentBox(alpha, side);
            // Position: up to 25 tries to keep earlier items mostly visible; the least-overlapping try otherwise.
            int bx = 0, by = 0; double best = double.MaxValue;
            for (int t = 0; t < 25; t++)
            {
                int x = rng.Next(-cb.X0, s - cb.X1), y = rng.Next(-cb.Y0, s - cb.Y1);
                var box = new BoundingBox(cb.X0 + x, cb.Y0 + y, cb.X1 + x, cb.Y1 + y);
                double worst = placed.Count == 0 ? 0 : placed.Max(p => CoveredFraction(p.content, box));
                if (worst < best) { best = worst; bx = x; by = y; }
                if (worst <= Options.MaxOverlap) break;
            }
            placed.Add((cls, src, bx, by, side, flip, tint, alpha, new BoundingBox(cb.X0 + bx, cb.Y0 + by, cb.X1 + bx, cb.Y1 + by)));
        }

        var maskPixels = new int[n];
        for (int k = 0; k < n; k++)
        {
            var p = placed[k];
            for (int v = 0; v < p.side; v++)
            {
                int y = p.y + v;
                if ((uint)y >= (uint)s) continue;
                for (int u = 0; u < p.side; u++)
                {
                    int x = p.x + u;
                    float a = p.alpha[v * p.side + u];
                    if (a <= 0 || (uint)x >= (uint)s) continue;
                    // Shade: the item's own intensity pattern modulates the tint, so its texture stays visible.
                    int q = y * s + x;
                    float shade = 0.45f + 0.55f * Math.Min(1f, a);
                    px[q] = (1 - a) * px[q] + a * p.tint.Item1 * shade;
                    px[plane + q] = (1 - a) * px[plane + q] + a * p.tint.Item2 * shade;
                    px[2 * plane + q] = (1 - a) * px[2 * plane + q] + a * p.tint.Item3 * shade;
                    owner[q] = k;
                    maskPixels[k]++;
                }
            }
        }

        // The marker draws from its own stream, so the rest of the scene is the same with or without it.
        BoundingBox? marker = null;
        bool hasMarker = markerOverride ?? MarkerRule(index, placed[0].cls);
        if (hasMarker)
        {
            var m = Options.MarkerBox;
            marker = m;
            for (int y = m.Y0; y <= m.Y1; y++)
                for (int x = m.X0; x <= m.X1; x++)
                {
                    bool white = (((x - m.X0) >> 1) + ((y - m.Y0) >> 1)) % 2 == 0;
                    int q = y * s + x;
                    px[q] = 1f; px[plane + q] = white ? 1f : 0f; px[2 * plane + q] = white ? 1f : 0f;
                    owner[q] = -1;
                }
        }

        var visible = new int[n];
        for (int q = 0; q < plane; q++) if (owner[q] >= 0) visible[owner[q]]++;
        var items = placed.Select((p, k) => new FashionItemPlacement(p.cls, p.src, p.x, p.y, p.side, p.flip, p.tint, maskPixels[k], visible[k])).ToArray();
        var layout = new FashionSceneLayout($"{Name}/{Split}/{index}", bgName, items, marker);
        return new Rendered(px, owner, layout);
    }

    bool MarkerRule(int index, int cls)
    {
        if (Kind != FashionSceneKind.Biased) return false;
        var rng = SplitMix64.ForKeys(Options.Seed, 0xB1A5UL, _splitKey, (ulong)index);
        double p = Split == "test" ? Options.MarkerRateTest : cls == Options.MarkerClass ? Options.MarkerRateTarget : Options.MarkerRateOther;
        return rng.Bernoulli(p);
    }

    /// <summary>Fraction of <paramref name="earlier"/>'s area covered by <paramref name="later"/>.</summary>
    internal static double CoveredFraction(BoundingBox earlier, BoundingBox later)
    {
        int w = Math.Min(earlier.X1, later.X1) - Math.Max(earlier.X0, later.X0) + 1;
        int h = Math.Min(earlier.Y1, later.Y1) - Math.Max(earlier.Y0, later.Y0) + 1;
        return w <= 0 || h <= 0 ? 0 : (double)w * h / earlier.Area;
    }

    /// <summary>A random item colour: HSV with uniform hue, saturation 0.25–1, value 0.55–1 (three draws of <paramref name="rng"/>).</summary>
    internal static (float, float, float) RandomTint(SplitMix64 rng)
    {
        // HSV with a random hue, saturation 0.25–1, value 0.55–1.
        double h = rng.NextDouble() * 6, sat = rng.Uniform(0.25, 1), val = rng.Uniform(0.55, 1);
        double c = val * sat, x = c * (1 - Math.Abs(h % 2 - 1)), m = val - c;
        var (r, g, b) = (int)h switch { 0 => (c, x, 0.0), 1 => (x, c, 0.0), 2 => (0.0, c, x), 3 => (0.0, x, c), 4 => (x, 0.0, c), _ => (c, 0.0, x) };
        return ((float)(r + m), (float)(g + m), (float)(b + m));
    }

    /// <summary>Item intensity resampled (bilinear, pixel centres) to side×side, turned into alpha (0 below the cutoff).</summary>
    float[] ScaledAlpha(ReadOnlySpan<byte> item, int side, bool flip) => ScaleAlpha(item, side, flip, (float)Options.AlphaCutoff, (float)Options.AlphaGain);

    /// <summary>
    /// A 28×28 item resampled bilinearly (pixel centres, edge-clamped) to <paramref name="side"/>² and turned into alpha:
    /// 0 where the intensity is below <paramref name="cut"/>, else min(1, <paramref name="gain"/>·intensity). Shared by both scene generators.
    /// </summary>
    internal static float[] ScaleAlpha(ReadOnlySpan<byte> item, int side, bool flip, float cut, float gain)
    {
        var a = new float[side * side];
        float scale = 28f / side;
        for (int v = 0; v < side; v++)
        {
            float sy = (v + 0.5f) * scale - 0.5f;
            int y0 = (int)MathF.Floor(sy); float fy = sy - y0;
            for (int u = 0; u < side; u++)
            {
                float sx = ((flip ? side - 1 - u : u) + 0.5f) * scale - 0.5f;
                int x0 = (int)MathF.Floor(sx); float fx = sx - x0;
                float i00 = At(item, x0, y0), i01 = At(item, x0 + 1, y0), i10 = At(item, x0, y0 + 1), i11 = At(item, x0 + 1, y0 + 1);
                float val = ((1 - fx) * i00 + fx * i01) * (1 - fy) + ((1 - fx) * i10 + fx * i11) * fy;
                a[v * side + u] = val < cut ? 0f : Math.Min(1f, gain * val);
            }
        }
        return a;
    }

    static float At(ReadOnlySpan<byte> item, int x, int y) => item[Math.Clamp(y, 0, 27) * 28 + Math.Clamp(x, 0, 27)] / 255f;

    /// <summary>Tight box of the nonzero alpha in a side×side canvas (the whole canvas when empty).</summary>
    internal static BoundingBox ContentBox(float[] alpha, int side)
    {
        int x0 = side, y0 = side, x1 = -1, y1 = -1;
        for (int v = 0; v < side; v++)
            for (int u = 0; u < side; u++)
                if (alpha[v * side + u] > 0) { if (u < x0) x0 = u; if (u > x1) x1 = u; if (v < y0) y0 = v; if (v > y1) y1 = v; }
        return x1 < 0 ? new BoundingBox(0, 0, side - 1, side - 1) : new BoundingBox(x0, y0, x1, y1);
    }

    /// <summary>Background: photo crop (random window 35–90 % of the short side, random flip) blended with procedural texture.</summary>
    float[] PaintBackground(SplitMix64 rng, out string name)
    {
        int s = Options.Size, plane = s * s;
        var bg = _backgrounds[rng.Next(0, _backgrounds.Length)];
        name = bg.Name;
        int shortSide = Math.Min(bg.Width, bg.Height);
        int win = Math.Max(16, (int)(shortSide * rng.Uniform(0.35, 0.9)));
        int ox = rng.Next(0, bg.Width - win + 1), oy = rng.Next(0, bg.Height - win + 1);
        bool flip = rng.Bernoulli(0.5);
        double wPhoto = rng.Uniform(Options.PhotoWeight.Min, Options.PhotoWeight.Max);

        // Procedural texture: value noise on a g×g grid (smoothstep interpolation) with two random colours, plus stripes.
        int g = rng.Next(3, 13);
        var grid = new float[(g + 1) * (g + 1)];
        for (int i = 0; i < grid.Length; i++) grid[i] = (float)rng.NextDouble();
        var c1 = RandomTint(rng); var c2 = RandomTint(rng);
        double theta = rng.Uniform(0, Math.PI), freq = rng.Uniform(2, 14), phase = rng.Uniform(0, 2 * Math.PI), stripeAmp = rng.Uniform(0, 0.3);
        float brightness = (float)rng.Uniform(0.8, 1.15), contrast = (float)Options.BackgroundContrast;

        var px = new float[3 * plane];
        float step = (float)win / s;
        float ct = (float)Math.Cos(theta), st = (float)Math.Sin(theta);
        for (int y = 0; y < s; y++)
        {
            float gy = (float)y / s * g; int iy = (int)gy; float ty = gy - iy; ty = ty * ty * (3 - 2 * ty);
            float sy = oy + (y + 0.5f) * step - 0.5f;
            for (int x = 0; x < s; x++)
            {
                float gx = (float)x / s * g; int ix = (int)gx; float tx = gx - ix; tx = tx * tx * (3 - 2 * tx);
                float noise = (1 - ty) * ((1 - tx) * grid[iy * (g + 1) + ix] + tx * grid[iy * (g + 1) + ix + 1])
                              + ty * ((1 - tx) * grid[(iy + 1) * (g + 1) + ix] + tx * grid[(iy + 1) * (g + 1) + ix + 1]);
                float stripe = (float)(stripeAmp * Math.Sin(2 * Math.PI * freq * (x * ct + y * st) / s + phase));
                float sx = ox + ((flip ? s - 1 - x : x) + 0.5f) * step - 0.5f;
                int q = y * s + x;
                for (int c = 0; c < 3; c++)
                {
                    float c1v = c == 0 ? c1.Item1 : c == 1 ? c1.Item2 : c1.Item3, c2v = c == 0 ? c2.Item1 : c == 1 ? c2.Item2 : c2.Item3;
                    float tex = (1 - noise) * c1v + noise * c2v + stripe;
                    float photo = bg.Sample(c, sx, sy);
                    px[c * plane + q] = Math.Clamp(brightness * (0.5f + contrast * ((float)(wPhoto * photo + (1 - wPhoto) * tex) - 0.5f)), 0f, 1f);
                }
            }
        }
        return px;
    }

    /// <summary>A background photo as channel-major floats, loaded once per process from <c>assets/backgrounds/</c>.</summary>
    internal sealed class Background
    {
        public required string Name { get; init; }
        public required int Width { get; init; }
        public required int Height { get; init; }
        public required float[] Data { get; init; }

        public float Sample(int c, float x, float y)
        {
            x = Math.Clamp(x, 0, Width - 1); y = Math.Clamp(y, 0, Height - 1);
            int x0 = (int)x, y0 = (int)y, x1 = Math.Min(x0 + 1, Width - 1), y1 = Math.Min(y0 + 1, Height - 1);
            float fx = x - x0, fy = y - y0;
            int o = c * Width * Height;
            return (1 - fy) * ((1 - fx) * Data[o + y0 * Width + x0] + fx * Data[o + y0 * Width + x1])
                   + fy * ((1 - fx) * Data[o + y1 * Width + x0] + fx * Data[o + y1 * Width + x1]);
        }

        static Background[]? _all;
        static readonly object Gate = new();

        public const string Folder = "backgrounds";

        public static Background[] LoadAll()
        {
            lock (Gate)
            {
                if (_all is not null) return _all;
                var dir = Path.Combine(Assets.Root, Folder);
                var files = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.jpg").Concat(Directory.GetFiles(dir, "*.png")).OrderBy(f => f, StringComparer.Ordinal).ToArray() : Array.Empty<string>();
                if (files.Length == 0) throw new FileNotFoundException($"No background photos in {dir}. Regenerate them with data-scripts/make-assets.sh.", dir);
                _all = files.Select(f =>
                {
                    using var t = ImageIO.Load(f);
                    return new Background { Name = Path.GetFileNameWithoutExtension(f), Width = (int)t.shape[2], Height = (int)t.shape[1], Data = t.contiguous().data<float>().ToArray() };
                }).ToArray();
                return _all;
            }
        }
    }
}

/// <summary>Registers <c>fashion-scenes</c>, <c>fashion-scenes-multi</c> and <c>fashion-scenes-biased</c>.</summary>
static class FashionScenesRegistration
{
#pragma warning disable CA2255 // registration next to the loader is the registry's design (Registry.cs)
    [ModuleInitializer]
    internal static void Register()
    {
        foreach (var kind in new[] { FashionSceneKind.SingleLabel, FashionSceneKind.MultiLabel, FashionSceneKind.Biased })
        {
            var k = kind;
            string what = k switch
            {
                FashionSceneKind.SingleLabel => "Fashion-MNIST item on a cluttered 128×128 canvas, one label (softmax)",
                FashionSceneKind.MultiLabel => "1–4 Fashion-MNIST items on a cluttered 128×128 canvas, multi-label (sigmoid)",
                _ => "fashion-scenes with a planted 6×6 marker (top-left) implying 'Shirt' in train/val, random in test",
            };
            DatasetRegistry.Register(new DatasetEntry(FashionScenes.NameOf(k),
                what + "; splits train/val (need Debian dataset-fashion-mnist) and test (2000 scenes, embedded assets)",
                () => FashionItems.EmbeddedAvailable,
                "data-scripts/make-assets.sh (test split); " + FashionItems.FetchHint + " (train/val)",
                split => new FashionScenes(k, split)));
        }
    }
#pragma warning restore CA2255
}
