using System.Runtime.CompilerServices;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Data;

/// <summary>One image entry of a COCO annotation file.</summary>
public sealed record CocoImage(long Id, string FileName, int Width, int Height);

/// <summary>
/// A COCO segmentation: polygons (flat x,y lists in pixel units), or RLE with uncompressed counts or COCO's
/// compressed string, over an image of <see cref="RleHeight"/>×<see cref="RleWidth"/>.
/// </summary>
public sealed record CocoSegmentation(IReadOnlyList<double[]>? Polygons, long[]? RleCounts, string? RleString, int RleHeight, int RleWidth)
{
    /// <summary>The mask as row-major <c>bool[H·W]</c> for an image of <paramref name="height"/>×<paramref name="width"/>.</summary>
    /// <exception cref="InvalidDataException">An RLE whose size differs from the image.</exception>
    public bool[] ToMask(int height, int width, string context)
    {
        if (Polygons is not null) return CocoMasks.RasterisePolygons(Polygons, height, width);
        if (RleHeight != height || RleWidth != width)
            throw new InvalidDataException($"{context}: RLE size {RleHeight}×{RleWidth} differs from the image's {height}×{width}.");
        try { return CocoMasks.DecodeRle(RleCounts ?? CocoMasks.DecompressCounts(RleString!), height, width); }
        catch (Exception e) when (e is ArgumentException or FormatException) { throw new InvalidDataException($"{context}: {e.Message}", e); }
    }
}

/// <summary>One object annotation of a COCO file.</summary>
/// <param name="ClassIndex">Contiguous class index (categories in id order).</param>
/// <param name="Bbox">COCO box [x, y, w, h] in pixel units (top-left corner, size).</param>
/// <param name="IsCrowd">COCO's <c>iscrowd</c> flag: a region covering several instances, given as RLE.</param>
/// <param name="Id">The annotation's id in the file.</param>
/// <param name="ImageId">Id of the image it belongs to.</param>
/// <param name="CategoryId">COCO category id (not contiguous; <paramref name="ClassIndex"/> is).</param>
/// <param name="Area">COCO's <c>area</c>: the segmentation's area in pixels.</param>
/// <param name="Segmentation">The polygons or RLE of the object's region, or null where the file has none.</param>
public sealed record CocoAnnotation(long Id, long ImageId, long CategoryId, int ClassIndex, double[] Bbox, bool IsCrowd, double Area, CocoSegmentation? Segmentation)
{
    /// <summary>
    /// The box as inclusive 0-based pixels: the pixels the box [x, x+w)×[y, y+h) touches,
    /// <c>X0 = ⌊x⌋, X1 = ⌈x+w⌉−1</c> (likewise in y), clamped to the image.
    /// </summary>
    public BoundingBox PixelBox(int width, int height)
    {
        int x0 = Math.Clamp((int)Math.Floor(Bbox[0]), 0, width - 1), y0 = Math.Clamp((int)Math.Floor(Bbox[1]), 0, height - 1);
        int x1 = Math.Clamp((int)Math.Ceiling(Bbox[0] + Bbox[2]) - 1, x0, width - 1), y1 = Math.Clamp((int)Math.Ceiling(Bbox[1] + Bbox[3]) - 1, y0, height - 1);
        return new BoundingBox(x0, y0, x1, y1);
    }
}

/// <summary>
/// MS COCO 2014 (the COCO pointing game of TorchRay and the thesis, Table 2.1) from the official layout:
/// <c>annotations/instances_{split}2014.json</c> and <c>{split}2014/*.jpg</c>.
/// <para>Classes: the categories of the file sorted by id and numbered 0… (for the official files the 80 classes of
/// <see cref="Classes"/>, ids 1–90 with gaps). Images are ordered by id (torchvision's <c>CocoDetection</c> order).
/// Scenes carry exact masks: polygons are rasterised (pixel centres inside, <see cref="CocoMasks.RasterisePolygons"/>),
/// RLE (uncompressed or compressed) is decoded. Crowd regions (<c>iscrowd = 1</c>) are real pixels of their class and are
/// kept by default, as TorchRay's pointing game uses every annotation of the image; pass <c>includeCrowd: false</c>
/// to drop them.</para>
/// </summary>
public sealed class Coco14Dataset : ISceneDataset
{
    /// <summary>The 80 COCO class names in category-id order (the logit order of COCO models).</summary>
    public static readonly IReadOnlyList<string> Classes = new[]
    {
        "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
        "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
        "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
        "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
        "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
        "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    };

    /// <summary>Registry: <c>coco14-val</c>, available when <c>coco/annotations/instances_val2014.json</c> and <c>coco/val2014</c> are under a data root.</summary>
    [ModuleInitializer]
    internal static void Register() =>
        DatasetRegistry.Register(new DatasetEntry("coco14-val",
            "MS COCO 2014 val: 40504 images, 80 classes, segmentation masks (pointing game)",
            () => DataLocations.Find("coco/annotations/instances_val2014.json") is not null && DataLocations.Find("coco/val2014") is not null,
            "bash data-scripts/fetch-coco14.sh",
            split => new Coco14Dataset(DataLocations.Find("coco") ?? throw new DirectoryNotFoundException(
                $"coco/ not found under {string.Join(", ", DataLocations.Roots)}; run: bash data-scripts/fetch-coco14.sh"), split is "test" ? "val" : split)));

    readonly CocoImage[] _images;
    readonly Dictionary<long, List<CocoAnnotation>> _byImage;

    /// <param name="root">Folder holding <c>annotations/</c> and <c>{split}2014/</c> (or a folder containing <c>coco/</c>).</param>
    /// <param name="split"><c>val</c> (default) or <c>train</c>.</param>
    /// <param name="includeCrowd">Keep <c>iscrowd</c> regions as objects (default true).</param>
    /// <exception cref="FileNotFoundException">The annotation file is missing.</exception>
    /// <exception cref="InvalidDataException">Invalid JSON, a missing field, an unknown category, or an annotation naming an
    /// image that is not in the file; the message names the file and the entry.</exception>
    public Coco14Dataset(string root, string split = "val", bool includeCrowd = true)
    {
        if (!File.Exists(Path.Combine(root, "annotations", $"instances_{split}2014.json")) && System.IO.Directory.Exists(Path.Combine(root, "coco")))
            root = Path.Combine(root, "coco");
        Split = split;
        IncludeCrowd = includeCrowd;
        AnnotationFile = Path.GetFullPath(Path.Combine(root, "annotations", $"instances_{split}2014.json"));
        ImageDirectory = Path.GetFullPath(Path.Combine(root, $"{split}2014"));
        if (!File.Exists(AnnotationFile))
            throw new FileNotFoundException($"COCO annotation file not found: {AnnotationFile} (fetch with: bash data-scripts/fetch-coco14.sh).", AnnotationFile);
        (_images, var categories, var anns) = Parse(AnnotationFile);
        CategoryIds = categories.Select(c => c.Id).ToArray();
        ClassNames = categories.Select(c => c.Name).ToArray();
        _byImage = new Dictionary<long, List<CocoAnnotation>>();
        foreach (var a in anns)
        {
            if (a.IsCrowd && !includeCrowd) continue;
            if (!_byImage.TryGetValue(a.ImageId, out var list)) _byImage[a.ImageId] = list = new List<CocoAnnotation>();
            list.Add(a);
        }
    }

    /// <summary>Full path of <c>annotations/instances_SPLIT2014.json</c>.</summary>
    public string AnnotationFile { get; }
    /// <summary>Full path of the image folder <c>SPLIT2014/</c>.</summary>
    public string ImageDirectory { get; }
    /// <summary>The COCO split, e.g. <c>val</c>.</summary>
    public string Split { get; }
    /// <summary>Whether crowd annotations (<c>iscrowd = 1</c>) are kept as objects; the pointing-game protocol drops them.</summary>
    public bool IncludeCrowd { get; }
    /// <summary>Registry name <c>coco14-SPLIT</c>.</summary>
    public string Name => $"coco14-{Split}";
    /// <summary>The 80 COCO category names in category-id order (class index k ↔ <see cref="CategoryIds"/>[k]).</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>The COCO category id of each class index.</summary>
    public IReadOnlyList<long> CategoryIds { get; }
    /// <summary>Always true: a COCO image carries every category it shows.</summary>
    public bool MultiLabel => true;
    /// <summary>Number of images in the annotation file.</summary>
    public int Count => _images.Length;
    /// <summary>The image records of the annotation file, in file order (index = scene index).</summary>
    public IReadOnlyList<CocoImage> Images => _images;

    /// <summary>The annotations of image <paramref name="index"/> (after the crowd filter), in file order.</summary>
    public IReadOnlyList<CocoAnnotation> Annotations(int index)
    {
        CheckIndex(index);
        return _byImage.TryGetValue(_images[index].Id, out var l) ? l : Array.Empty<CocoAnnotation>();
    }

    /// <summary>Loads scene <paramref name="index"/>: the image, one object per annotation and its exact mask <c>[n,H,W]</c>.</summary>
    /// <exception cref="FileNotFoundException">The image file is missing.</exception>
    /// <exception cref="InvalidDataException">The image size disagrees with the annotation file, or a mask is malformed.</exception>
    public Scene Get(int index)
    {
        CheckIndex(index);
        var info = _images[index];
        var path = Path.Combine(ImageDirectory, info.FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{AnnotationFile} lists image {info.Id} as '{info.FileName}', but {path} does not exist.", path);
        var image = ImageIO.Load(path);
        int h = (int)image.shape[1], w = (int)image.shape[2];
        if (h != info.Height || w != info.Width)
        {
            image.Dispose();
            throw new InvalidDataException($"{AnnotationFile}: image {info.Id} is {info.Width}×{info.Height} there, but {path} is {w}×{h}.");
        }
        var anns = Annotations(index);
        var objects = new List<SceneObject>(anns.Count);
        var masks = new bool[anns.Count * h * w];
        for (int i = 0; i < anns.Count; i++)
        {
            var a = anns[i];
            objects.Add(new SceneObject(a.ClassIndex, a.PixelBox(w, h)));
            bool[] m;
            if (a.Segmentation is null)
            {   // No segmentation: the box is the best ground truth there is.
                m = new bool[h * w];
                var b = a.PixelBox(w, h);
                for (int y = b.Y0; y <= b.Y1; y++) for (int x = b.X0; x <= b.X1; x++) m[y * w + x] = true;
            }
            else m = a.Segmentation.ToMask(h, w, $"{AnnotationFile}: annotation {a.Id}");
            Array.Copy(m, 0, masks, (long)i * h * w, m.Length);
        }
        var maskTensor = tensor(masks, new long[] { anns.Count, h, w });
        return new Scene(Path.GetFileNameWithoutExtension(info.FileName), image, objects, maskTensor);
    }

    void CheckIndex(int index)
    {
        if (index < 0 || index >= _images.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"Index {index} is outside {Name} (0..{_images.Length - 1}).");
    }

    /// <summary>Parses a COCO instances file: images (sorted by id), categories (sorted by id) and annotations.</summary>
    public static (CocoImage[] Images, (long Id, string Name)[] Categories, List<CocoAnnotation> Annotations) Parse(string path)
    {
        JsonDocument doc;
        try
        {
            using var stream = File.OpenRead(path);
            doc = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object with images, annotations and categories.");
            var cats = List(root, "categories", path)
                .Select((c, i) => (Id: Long(c, "id", path, $"categories[{i}]"), Name: Str(c, "name", path, $"categories[{i}]")))
                .OrderBy(c => c.Id).ToArray();
            if (cats.Length == 0) throw new InvalidDataException($"{path}: no categories.");
            var dupCat = cats.GroupBy(c => c.Id).FirstOrDefault(g => g.Count() > 1);
            if (dupCat is not null) throw new InvalidDataException($"{path}: category id {dupCat.Key} appears twice.");
            var catIndex = cats.Select((c, i) => (c.Id, i)).ToDictionary(p => p.Id, p => p.i);

            var images = List(root, "images", path).Select((im, i) =>
            {
                string ctx = $"images[{i}]";
                return new CocoImage(Long(im, "id", path, ctx), Str(im, "file_name", path, ctx), (int)Long(im, "width", path, ctx), (int)Long(im, "height", path, ctx));
            }).OrderBy(im => im.Id).ToArray();
            var imageById = new Dictionary<long, CocoImage>();
            foreach (var im in images)
                if (!imageById.TryAdd(im.Id, im)) throw new InvalidDataException($"{path}: image id {im.Id} appears twice.");

            var anns = new List<CocoAnnotation>();
            int k = 0;
            foreach (var a in List(root, "annotations", path))
            {
                long id = Long(a, "id", path, $"annotations[{k}]");
                string ctx = $"annotation {id}";
                long imageId = Long(a, "image_id", path, ctx), catId = Long(a, "category_id", path, ctx);
                if (!imageById.TryGetValue(imageId, out var img))
                    throw new InvalidDataException($"{path}: {ctx} refers to image {imageId}, which is not among the file's images.");
                if (!catIndex.TryGetValue(catId, out int cls))
                    throw new InvalidDataException($"{path}: {ctx} has category {catId}, which is not among the file's categories.");
                var bbox = Prop(a, "bbox", path, ctx);
                if (bbox.ValueKind != JsonValueKind.Array || bbox.GetArrayLength() != 4)
                    throw new InvalidDataException($"{path}: {ctx} bbox must be [x, y, width, height].");
                var box = bbox.EnumerateArray().Select(v => v.GetDouble()).ToArray();
                if (box[2] < 0 || box[3] < 0) throw new InvalidDataException($"{path}: {ctx} bbox has a negative size.");
                bool crowd = a.TryGetProperty("iscrowd", out var c) && c.ValueKind == JsonValueKind.Number && c.GetInt32() == 1;
                double area = a.TryGetProperty("area", out var ar) && ar.ValueKind == JsonValueKind.Number ? ar.GetDouble() : box[2] * box[3];
                var seg = a.TryGetProperty("segmentation", out var s) ? Segmentation(s, path, ctx, img) : null;
                anns.Add(new CocoAnnotation(id, imageId, catId, cls, box, crowd, area, seg));
                k++;
            }
            return (images, cats, anns);
        }
    }

    static CocoSegmentation? Segmentation(JsonElement s, string path, string ctx, CocoImage img)
    {
        switch (s.ValueKind)
        {
            case JsonValueKind.Null: return null;
            case JsonValueKind.Array:
                var polys = new List<double[]>();
                foreach (var p in s.EnumerateArray())
                {
                    if (p.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{path}: {ctx} segmentation must be a list of polygons [x0,y0,x1,y1,…].");
                    var poly = p.EnumerateArray().Select(v => v.GetDouble()).ToArray();
                    if (poly.Length % 2 != 0 || poly.Length < 6)
                        throw new InvalidDataException($"{path}: {ctx} has a polygon with {poly.Length} coordinates; polygons need an even number ≥ 6.");
                    polys.Add(poly);
                }
                return polys.Count == 0 ? null : new CocoSegmentation(polys, null, null, img.Height, img.Width);
            case JsonValueKind.Object:
                var size = Prop(s, "size", path, ctx + " segmentation");
                if (size.ValueKind != JsonValueKind.Array || size.GetArrayLength() != 2)
                    throw new InvalidDataException($"{path}: {ctx} RLE size must be [height, width].");
                int h = size[0].GetInt32(), w = size[1].GetInt32();
                var counts = Prop(s, "counts", path, ctx + " segmentation");
                if (counts.ValueKind == JsonValueKind.String) return new CocoSegmentation(null, null, counts.GetString()!, h, w);
                if (counts.ValueKind == JsonValueKind.Array) return new CocoSegmentation(null, counts.EnumerateArray().Select(v => v.GetInt64()).ToArray(), null, h, w);
                throw new InvalidDataException($"{path}: {ctx} RLE counts must be a list of integers or a compressed string.");
            default:
                throw new InvalidDataException($"{path}: {ctx} segmentation must be polygons or RLE; got {s.ValueKind}.");
        }
    }

    static JsonElement Prop(JsonElement e, string name, string path, string ctx) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v
        : throw new InvalidDataException($"{path}: {ctx} has no '{name}'.");

    static IEnumerable<JsonElement> List(JsonElement root, string name, string path)
    {
        var v = Prop(root, name, path, "the top level");
        if (v.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{path}: '{name}' must be a list.");
        return v.EnumerateArray();
    }

    static long Long(JsonElement e, string name, string path, string ctx)
    {
        var v = Prop(e, name, path, ctx);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long x)) return x;
        throw new InvalidDataException($"{path}: {ctx} '{name}' must be an integer; got {v.GetRawText()}.");
    }

    static string Str(JsonElement e, string name, string path, string ctx)
    {
        var v = Prop(e, name, path, ctx);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new InvalidDataException($"{path}: {ctx} '{name}' must be a string.");
    }
}
