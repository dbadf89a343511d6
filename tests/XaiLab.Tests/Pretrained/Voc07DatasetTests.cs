using XaiLab.Imaging;
using XaiLab.Imaging.Data;

namespace XaiLab.Tests.Pretrained;

/// <summary>The VOC2007 loader on the fixture devkit under Fixtures/voc07 (real VOC XML, tiny JPEGs).</summary>
[Trait("Category", "Unit")]
public class Voc07DatasetTests
{
    static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "voc07");
    static string Ann(string id) => Path.Combine(Root, "VOCdevkit", "VOC2007", "Annotations", id + ".xml");

    public Voc07DatasetTests() => Devices.EnsureNativeLoaded();

    [Fact]
    public void Class_list_is_the_standard_VOC_order()
    {
        Assert.Equal(20, Voc07Dataset.Classes.Count);
        Assert.Equal("aeroplane", Voc07Dataset.Classes[0]);
        Assert.Equal(11, Voc07Dataset.Classes.ToList().IndexOf("dog"));
        Assert.Equal(14, Voc07Dataset.Classes.ToList().IndexOf("person"));
        Assert.Equal("tvmonitor", Voc07Dataset.Classes[19]);
        Assert.Equal(Voc07Dataset.Classes.OrderBy(c => c, StringComparer.Ordinal), Voc07Dataset.Classes);
    }

    [Fact]
    public void Split_lists_ids_and_boxes_become_zero_based_inclusive()
    {
        var ds = new Voc07Dataset(Root);
        Assert.Equal(new[] { "000001", "000002" }, ds.Ids);
        Assert.True(ds.MultiLabel);
        using var scene = ds.Get(0);
        Assert.Equal("000001", scene.Id);
        Assert.Equal(new long[] { 3, 32, 48 }, scene.Image.shape);
        Assert.Equal(2, scene.Objects.Count);
        // <xmin>1 <ymin>1 <xmax>20 <ymax>16 in VOC's 1-based pixels → 0..19 × 0..15.
        Assert.Equal(new BoundingBox(0, 0, 19, 15), scene.Objects[0].Box);
        Assert.Equal(11, scene.Objects[0].ClassIndex);
        Assert.False(scene.Objects[0].Difficult);
        Assert.Equal(new BoundingBox(29, 9, 47, 31), scene.Objects[1].Box);
        Assert.True(scene.Objects[1].Difficult);
        Assert.Equal(20 * 16, scene.Objects[0].Box.Area);
        // The last pixel of the box (1-based 48, 32) is the image's last pixel.
        Assert.Equal(scene.Width - 1, scene.Objects[1].Box.X1);
        Assert.Equal(scene.Height - 1, scene.Objects[1].Box.Y1);
        using var mask = scene.ClassMask(11);
        Assert.Equal(320, mask.sum().item<long>());
        using var personNoDifficult = scene.ClassMask(14, includeDifficult: false);
        Assert.Equal(0, personNoDifficult.sum().item<long>());
    }

    [Fact]
    public void Difficult_flags_and_repeated_classes_are_kept_per_object()
    {
        var ds = new Voc07Dataset(Path.Combine(Root, "VOCdevkit"), "test");
        var ann = ds.Annotation(1);
        Assert.Equal(40, ann.Width);
        Assert.Equal(30, ann.Height);
        Assert.Equal(new[] { 7, 19, 7 }, ann.Objects.Select(o => o.ClassIndex));
        Assert.Equal(new[] { false, false, true }, ann.Objects.Select(o => o.Difficult));
        Assert.Equal(new BoundingBox(2, 3, 11, 12), ann.Objects[0].Box);
        using var scene = ds.Get(1);
        Assert.Equal(new[] { 7, 19 }, scene.Classes);
        // Cat pixels: 10×10 box plus the difficult 11×6 box (no overlap).
        using var all = scene.ClassMask(7);
        Assert.Equal(100 + 66, all.sum().item<long>());
        using var easy = scene.ClassMask(7, includeDifficult: false);
        Assert.Equal(100, easy.sum().item<long>());
    }

    [Fact]
    public void Other_splits_and_the_VOC2007_folder_itself_work()
    {
        var ds = new Voc07Dataset(Path.Combine(Root, "VOCdevkit", "VOC2007"), "trainval");
        Assert.Equal(1, ds.Count);
        Assert.Equal("voc07-trainval", ds.Name);
    }

    [Fact]
    public void Malformed_xml_names_the_file()
    {
        var e = Assert.Throws<InvalidDataException>(() => new Voc07Dataset(Root, "broken").Get(0));
        Assert.Contains(Ann("000003"), e.Message);
        Assert.Contains("malformed XML", e.Message);
    }

    [Fact]
    public void Unknown_class_names_the_file_and_the_class()
    {
        var e = Assert.Throws<InvalidDataException>(() => Voc07Dataset.ParseAnnotation(Ann("000004")));
        Assert.Contains("000004.xml", e.Message);
        Assert.Contains("'unicorn'", e.Message);
    }

    [Fact]
    public void Annotation_without_its_image_names_both_files()
    {
        var e = Assert.Throws<FileNotFoundException>(() => new Voc07Dataset(Root, "noimage").Get(0));
        Assert.Contains("000005.xml", e.Message);
        Assert.Contains("000005.jpg", e.Message);
    }

    [Fact]
    public void Missing_split_or_devkit_is_a_clear_error()
    {
        var e = Assert.Throws<FileNotFoundException>(() => new Voc07Dataset(Root, "nosuchsplit"));
        Assert.Contains("nosuchsplit.txt", e.Message);
        var d = Assert.Throws<DirectoryNotFoundException>(() => new Voc07Dataset(Path.GetTempPath()));
        Assert.Contains("fetch-voc07.sh", d.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Voc07Dataset(Root).Get(2));
    }

    [Fact]
    public void Box_with_missing_or_inverted_coordinates_is_rejected()
    {
        var dir = Directory.CreateTempSubdirectory("voc-bad");
        try
        {
            var f = Path.Combine(dir.FullName, "x.xml");
            File.WriteAllText(f, "<annotation><object><name>dog</name><bndbox><xmin>10</xmin><ymin>4</ymin><xmax>5</xmax><ymax>8</ymax></bndbox></object></annotation>");
            var e = Assert.Throws<InvalidDataException>(() => Voc07Dataset.ParseAnnotation(f));
            Assert.Contains("object 1 (dog)", e.Message);
            File.WriteAllText(f, "<annotation><object><name>dog</name><bndbox><xmin>a</xmin><ymin>4</ymin><xmax>5</xmax><ymax>8</ymax></bndbox></object></annotation>");
            Assert.Contains("<xmin>", Assert.Throws<InvalidDataException>(() => Voc07Dataset.ParseAnnotation(f)).Message);
            File.WriteAllText(f, "<annotation><object><name>dog</name><difficult>2</difficult><bndbox><xmin>1</xmin><ymin>4</ymin><xmax>5</xmax><ymax>8</ymax></bndbox></object></annotation>");
            Assert.Contains("difficult", Assert.Throws<InvalidDataException>(() => Voc07Dataset.ParseAnnotation(f)).Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Registry_offers_voc07_test_with_its_fetch_script()
    {
        var entry = DatasetRegistry.Get("voc07-test");
        Assert.Equal("bash data-scripts/fetch-voc07.sh", entry.FetchHint);
    }
}
