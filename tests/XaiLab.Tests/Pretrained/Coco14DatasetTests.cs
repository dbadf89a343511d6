using XaiLab.Imaging;
using XaiLab.Imaging.Data;

namespace XaiLab.Tests.Pretrained;

/// <summary>The COCO 2014 loader and mask codecs on the fixture under Fixtures/coco14 (real instances JSON, tiny JPEGs).</summary>
[Trait("Category", "Unit")]
public class Coco14DatasetTests
{
    static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "coco14");

    public Coco14DatasetTests() => Devices.EnsureNativeLoaded();

    static int Count(bool[] m) => m.Count(v => v);

    [Fact]
    public void Categories_map_to_contiguous_indices_in_id_order()
    {
        var ds = new Coco14Dataset(Root);
        Assert.Equal(80, ds.ClassNames.Count);
        Assert.Equal(Coco14Dataset.Classes, ds.ClassNames);
        Assert.Equal(ds.CategoryIds.OrderBy(i => i), ds.CategoryIds);
        Assert.Equal(1, ds.CategoryIds[0]);
        Assert.Equal(13, ds.CategoryIds[11]);   // id 12 does not exist: "stop sign" (13) is class 11
        Assert.Equal("stop sign", ds.ClassNames[11]);
        Assert.Equal(90, ds.CategoryIds[79]);
        Assert.Equal(Coco14Dataset.Classes.Count, Coco14Dataset.Classes.Distinct().Count());
    }

    [Fact]
    public void Images_are_ordered_by_id_and_carry_exact_masks()
    {
        var ds = new Coco14Dataset(Root);
        Assert.Equal(new long[] { 42, 73 }, ds.Images.Select(i => i.Id));
        using var scene = ds.Get(0);
        Assert.Equal("COCO_val2014_000000000042", scene.Id);
        Assert.Equal(new long[] { 3, 30, 40 }, scene.Image.shape);
        Assert.Equal(new[] { 16, 0 }, scene.Objects.Select(o => o.ClassIndex)); // dog (18), person (1)
        Assert.NotNull(scene.ObjectMasks);
        Assert.Equal(new long[] { 2, 30, 40 }, scene.ObjectMasks!.shape);
        // The crowd region is the RLE rectangle x 30..34, y 10..19.
        using var person = scene.ClassMask(0);
        Assert.Equal(50, person.sum().item<long>());
        Assert.True(person[10, 30].item<bool>() && person[19, 34].item<bool>());
        Assert.False(person[9, 30].item<bool>() || person[10, 35].item<bool>());
        Assert.Equal(new BoundingBox(30, 10, 34, 19), scene.Objects[1].Box);
        // The dog triangle (5,5)-(25,5)-(15,25) has area 200.
        using var dog = scene.ClassMask(16);
        Assert.InRange(dog.sum().item<long>(), 190, 210);
    }

    [Fact]
    public void Compressed_RLE_and_multi_polygon_objects_decode()
    {
        var ds = new Coco14Dataset(Root);
        using var scene = ds.Get(1);
        Assert.Equal(new[] { 79, 56 }, scene.Objects.Select(o => o.ClassIndex)); // toothbrush (90), chair (62)
        using var brush = scene.ClassMask(79);
        Assert.Equal(64, brush.sum().item<long>());
        Assert.True(brush[4, 8].item<bool>() && brush[11, 15].item<bool>() && !brush[12, 15].item<bool>());
        using var chair = scene.ClassMask(56);
        Assert.Equal(32, chair.sum().item<long>()); // two 4×4 squares
    }

    [Fact]
    public void Crowd_regions_can_be_left_out()
    {
        var ds = new Coco14Dataset(Root, includeCrowd: false);
        Assert.Single(ds.Annotations(0));
        Assert.True(new Coco14Dataset(Root).Annotations(0)[1].IsCrowd);
        using var scene = ds.Get(0);
        Assert.Equal(new[] { 16 }, scene.Classes);
    }

    [Fact]
    public void Boxes_cover_the_touched_pixels()
    {
        var a = new CocoAnnotation(1, 1, 1, 0, new[] { 2.5, 3.0, 4.0, 2.2 }, false, 0, null);
        Assert.Equal(new BoundingBox(2, 3, 6, 5), a.PixelBox(100, 100));
        Assert.Equal(new BoundingBox(2, 3, 4, 4), a.PixelBox(5, 5));
    }

    [Fact]
    public void Compressed_counts_match_hand_worked_strings()
    {
        // 3 → '3'; 2 → '2'; 40 = 8 + 1·32 → 'X' (8|0x20) then '1'.
        Assert.Equal(new long[] { 3, 2, 40 }, CocoMasks.DecompressCounts("32X1"));
        // From the fourth count on the difference to two places back is stored: 5 − 1 = 4.
        Assert.Equal(new long[] { 1, 1, 1, 5 }, CocoMasks.DecompressCounts("1114"));
        // Negative difference 2 − 10 = −8: one group 24 (0b11000, sign bit set) → 'H'.
        Assert.Equal(new long[] { 5, 10, 1, 2 }, CocoMasks.DecompressCounts("5:1H"));
        Assert.Equal("32X1", CocoMasks.CompressCounts(new long[] { 3, 2, 40 }));
        Assert.Equal("5:1H", CocoMasks.CompressCounts(new long[] { 5, 10, 1, 2 }));
        Assert.Throws<FormatException>(() => CocoMasks.DecompressCounts("X"));   // ends inside a count
        Assert.Throws<FormatException>(() => CocoMasks.DecompressCounts("3 2"));
    }

    [Fact]
    public void Rle_round_trips_random_masks_in_both_forms()
    {
        var rng = new Random(17);
        for (int trial = 0; trial < 20; trial++)
        {
            int h = rng.Next(1, 30), w = rng.Next(1, 30);
            var mask = new bool[h * w];
            for (int i = 0; i < mask.Length; i++) mask[i] = rng.NextDouble() < (trial % 3 == 0 ? 0.9 : 0.3);
            var counts = CocoMasks.EncodeRle(mask, h, w);
            Assert.Equal(h * w, counts.Sum());
            Assert.Equal(mask, CocoMasks.DecodeRle(counts, h, w));
            Assert.Equal(mask, CocoMasks.DecodeRle(CocoMasks.DecompressCounts(CocoMasks.CompressCounts(counts)), h, w));
        }
    }

    [Fact]
    public void Rle_runs_go_down_columns_first()
    {
        // 2×3 image, runs: 1 background, 2 foreground → pixels (y=1,x=0) and (y=0,x=1).
        var m = CocoMasks.DecodeRle(new long[] { 1, 2, 3 }, 2, 3);
        Assert.Equal(new[] { false, true, false, true, false, false }, m);
        Assert.Throws<ArgumentException>(() => CocoMasks.DecodeRle(new long[] { 1, 2 }, 2, 3));
        Assert.Throws<ArgumentException>(() => CocoMasks.DecodeRle(new long[] { 5, 5 }, 2, 3));
    }

    [Fact]
    public void Polygon_pixel_count_matches_the_shoelace_area()
    {
        // Integer rectangle: exact.
        var rect = new double[] { 10, 10, 20, 10, 20, 30, 10, 30 };
        Assert.Equal(200, Count(CocoMasks.RasterisePolygons(new[] { rect }, 50, 50)));
        Assert.Equal(200, CocoMasks.ShoelaceArea(rect));
        // A large non-convex star: centre sampling converges to the area (error bounded by the boundary pixels).
        var star = new double[20];
        for (int i = 0; i < 10; i++)
        {
            double r = i % 2 == 0 ? 180 : 70, a = Math.PI * i / 5 + 0.1;
            star[2 * i] = 200 + r * Math.Cos(a);
            star[2 * i + 1] = 200 + r * Math.Sin(a);
        }
        double area = CocoMasks.ShoelaceArea(star), pixels = Count(CocoMasks.RasterisePolygons(new[] { star }, 400, 400));
        double perimeter = Enumerable.Range(0, 10).Sum(i => Math.Sqrt(Math.Pow(star[2 * i] - star[2 * ((i + 1) % 10)], 2) + Math.Pow(star[2 * i + 1] - star[2 * ((i + 1) % 10) + 1], 2)));
        Assert.True(Math.Abs(pixels - area) < 0.05 * perimeter, $"pixels {pixels} vs shoelace {area} (perimeter {perimeter:F0})");
        Assert.True(Math.Abs(pixels - area) / area < 0.002);
        // Winding direction does not matter; polygons partly outside the image are clipped.
        var reversed = Enumerable.Range(0, 10).Reverse().SelectMany(i => new[] { star[2 * i], star[2 * i + 1] }).ToArray();
        Assert.Equal(CocoMasks.RasterisePolygons(new[] { star }, 400, 400), CocoMasks.RasterisePolygons(new[] { reversed }, 400, 400));
        Assert.Equal(50, Count(CocoMasks.RasterisePolygons(new[] { new double[] { -10, 0, 5, 0, 5, 10, -10, 10 } }, 20, 20)));
        Assert.Throws<ArgumentException>(() => CocoMasks.RasterisePolygons(new[] { new double[] { 1, 2, 3, 4 } }, 5, 5));
    }

    static string WriteTemp(string json, out DirectoryInfo dir)
    {
        dir = Directory.CreateTempSubdirectory("coco-bad");
        Directory.CreateDirectory(Path.Combine(dir.FullName, "annotations"));
        var f = Path.Combine(dir.FullName, "annotations", "instances_val2014.json");
        File.WriteAllText(f, json);
        return f;
    }

    const string Cats = "\"categories\":[{\"id\":1,\"name\":\"person\"}]";

    [Fact]
    public void Invalid_json_names_the_file_and_line()
    {
        var f = WriteTemp("{\"images\": [\n {\"id\": 1,, }\n]}", out var dir);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => new Coco14Dataset(dir.FullName));
            Assert.Contains(f, e.Message);
            Assert.Contains("line 2", e.Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Annotation_naming_a_missing_image_or_category_is_reported()
    {
        var f = WriteTemp("{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\",\"width\":4,\"height\":4}],\"annotations\":[{\"id\":9,\"image_id\":2,\"category_id\":1,\"bbox\":[0,0,1,1]}]," + Cats + "}", out var dir);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => new Coco14Dataset(dir.FullName));
            Assert.Contains(f, e.Message);
            Assert.Contains("annotation 9 refers to image 2", e.Message);
            File.WriteAllText(f, "{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\",\"width\":4,\"height\":4}],\"annotations\":[{\"id\":9,\"image_id\":1,\"category_id\":5,\"bbox\":[0,0,1,1]}]," + Cats + "}");
            Assert.Contains("category 5", Assert.Throws<InvalidDataException>(() => new Coco14Dataset(dir.FullName)).Message);
            File.WriteAllText(f, "{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\",\"width\":4,\"height\":4}],\"annotations\":[{\"id\":9,\"image_id\":1,\"category_id\":1,\"bbox\":[0,0,1]}]," + Cats + "}");
            Assert.Contains("bbox", Assert.Throws<InvalidDataException>(() => new Coco14Dataset(dir.FullName)).Message);
            // A listed image that is not on disk: named at load time.
            File.WriteAllText(f, "{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\",\"width\":4,\"height\":4}],\"annotations\":[]," + Cats + "}");
            var missing = Assert.Throws<FileNotFoundException>(() => new Coco14Dataset(dir.FullName).Get(0));
            Assert.Contains("a.jpg", missing.Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Rle_of_the_wrong_size_is_reported_with_its_annotation()
    {
        var seg = new CocoSegmentation(null, new long[] { 4, 5 }, null, 3, 3);
        var e = Assert.Throws<InvalidDataException>(() => seg.ToMask(4, 4, "file.json: annotation 7"));
        Assert.Contains("annotation 7", e.Message);
        Assert.Contains("3×3", e.Message);
    }

    [Fact]
    public void Missing_annotation_file_names_the_fetch_script()
    {
        var e = Assert.Throws<FileNotFoundException>(() => new Coco14Dataset(Path.GetTempPath(), "val"));
        Assert.Contains("instances_val2014.json", e.Message);
        Assert.Contains("fetch-coco14.sh", e.Message);
        Assert.Equal("bash data-scripts/fetch-coco14.sh", DatasetRegistry.Get("coco14-val").FetchHint);
    }
}
