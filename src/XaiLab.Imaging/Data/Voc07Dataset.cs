using System.Runtime.CompilerServices;
using System.Xml;
using System.Xml.Linq;

namespace XaiLab.Imaging.Data;

/// <summary>
/// PASCAL VOC 2007 (the pointing-game benchmark of TorchRay and the thesis, §1.2.4B, §2.7.3), read from the standard
/// devkit layout: <c>VOC2007/ImageSets/Main/{split}.txt</c> (image ids), <c>VOC2007/Annotations/{id}.xml</c> (objects:
/// <c>name</c>, <c>difficult</c>, <c>bndbox</c>) and <c>VOC2007/JPEGImages/{id}.jpg</c>.
/// <para>Boxes: VOC stores 1-based inclusive pixel coordinates; scenes carry 0-based inclusive ones, so every
/// coordinate is shifted by −1. Classes: the 20 VOC classes in the standard (alphabetical) order, <see cref="Classes"/>.
/// Annotations are parsed when a scene is requested; a malformed file fails with its path in the message.</para>
/// </summary>
public sealed class Voc07Dataset : ISceneDataset
{
    /// <summary>The 20 VOC classes in the standard order (the logit order of VOC models).</summary>
    public static readonly IReadOnlyList<string> Classes = new[]
    {
        "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    };

    static readonly Dictionary<string, int> ClassIndex = Classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);

    /// <summary>Registry: <c>voc07-test</c>, available when <c>VOCdevkit/VOC2007/ImageSets/Main/test.txt</c> is under a data root.</summary>
    [ModuleInitializer]
    internal static void Register() =>
        DatasetRegistry.Register(new DatasetEntry("voc07-test",
            "PASCAL VOC 2007 test: 4952 images, 20 classes, boxes with 'difficult' flags (pointing game)",
            () => DataLocations.Find("VOCdevkit/VOC2007/ImageSets/Main/test.txt") is not null,
            "bash data-scripts/fetch-voc07.sh",
            split => new Voc07Dataset(DataLocations.Find("VOCdevkit") ?? throw new DirectoryNotFoundException(
                $"VOCdevkit not found under {string.Join(", ", DataLocations.Roots)}; run: bash data-scripts/fetch-voc07.sh"), split)));

    readonly string[] _ids;

    /// <param name="root">The <c>VOCdevkit</c> folder, its <c>VOC2007</c> subfolder, or a folder containing <c>VOCdevkit</c>.</param>
    /// <param name="split">Image set: <c>test</c> (default), <c>trainval</c>, <c>train</c> or <c>val</c>.</param>
    /// <exception cref="DirectoryNotFoundException">No VOC2007 folder at <paramref name="root"/>.</exception>
    /// <exception cref="FileNotFoundException">The split's id list is missing; the message names the file.</exception>
    public Voc07Dataset(string root, string split = "test")
    {
        Directory = ResolveVoc2007(root);
        Split = split;
        var list = Path.Combine(Directory, "ImageSets", "Main", split + ".txt");
        if (!File.Exists(list))
            throw new FileNotFoundException($"VOC2007 split '{split}' not found: {list} does not exist (splits: test, trainval, train, val).", list);
        _ids = File.ReadAllLines(list).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (_ids.Length == 0) throw new InvalidDataException($"{list}: the split lists no images.");
        foreach (var id in _ids)
            if (id.Contains(' ') || id.Contains('/'))
                throw new InvalidDataException($"{list}: '{id}' is not an image id (expected one id per line, as in ImageSets/Main/{split}.txt).");
    }

    /// <summary>The <c>VOC2007</c> folder in use.</summary>
    public string Directory { get; }
    /// <summary>The VOC2007 image set, e.g. <c>test</c> (a file of <c>ImageSets/Main/</c>).</summary>
    public string Split { get; }
    /// <summary>Registry name <c>voc07-SPLIT</c>.</summary>
    public string Name => $"voc07-{Split}";
    /// <summary>The 20 VOC classes in the usual alphabetical order.</summary>
    public IReadOnlyList<string> ClassNames => Classes;
    /// <summary>Always true: a VOC image carries every class it shows.</summary>
    public bool MultiLabel => true;
    /// <summary>Number of image ids in the split file.</summary>
    public int Count => _ids.Length;
    /// <summary>The image ids of the split in file order (index = scene index).</summary>
    public IReadOnlyList<string> Ids => _ids;

    static string ResolveVoc2007(string root)
    {
        foreach (var c in new[] { root, Path.Combine(root, "VOC2007"), Path.Combine(root, "VOCdevkit", "VOC2007") })
            if (System.IO.Directory.Exists(Path.Combine(c, "ImageSets", "Main")) && System.IO.Directory.Exists(Path.Combine(c, "Annotations")))
                return Path.GetFullPath(c);
        throw new DirectoryNotFoundException($"No VOC2007 devkit at '{root}': expected VOC2007/ImageSets/Main and VOC2007/Annotations (fetch with: bash data-scripts/fetch-voc07.sh).");
    }

    /// <summary>The parsed annotation of image <paramref name="index"/> without loading its pixels.</summary>
    public VocAnnotation Annotation(int index)
    {
        CheckIndex(index);
        return ParseAnnotation(Path.Combine(Directory, "Annotations", _ids[index] + ".xml"));
    }

    /// <summary>Loads scene <paramref name="index"/>: the JPEG as <c>[3,H,W]</c> in [0,1] and its objects (boxes only, no masks).</summary>
    /// <exception cref="FileNotFoundException">The annotation or image file is missing.</exception>
    /// <exception cref="InvalidDataException">The annotation is malformed, or its size disagrees with the image.</exception>
    public Scene Get(int index)
    {
        var ann = Annotation(index);
        var jpg = Path.Combine(Directory, "JPEGImages", _ids[index] + ".jpg");
        if (!File.Exists(jpg)) throw new FileNotFoundException($"{ann.Path} annotates image '{_ids[index]}', but {jpg} does not exist.", jpg);
        var image = ImageIO.Load(jpg);
        if (ann.Width > 0 && ann.Height > 0 && (image.shape[1] != ann.Height || image.shape[2] != ann.Width))
        {
            var actual = $"{image.shape[2]}×{image.shape[1]}";
            image.Dispose();
            throw new InvalidDataException($"{ann.Path}: size {ann.Width}×{ann.Height} disagrees with {jpg} ({actual}).");
        }
        return new Scene(_ids[index], image, ann.Objects);
    }

    void CheckIndex(int index)
    {
        if (index < 0 || index >= _ids.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"Index {index} is outside {Name} (0..{_ids.Length - 1}).");
    }

    /// <summary>
    /// Parses one VOC annotation file. Boxes become 0-based inclusive (each coordinate −1); objects keep file order.
    /// </summary>
    /// <exception cref="InvalidDataException">Malformed XML, an unknown class name, a missing or non-numeric box coordinate,
    /// or an empty box; the message names the file and the object.</exception>
    public static VocAnnotation ParseAnnotation(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"VOC annotation not found: {path}", path);
        XDocument doc;
        try { doc = XDocument.Load(path); }
        catch (XmlException e) { throw new InvalidDataException($"{path}: malformed XML (line {e.LineNumber}, position {e.LinePosition}): {e.Message}", e); }
        var root = doc.Root;
        if (root is null || root.Name.LocalName != "annotation")
            throw new InvalidDataException($"{path}: expected an <annotation> root element, found <{root?.Name.LocalName}>.");
        int width = 0, height = 0;
        if (root.Element("size") is { } size)
        {
            width = IntOf(size, "width", path, "size");
            height = IntOf(size, "height", path, "size");
        }
        var objects = new List<SceneObject>();
        int k = 0;
        foreach (var o in root.Elements("object"))
        {
            k++;
            var name = o.Element("name")?.Value.Trim()
                ?? throw new InvalidDataException($"{path}: object {k} has no <name>.");
            if (!ClassIndex.TryGetValue(name, out int cls))
                throw new InvalidDataException($"{path}: object {k} has class '{name}', which is not one of the 20 VOC classes ({string.Join(", ", Classes)}).");
            var difficultText = o.Element("difficult")?.Value.Trim();
            bool difficult = difficultText switch
            {
                null or "" or "0" => false,
                "1" => true,
                _ => throw new InvalidDataException($"{path}: object {k} ({name}) has <difficult>{difficultText}</difficult>; expected 0 or 1."),
            };
            var box = o.Element("bndbox") ?? throw new InvalidDataException($"{path}: object {k} ({name}) has no <bndbox>.");
            string what = $"object {k} ({name}) bndbox";
            int x0 = CoordinateOf(box, "xmin", path, what) - 1, y0 = CoordinateOf(box, "ymin", path, what) - 1;
            int x1 = CoordinateOf(box, "xmax", path, what) - 1, y1 = CoordinateOf(box, "ymax", path, what) - 1;
            if (x1 < x0 || y1 < y0 || x0 < 0 || y0 < 0)
                throw new InvalidDataException($"{path}: {what} ({x0 + 1},{y0 + 1})–({x1 + 1},{y1 + 1}) is empty or starts before pixel 1.");
            objects.Add(new SceneObject(cls, new BoundingBox(x0, y0, x1, y1), difficult));
        }
        return new VocAnnotation(path, root.Element("filename")?.Value.Trim() ?? "", width, height, objects);
    }

    static int IntOf(XElement parent, string child, string path, string what)
    {
        var text = parent.Element(child)?.Value.Trim();
        if (text is null || !int.TryParse(text, out int v))
            throw new InvalidDataException($"{path}: {what} <{child}> is {(text is null ? "missing" : $"'{text}', not an integer")}.");
        return v;
    }

    /// <summary>VOC coordinates are integers, but a few files in derived sets write "273.0": accept integral decimals.</summary>
    static int CoordinateOf(XElement parent, string child, string path, string what)
    {
        var text = parent.Element(child)?.Value.Trim();
        if (text is not null && double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)
            && Math.Abs(d - Math.Round(d)) < 1e-9)
            return (int)Math.Round(d);
        throw new InvalidDataException($"{path}: {what} <{child}> is {(text is null ? "missing" : $"'{text}', not an integer pixel coordinate")}.");
    }
}

/// <summary>One parsed VOC annotation file.</summary>
/// <param name="Path">The XML file.</param>
/// <param name="FileName">The image file name it names.</param>
/// <param name="Width">Image width from <c>&lt;size&gt;</c> (0 when absent).</param>
/// <param name="Height">Image height from <c>&lt;size&gt;</c> (0 when absent).</param>
/// <param name="Objects">Objects with 0-based inclusive boxes and difficult flags.</param>
public sealed record VocAnnotation(string Path, string FileName, int Width, int Height, IReadOnlyList<SceneObject> Objects);
