using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Data;

/// <summary>
/// Parameters of the 224-px Fashion benchmark (<see cref="FashionScenes224"/>). The defaults define the registered
/// dataset <c>fashion-scenes-224</c>; changing one changes every scene.
/// </summary>
public sealed record FashionScenes224Options
{
    /// <summary>Canvas side in pixels. Default 224, the thesis' image size, so that the pointing game's 15-px tolerance means what it means there.</summary>
    public int Size { get; init; } = 224;
    /// <summary>Dataset seed, mixed with the split and the scene index (scene i never depends on other scenes). Default 0.</summary>
    public ulong Seed { get; init; }
    /// <summary>
    /// The Fashion-MNIST classes that are labels, in label order. Default all but Shirt (6) and Bag (8):
    /// T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Sneaker, Ankle boot.
    /// </summary>
    public IReadOnlyList<int> LabelClasses { get; init; } = new[] { 0, 1, 2, 3, 4, 5, 7, 9 };
    /// <summary>Held-out Fashion-MNIST classes whose items appear only as clutter (no label, no mask). Default Shirt (6) and Bag (8).</summary>
    public IReadOnlyList<int> ClutterClasses { get; init; } = new[] { 6, 8 };
    /// <summary>
    /// Relative frequencies of 1, 2, … labelled objects per scene. Default 0.40, 0.22, 0.14, 0.10, 0.08, 0.06 for 1–6
    /// (few objects are common, as in VOC; the mean is 2.4).
    /// </summary>
    public IReadOnlyList<double> ObjectCountWeights { get; init; } = new[] { 0.40, 0.22, 0.14, 0.10, 0.08, 0.06 };
    /// <summary>
    /// Range of a labelled object's box area as a fraction of the image, drawn log-uniformly. Default 1 %–50 %
    /// (median 7 %). The scaled item canvas is capped at the image side, so the widest items stay a little below 50 %.
    /// </summary>
    public (double Min, double Max) ObjectArea { get; init; } = (0.01, 0.5);
    /// <summary>
    /// The objects of a crowded scene share the image: with n labelled objects the largest box area is
    /// <c>ObjectArea.Max / n^exponent</c> (never below <c>ObjectArea.Min</c>). Default 1: one object up to 50 %, two up to 25 % each, six up to 8 %.
    /// </summary>
    public double ObjectAreaCountExponent { get; init; } = 1.0;
    /// <summary>Range (inclusive) of clutter pieces per scene: held-out items and texture patches. Default 1–4.</summary>
    public (int Min, int Max) ClutterCount { get; init; } = (1, 4);
    /// <summary>Range of a clutter piece's box area as a fraction of the image, log-uniform. Default 0.5 %–12 %.</summary>
    public (double Min, double Max) ClutterArea { get; init; } = (0.005, 0.12);
    /// <summary>Probability that a clutter piece is a texture patch rather than a held-out item. Default 0.5.</summary>
    public double TextureProbability { get; init; } = 0.5;
    /// <summary>Largest fraction of an earlier labelled object's box that a later labelled object's box may cover (25 placement tries). Default 0.5.</summary>
    public double MaxOverlap { get; init; } = 0.5;
    /// <summary>Item intensities below this are transparent (as in the 128-px scenes). Default 0.06.</summary>
    public double AlphaCutoff { get; init; } = 0.06;
    /// <summary>Alpha = min(1, gain · intensity) above the cutoff. Default 3.</summary>
    public double AlphaGain { get; init; } = 3.0;
    /// <summary>VOC "difficult" object flag: fewer than this fraction of its pixels visible (heavily occluded). Default 0.35.</summary>
    public double DifficultVisibleFraction { get; init; } = 0.35;
    /// <summary>VOC "difficult" object flag: fewer visible pixels than this. Default 100.</summary>
    public int DifficultMinPixels { get; init; } = 100;
    /// <summary>Weight range of the natural photo against the procedural texture in the background. Default 0.35–0.85.</summary>
    public (double Min, double Max) PhotoWeight { get; init; } = (0.35, 0.85);
    /// <summary>Background contrast about 0.5. Default 0.7.</summary>
    public double BackgroundContrast { get; init; } = 0.7;
    /// <summary>Nominal scenes per split; train scenes are generated on the fly (any index below this is valid).</summary>
    public int TrainCount { get; init; } = 1_000_000;
    /// <summary>Scenes of the val split. Default 1000.</summary>
    public int ValCount { get; init; } = 1000;
    /// <summary>Scenes of the test split. Default 2000.</summary>
    public int TestCount { get; init; } = 2000;

    /// <summary>Checks the values, naming the offending one.</summary>
    public void Validate()
    {
        if (Size < 64) throw new ArgumentException($"FashionScenes224Options.Size must be ≥ 64; got {Size}.");
        if (LabelClasses.Count == 0) throw new ArgumentException("FashionScenes224Options.LabelClasses must name at least one Fashion-MNIST class.");
        var all = LabelClasses.Concat(ClutterClasses).ToArray();
        if (all.Any(c => c < 0 || c >= FashionItems.ClassNames.Count))
            throw new ArgumentException($"FashionScenes224Options: label and clutter classes must be Fashion-MNIST classes 0..9; got [{string.Join(",", all)}].");
        if (all.Distinct().Count() != all.Length)
            throw new ArgumentException($"FashionScenes224Options: a class is listed twice among labels/clutter ([{string.Join(",", all)}]).");
        if (ObjectCountWeights.Count == 0 || ObjectCountWeights.Any(w => !(w >= 0)) || ObjectCountWeights.Sum() <= 0)
            throw new ArgumentException("FashionScenes224Options.ObjectCountWeights must be non-negative with a positive sum.");
        foreach (var (name, r) in new[] { ("ObjectArea", ObjectArea), ("ClutterArea", ClutterArea) })
            if (!(r.Min > 0) || r.Max < r.Min || r.Max > 1) throw new ArgumentException($"FashionScenes224Options.{name} must satisfy 0 < Min ≤ Max ≤ 1; got ({r.Min},{r.Max}).");
        if (!(ObjectAreaCountExponent >= 0) || !double.IsFinite(ObjectAreaCountExponent)) throw new ArgumentException($"FashionScenes224Options.ObjectAreaCountExponent must be finite and ≥ 0; got {ObjectAreaCountExponent}.");
        if (ClutterCount.Min < 0 || ClutterCount.Max < ClutterCount.Min) throw new ArgumentException($"FashionScenes224Options.ClutterCount must satisfy 0 ≤ Min ≤ Max; got {ClutterCount}.");
        if (ClutterCount.Max > 0 && ClutterClasses.Count == 0 && TextureProbability < 1)
            throw new ArgumentException("FashionScenes224Options: clutter items need at least one clutter class (or TextureProbability = 1).");
        if (TextureProbability is < 0 or > 1) throw new ArgumentException($"FashionScenes224Options.TextureProbability must lie in [0,1]; got {TextureProbability}.");
        if (PhotoWeight.Min < 0 || PhotoWeight.Max > 1 || PhotoWeight.Min > PhotoWeight.Max) throw new ArgumentException($"FashionScenes224Options.PhotoWeight must be a range inside [0,1]; got {PhotoWeight}.");
        if (TrainCount < 1 || ValCount < 1 || TestCount < 1) throw new ArgumentException("FashionScenes224Options: split counts must be ≥ 1.");
    }
}

/// <summary>One clutter piece of a 224-px scene: no class, no mask; it may cover labelled objects or lie under them.</summary>
/// <param name="Kind">"item" (a held-out Fashion-MNIST class) or "texture" (a patch of stripes, checks or noise).</param>
/// <param name="Description">For items the Fashion-MNIST class name, for textures the pattern ("stripes", "checks", "noise").</param>
/// <param name="Box">The piece's box (inclusive, clipped to the canvas).</param>
/// <param name="Layer">Paint order among all pieces and objects (0 = first, lowest).</param>
public sealed record ClutterPlacement(string Kind, string Description, BoundingBox Box, int Layer);

/// <summary>Everything the 224-px generator decided for one scene.</summary>
/// <param name="Objects">The labelled objects in paint order among themselves (<see cref="FashionItemPlacement.ClassIndex"/> is the
/// dataset's class index, not the Fashion-MNIST label), including any left fully hidden.</param>
/// <param name="ObjectLayers">Paint order of each labelled object among all pieces.</param>
/// <param name="Clutter">The clutter pieces.</param>
/// <param name="Id">The scene's id, "split/index".</param>
/// <param name="Background">Name of the photo its background was cropped from.</param>
public sealed record FashionScene224Layout(string Id, string Background, IReadOnlyList<FashionItemPlacement> Objects, IReadOnlyList<int> ObjectLayers,
    IReadOnlyList<ClutterPlacement> Clutter);

/// <summary>
/// <c>fashion-scenes-224</c>: a harder, VOC-like multi-label benchmark at the thesis' image size (224×224 RGB), built
/// deterministically from Fashion-MNIST items like <see cref="FashionScenes"/> but meant to separate saliency methods:
/// <list type="bullet">
/// <item>1–6 labelled objects (<see cref="FashionScenes224Options.ObjectCountWeights"/>) of 8 classes, placed uniformly
/// anywhere (their box inside the canvas), box areas log-uniform from 1 % to 50 % of the image;</item>
/// <item>1–4 clutter pieces that belong to no class — items of the held-out classes Shirt and Bag, and texture patches
/// (stripes, checks, value noise) — painted in random order with the objects, so they occlude and are occluded;</item>
/// <item>exact visible masks and boxes per object, a VOC "difficult" flag (visible fraction &lt; 0.35 or &lt; 100 visible pixels),
/// and, through <see cref="XaiLab.Imaging.Data.Scene"/>, the pointing game's difficult subset of Zhang et al.
/// (class region &lt; ¼ of the image with another class present), computed by the evaluation from the masks.</item>
/// </list>
/// Splits as for <see cref="FashionScenes"/>: <c>train</c> draws items from Fashion-MNIST train items 0..54999,
/// <c>val</c> from 55000..59999 (Debian package <c>dataset-fashion-mnist</c>), <c>test</c> from the embedded 2000 t10k
/// items only. Scene i is a pure function of (options, split, i) through <see cref="SplitMix64"/>.
/// </summary>
public sealed class FashionScenes224 : ISceneDataset
{
    /// <summary>Registry name.</summary>
    public const string RegistryName = "fashion-scenes-224";

    readonly FashionItems _items;
    readonly int[][] _labelPools, _clutterPools;
    readonly FashionScenes.Background[] _backgrounds;
    readonly ulong _splitKey;
    readonly double[] _countCdf;

    /// <summary>Opens split <paramref name="split"/> (train, val or test).</summary>
    /// <param name="items">Item pool; default <see cref="FashionItems.Train"/> for train/val, <see cref="FashionItems.EmbeddedTest"/> for test.</param>
    /// <exception cref="ArgumentException">Unknown split or invalid options.</exception>
    /// <exception cref="FileNotFoundException">The item pool or the background photos are missing (the message says how to get them).</exception>
    /// <param name="split">train, val or test (case-insensitive).</param>
    /// <param name="options">Generator options (validated); default <see cref="FashionScenes224Options"/>' defaults.</param>
    public FashionScenes224(string split = "test", FashionScenes224Options? options = null, FashionItems? items = null)
    {
        Options = options ?? new FashionScenes224Options();
        Options.Validate();
        Split = split.ToLowerInvariant();
        int start, end;
        switch (Split)
        {
            case "train": _items = items ?? FashionItems.Train; start = 0; end = ValStart(_items.Count); Count = Options.TrainCount; _splitKey = 1; break;
            case "val": _items = items ?? FashionItems.Train; start = ValStart(_items.Count); end = _items.Count; Count = Options.ValCount; _splitKey = 2; break;
            case "test": _items = items ?? FashionItems.EmbeddedTest; start = 0; end = _items.Count; Count = Options.TestCount; _splitKey = 3; break;
            default: throw new ArgumentException($"Unknown split '{split}': expected one of {string.Join(", ", FashionScenes.Splits)}.");
        }
        ItemRange = (start, end);
        var byClass = _items.IndicesByClass(start, end);
        _labelPools = Options.LabelClasses.Select(c => byClass[c]).ToArray();
        _clutterPools = Options.ClutterClasses.Select(c => byClass[c]).ToArray();
        _backgrounds = FashionScenes.Background.LoadAll();
        ClassNames = Options.LabelClasses.Select(c => FashionItems.ClassNames[c]).ToArray();
        double total = Options.ObjectCountWeights.Sum(), acc = 0;
        _countCdf = Options.ObjectCountWeights.Select(w => acc += w / total).ToArray();
    }

    static int ValStart(int count) => count >= 60_000 ? 55_000 : count * 11 / 12;

    /// <summary>The generator's parameters.</summary>
    public FashionScenes224Options Options { get; }
    /// <summary>train, val or test.</summary>
    public string Split { get; }
    /// <summary>The range [Start,End) of the item pool this split draws from.</summary>
    public (int Start, int End) ItemRange { get; }
    /// <summary>The item pool this split draws from.</summary>
    public FashionItems Items => _items;
    /// <inheritdoc/>
    public string Name => RegistryName;
    /// <summary>The label classes' names (8 by default), in logit order.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Always true: several labels per scene (sigmoid models).</summary>
    public bool MultiLabel => true;
    /// <inheritdoc/>
    public int Count { get; }

    /// <summary>Scene <paramref name="index"/>: image <c>[3,Size,Size]</c> in [0,1], the visible labelled objects, their exact masks <c>[n,Size,Size]</c>.</summary>
    public Scene Get(int index)
    {
        var r = Render(index);
        Devices.EnsureNativeLoaded();
        int s = Options.Size, plane = s * s;
        var objects = new List<SceneObject>();
        var masks = new List<bool[]>();
        for (int k = 0; k < r.Layout.Objects.Count; k++)
        {
            var it = r.Layout.Objects[k];
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
            objects.Add(new SceneObject(it.ClassIndex, new BoundingBox(x0, y0, x1, y1), IsDifficult(it)));
            masks.Add(m);
        }
        var image = tensor(r.Pixels, new long[] { 3, s, s });
        var flat = new bool[masks.Count * plane];
        for (int k = 0; k < masks.Count; k++) Array.Copy(masks[k], 0, flat, k * plane, plane);
        return new Scene(r.Layout.Id, image, objects, tensor(flat, new long[] { masks.Count, s, s }));
    }

    /// <summary>The VOC-like object flag: heavily occluded or tiny.</summary>
    public bool IsDifficult(FashionItemPlacement item) =>
        item.VisibleFraction < Options.DifficultVisibleFraction || item.VisiblePixels < Options.DifficultMinPixels;

    /// <summary>What the generator decided for scene <paramref name="index"/>.</summary>
    public FashionScene224Layout Layout(int index) => Render(index).Layout;

    /// <summary>
    /// A training batch without per-scene tensors: images <c>[n,3,Size,Size]</c> float32 and multi-hot targets <c>[n,K]</c>
    /// (a class is positive where one of its objects has a visible pixel). Scenes are rendered in parallel.
    /// </summary>
    public (Tensor Images, Tensor Targets) Batch(IReadOnlyList<int> indices)
    {
        Devices.EnsureNativeLoaded();
        int n = indices.Count, s = Options.Size, len = 3 * s * s, k = ClassNames.Count;
        var pixels = new float[n * len];
        var multi = new float[n * k];
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) }, b =>
        {
            var r = Render(indices[b]);
            Array.Copy(r.Pixels, 0, pixels, b * len, len);
            foreach (var it in r.Layout.Objects) if (it.VisiblePixels > 0) multi[b * k + it.ClassIndex] = 1f;
        });
        return (tensor(pixels, new long[] { n, 3, s, s }), tensor(multi, new long[] { n, k }));
    }

    /// <summary>The background alone of scene <paramref name="index"/> (<c>[3·Size·Size]</c>, channel-major), exactly as painted under the pieces.</summary>
    public float[] BackgroundPixels(int index) => PaintBackground(SceneRng(index), out _);

    // ---------------------------------------------------------------------------------------------------------------

    sealed record Rendered(float[] Pixels, int[] Owner, FashionScene224Layout Layout);

    /// <summary>One piece to paint: an RGB patch with alpha at (X,Y), owned by labelled object <c>Owner</c> or by nobody (−1).</summary>
    sealed record Piece(int X, int Y, int W, int H, float[] Alpha, float[] Rgb, int Owner);

    SplitMix64 SceneRng(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), $"Scene index {index} is out of range 0..{Count - 1} of {Name}/{Split}.");
        return SplitMix64.ForKeys(Options.Seed, 0x224UL, _splitKey, (ulong)index);
    }

    int DrawCount(SplitMix64 rng)
    {
        double u = rng.NextDouble();
        for (int i = 0; i < _countCdf.Length; i++) if (u < _countCdf[i]) return i + 1;
        return _countCdf.Length;
    }

    static double LogUniform(SplitMix64 rng, (double Min, double Max) r) => Math.Exp(rng.Uniform(Math.Log(r.Min), Math.Log(r.Max)));

    Rendered Render(int index)
    {
        var rng = SceneRng(index);
        int s = Options.Size, plane = s * s;
        var px = PaintBackground(rng, out var bgName);
        var owner = new int[plane];
        Array.Fill(owner, -1);

        // Labelled objects: class, item, size from the box-area fraction, position anywhere (box inside the canvas).
        int n = DrawCount(rng);
        var areaRange = (Options.ObjectArea.Min, Math.Max(Options.ObjectArea.Min, Options.ObjectArea.Max / Math.Pow(n, Options.ObjectAreaCountExponent)));
        var objects = new List<(int cls, int src, int x, int y, int side, bool flip, (float, float, float) tint, Piece piece, BoundingBox box)>();
        for (int k = 0; k < n; k++)
        {
            int cls = rng.Next(0, _labelPools.Length);
            var pool = _labelPools[cls];
            int src = pool[rng.Next(0, pool.Length)];
            double area = LogUniform(rng, areaRange);
            bool flip = rng.Bernoulli(0.5);
            var tint = FashionScenes.RandomTint(rng);
            var (side, alpha, cb) = SizedItem(src, area, flip);
            int bx = 0, by = 0; double best = double.MaxValue;
            for (int t = 0; t < 25; t++)
            {
                int x = rng.Next(-cb.X0, s - cb.X1), y = rng.Next(-cb.Y0, s - cb.Y1);
                var box = new BoundingBox(cb.X0 + x, cb.Y0 + y, cb.X1 + x, cb.Y1 + y);
                double worst = objects.Count == 0 ? 0 : objects.Max(o => FashionScenes.CoveredFraction(o.box, box));
                if (worst < best) { best = worst; bx = x; by = y; }
                if (worst <= Options.MaxOverlap) break;
            }
            var piece = new Piece(bx, by, side, side, alpha, ItemColours(alpha, tint), k);
            objects.Add((cls, src, bx, by, side, flip, tint, piece, new BoundingBox(cb.X0 + bx, cb.Y0 + by, cb.X1 + bx, cb.Y1 + by)));
        }

        // Clutter: held-out items and texture patches, anywhere (their box inside the canvas), owned by nobody.
        int m = rng.Next(Options.ClutterCount.Min, Options.ClutterCount.Max + 1);
        var clutter = new List<(string kind, string what, Piece piece)>();
        for (int j = 0; j < m; j++)
        {
            double area = LogUniform(rng, Options.ClutterArea);
            if (_clutterPools.Length == 0 || rng.Bernoulli(Options.TextureProbability))
            {
                var (what, piece) = Texture(rng, area);
                clutter.Add(("texture", what, piece));
            }
            else
            {
                int c = rng.Next(0, _clutterPools.Length);
                int src = _clutterPools[c][rng.Next(0, _clutterPools[c].Length)];
                bool flip = rng.Bernoulli(0.5);
                var tint = FashionScenes.RandomTint(rng);
                var (side, alpha, cb) = SizedItem(src, area, flip);
                int x = rng.Next(-cb.X0, s - cb.X1), y = rng.Next(-cb.Y0, s - cb.Y1);
                clutter.Add(("item", FashionItems.ClassNames[Options.ClutterClasses[c]], new Piece(x, y, side, side, alpha, ItemColours(alpha, tint), -1)));
            }
        }

        // Paint order: a random interleaving of objects and clutter. order[layer] < n marks an object layer; objects are painted
        // in their own order at the object layers (a later object may cover an earlier one), clutter pieces at the others.
        var order = Enumerable.Range(0, n + m).ToArray();
        rng.Shuffle(order);
        var layerOfObject = new int[n];
        var layerOfClutter = new int[m];
        var objectLayers = order.Select((piece, layer) => (piece, layer)).Where(t => t.piece < n).Select(t => t.layer).ToArray();
        var clutterLayers = order.Select((piece, layer) => (piece, layer)).Where(t => t.piece >= n).Select(t => t.layer).ToArray();
        var sequence = new Piece[n + m];
        for (int k = 0; k < n; k++) { sequence[objectLayers[k]] = objects[k].piece; layerOfObject[k] = objectLayers[k]; }
        for (int j = 0; j < m; j++) { sequence[clutterLayers[j]] = clutter[j].piece; layerOfClutter[j] = clutterLayers[j]; }

        var maskPixels = new int[n];
        foreach (var p in sequence)
        {
            for (int v = 0; v < p.H; v++)
            {
                int y = p.Y + v;
                if ((uint)y >= (uint)s) continue;
                for (int u = 0; u < p.W; u++)
                {
                    int x = p.X + u;
                    float a = p.Alpha[v * p.W + u];
                    if (a <= 0 || (uint)x >= (uint)s) continue;
                    int q = y * s + x, o = v * p.W + u, pl = p.W * p.H;
                    px[q] = (1 - a) * px[q] + a * p.Rgb[o];
                    px[plane + q] = (1 - a) * px[plane + q] + a * p.Rgb[pl + o];
                    px[2 * plane + q] = (1 - a) * px[2 * plane + q] + a * p.Rgb[2 * pl + o];
                    owner[q] = p.Owner; // the top piece owns the pixel; clutter owns it for nobody
                    if (p.Owner >= 0) maskPixels[p.Owner]++;
                }
            }
        }

        var visible = new int[n];
        for (int q = 0; q < plane; q++) if (owner[q] >= 0) visible[owner[q]]++;
        var items = objects.Select((o, k) => new FashionItemPlacement(o.cls, o.src, o.x, o.y, o.side, o.flip, o.tint, maskPixels[k], visible[k])).ToArray();
        var cl = clutter.Select((c, j) => new ClutterPlacement(c.kind, c.what,
            new BoundingBox(Math.Max(0, c.piece.X), Math.Max(0, c.piece.Y), Math.Min(s - 1, c.piece.X + c.piece.W - 1), Math.Min(s - 1, c.piece.Y + c.piece.H - 1)), layerOfClutter[j])).ToArray();
        var layout = new FashionScene224Layout($"{Name}/{Split}/{index}", bgName, items, layerOfObject, cl);
        return new Rendered(px, owner, layout);
    }

    /// <summary>
    /// An item scaled so that its content box covers about <paramref name="area"/> of the image: the 28×28 canvas side is
    /// chosen from the item's content box at the alpha cutoff, capped at the image side.
    /// </summary>
    (int Side, float[] Alpha, BoundingBox Content) SizedItem(int src, double area, bool flip)
    {
        int s = Options.Size;
        var img = _items.Images.Image(src);
        float cut = (float)Options.AlphaCutoff, gain = (float)Options.AlphaGain;
        var native = FashionScenes.ScaleAlpha(img, 28, false, cut, gain);
        var nb = FashionScenes.ContentBox(native, 28);
        double side = Math.Sqrt(area * s * s * 784.0 / Math.Max(1, nb.Area));
        int sideI = Math.Clamp((int)Math.Round(side), 8, s);
        var alpha = FashionScenes.ScaleAlpha(img, sideI, flip, cut, gain);
        return (sideI, alpha, FashionScenes.ContentBox(alpha, sideI));
    }

    /// <summary>Item colours as in the 128-px scenes: the tint shaded by the item's own intensity pattern.</summary>
    static float[] ItemColours(float[] alpha, (float R, float G, float B) tint)
    {
        int pl = alpha.Length;
        var rgb = new float[3 * pl];
        for (int i = 0; i < pl; i++)
        {
            float shade = 0.45f + 0.55f * Math.Min(1f, alpha[i]);
            rgb[i] = tint.R * shade; rgb[pl + i] = tint.G * shade; rgb[2 * pl + i] = tint.B * shade;
        }
        return rgb;
    }

    /// <summary>A texture patch: an ellipse or rectangle (aspect 1:2–2:1) of stripes, checks or value noise in two random colours, placed anywhere.</summary>
    (string What, Piece Piece) Texture(SplitMix64 rng, double area)
    {
        int s = Options.Size;
        double aspect = Math.Exp(rng.Uniform(Math.Log(0.5), Math.Log(2)));
        bool ellipse = rng.Bernoulli(0.5);
        double a = area * s * s / (ellipse ? Math.PI / 4 : 1); // box area so that the patch itself covers `area`
        int w = Math.Clamp((int)Math.Round(Math.Sqrt(a * aspect)), 4, s), h = Math.Clamp((int)Math.Round(Math.Sqrt(a / aspect)), 4, s);
        int pattern = rng.Next(0, 3);
        var c1 = FashionScenes.RandomTint(rng); var c2 = FashionScenes.RandomTint(rng);
        double theta = rng.Uniform(0, Math.PI), period = rng.Uniform(4, 16);
        int g = rng.Next(2, 7);
        var grid = new float[(g + 1) * (g + 1)];
        for (int i = 0; i < grid.Length; i++) grid[i] = (float)rng.NextDouble();
        int x0 = rng.Next(0, s - w + 1), y0 = rng.Next(0, s - h + 1);
        var alpha = new float[w * h];
        var rgb = new float[3 * w * h];
        double ct = Math.Cos(theta), st = Math.Sin(theta);
        for (int v = 0; v < h; v++)
            for (int u = 0; u < w; u++)
            {
                double ex = (u + 0.5) / w * 2 - 1, ey = (v + 0.5) / h * 2 - 1;
                if (ellipse && ex * ex + ey * ey > 1) continue;
                double t = pattern switch
                {
                    0 => Math.Sin(2 * Math.PI * (u * ct + v * st) / period) > 0 ? 1 : 0,
                    1 => ((int)Math.Floor(u / (period / 2)) + (int)Math.Floor(v / (period / 2))) % 2 == 0 ? 1 : 0,
                    _ => Noise(grid, g, (double)u / w * g, (double)v / h * g),
                };
                int o = v * w + u, pl = w * h;
                alpha[o] = 1f;
                rgb[o] = (float)((1 - t) * c1.Item1 + t * c2.Item1);
                rgb[pl + o] = (float)((1 - t) * c1.Item2 + t * c2.Item2);
                rgb[2 * pl + o] = (float)((1 - t) * c1.Item3 + t * c2.Item3);
            }
        string what = pattern switch { 0 => "stripes", 1 => "checks", _ => "noise" };
        return (what, new Piece(x0, y0, w, h, alpha, rgb, -1));
    }

    static double Noise(float[] grid, int g, double gx, double gy)
    {
        int ix = Math.Min((int)gx, g - 1), iy = Math.Min((int)gy, g - 1);
        double tx = gx - ix, ty = gy - iy;
        tx = tx * tx * (3 - 2 * tx); ty = ty * ty * (3 - 2 * ty);
        return (1 - ty) * ((1 - tx) * grid[iy * (g + 1) + ix] + tx * grid[iy * (g + 1) + ix + 1])
               + ty * ((1 - tx) * grid[(iy + 1) * (g + 1) + ix] + tx * grid[(iy + 1) * (g + 1) + ix + 1]);
    }

    /// <summary>Background as in the 128-px scenes (photo crop blended with value noise and stripes), at this canvas size.</summary>
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
        int g = rng.Next(3, 13);
        var grid = new float[(g + 1) * (g + 1)];
        for (int i = 0; i < grid.Length; i++) grid[i] = (float)rng.NextDouble();
        var c1 = FashionScenes.RandomTint(rng); var c2 = FashionScenes.RandomTint(rng);
        double theta = rng.Uniform(0, Math.PI), freq = rng.Uniform(2, 14), phase = rng.Uniform(0, 2 * Math.PI), stripeAmp = rng.Uniform(0, 0.3);
        float brightness = (float)rng.Uniform(0.8, 1.15), contrast = (float)Options.BackgroundContrast;
        var px = new float[3 * plane];
        float step = (float)win / s;
        float ct = (float)Math.Cos(theta), st = (float)Math.Sin(theta);
        for (int y = 0; y < s; y++)
        {
            float sy = oy + (y + 0.5f) * step - 0.5f;
            for (int x = 0; x < s; x++)
            {
                float noise = (float)Noise(grid, g, (double)x / s * g, (double)y / s * g);
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
}

/// <summary>Registers <c>fashion-scenes-224</c>.</summary>
static class FashionScenes224Registration
{
#pragma warning disable CA2255 // registration next to the loader is the registry's design (Registry.cs)
    [ModuleInitializer]
    internal static void Register() =>
        DatasetRegistry.Register(new DatasetEntry(FashionScenes224.RegistryName,
            "1–6 Fashion-MNIST items (8 classes) anywhere on a cluttered 224×224 canvas, 1–50 % of the image, held-out Shirt/Bag items and " +
            "texture patches as clutter, occlusion; multi-label (sigmoid); splits train/val (need Debian dataset-fashion-mnist) and test (2000 scenes, embedded assets)",
            () => FashionItems.EmbeddedAvailable,
            "data-scripts/make-assets.sh (test split); " + FashionItems.FetchHint + " (train/val)",
            split => new FashionScenes224(split)));
#pragma warning restore CA2255
}
