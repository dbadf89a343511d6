using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using static TorchSharp.torch;

namespace XaiLab.Tests.Data;

[Trait("Category", "Unit")]
public class FashionScenesTests
{
    /// <summary>
    /// A 60k-item pool standing in for the Debian training set (CI machines may lack it): item i is embedded test item
    /// i mod 2000. The train/val splits take their index ranges from it exactly as from the real set.
    /// </summary>
    static readonly Lazy<FashionItems> Pool = new(() =>
    {
        var src = FashionItems.EmbeddedTest;
        var px = new byte[60_000 * 784];
        var labels = new byte[60_000];
        for (int i = 0; i < 60_000; i++)
        {
            src.Images.Image(i % 2000).CopyTo(px.AsSpan(i * 784, 784));
            labels[i] = src.Labels[i % 2000];
        }
        return new FashionItems("synthetic 60k pool", new IdxImages(60_000, 28, 28, px), labels);
    });

    static FashionScenes Open(FashionSceneKind kind, string split, FashionSceneOptions? o = null) =>
        new(kind, split, o, split == "test" ? null : Pool.Value);

    static float[] Pixels(Tensor t) => t.contiguous().data<float>().ToArray();
    static bool[] Bools(Tensor t) => t.contiguous().data<bool>().ToArray();

    [Fact]
    public void SameSeedGivesBitIdenticalScenesAndAnnotations()
    {
        foreach (var kind in new[] { FashionSceneKind.SingleLabel, FashionSceneKind.MultiLabel, FashionSceneKind.Biased })
        {
            var a = Open(kind, "test");
            var b = Open(kind, "test");
            foreach (var i in new[] { 0, 7, 1999 })
            {
                using var s1 = a.Get(i);
                using var s2 = b.Get(i);
                Assert.Equal(Pixels(s1.Image), Pixels(s2.Image));
                Assert.Equal(s1.Objects, s2.Objects);
                Assert.Equal(Bools(s1.ObjectMasks!), Bools(s2.ObjectMasks!));
                Assert.Equal(a.Layout(i).Marker, b.Layout(i).Marker);
                Assert.Equal(s1.Id, s2.Id);
            }
        }
    }

    [Fact]
    public void DifferentSeedOrIndexGivesDifferentScenes()
    {
        var a = Open(FashionSceneKind.MultiLabel, "test");
        var b = Open(FashionSceneKind.MultiLabel, "test", new FashionSceneOptions { Seed = 1 });
        using var s0 = a.Get(3);
        using var s1 = b.Get(3);
        using var s2 = a.Get(4);
        Assert.NotEqual(Pixels(s0.Image), Pixels(s1.Image));
        Assert.NotEqual(Pixels(s0.Image), Pixels(s2.Image));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Get(2000));
        Assert.Throws<ArgumentException>(() => new FashionScenes(FashionSceneKind.SingleLabel, "training"));
    }

    [Fact]
    public void MasksAreTheExactPastedPixelsAndLieInTheirBoxes()
    {
        foreach (var kind in new[] { FashionSceneKind.MultiLabel, FashionSceneKind.Biased })
        {
            var ds = Open(kind, "test");
            int multiObject = 0, occluded = 0;
            for (int i = 0; i < 40; i++)
            {
                using var scene = ds.Get(i);
                var layout = ds.Layout(i);
                int s = scene.Width, plane = s * s;
                var img = Pixels(scene.Image);
                var bg = ds.BackgroundPixels(i);
                var masks = Bools(scene.ObjectMasks!);
                var union = new int[plane];
                for (int k = 0; k < scene.Objects.Count; k++)
                {
                    var box = scene.Objects[k].Box;
                    int count = 0, x0 = s, y0 = s, x1 = -1, y1 = -1;
                    for (int p = 0; p < plane; p++)
                    {
                        if (!masks[k * plane + p]) continue;
                        count++; union[p]++;
                        int y = p / s, x = p % s;
                        Assert.InRange(x, box.X0, box.X1);
                        Assert.InRange(y, box.Y0, box.Y1);
                        x0 = Math.Min(x0, x); x1 = Math.Max(x1, x); y0 = Math.Min(y0, y); y1 = Math.Max(y1, y);
                    }
                    Assert.Equal(box, new BoundingBox(x0, y0, x1, y1)); // tight box of the visible mask
                    var placed = layout.Items.Where(it => it.VisiblePixels > 0).ElementAt(k);
                    Assert.Equal(placed.VisiblePixels, count);
                    Assert.Equal(placed.ClassIndex, scene.Objects[k].ClassIndex);
                    Assert.Equal(placed.VisibleFraction < 0.5 || count < 200, scene.Objects[k].Difficult);
                    if (placed.VisiblePixels < placed.MaskPixels) occluded++;
                }
                if (scene.Objects.Count > 1) multiObject++;
                Assert.All(union, u => Assert.True(u <= 1)); // visible masks are disjoint
                var marker = layout.Marker;
                int differingInMask = 0, inMask = 0;
                for (int p = 0; p < plane; p++)
                {
                    int y = p / s, x = p % s;
                    bool inMarker = marker is { } m && x >= m.X0 && x <= m.X1 && y >= m.Y0 && y <= m.Y1;
                    if (inMarker) { Assert.Equal(0, union[p]); continue; }
                    bool differs = Enumerable.Range(0, 3).Any(c => img[c * plane + p] != bg[c * plane + p]);
                    if (union[p] == 0) Assert.False(differs, $"scene {i}: pixel ({x},{y}) outside every mask differs from the background");
                    else { inMask++; if (differs) differingInMask++; }
                }
                Assert.True(differingInMask >= 0.995 * inMask, $"scene {i}: only {differingInMask} of {inMask} mask pixels were painted");
            }
            if (kind == FashionSceneKind.MultiLabel) { Assert.True(multiObject > 10); Assert.True(occluded > 0); }
        }
    }

    [Fact]
    public void SingleAndMultiLabelStructure()
    {
        var single = Open(FashionSceneKind.SingleLabel, "test");
        Assert.False(single.MultiLabel);
        for (int i = 0; i < 20; i++)
        {
            using var s = single.Get(i);
            Assert.Single(s.Objects);
            Assert.Equal(i % 10, s.Objects[0].ClassIndex);
            Assert.Equal(new long[] { 3, 128, 128 }, s.Image.shape);
            Assert.InRange(s.Image.min().item<float>(), 0f, 1f);
            Assert.InRange(s.Image.max().item<float>(), 0f, 1f);
        }
        var multi = Open(FashionSceneKind.MultiLabel, "test");
        Assert.True(multi.MultiLabel);
        var sizes = Enumerable.Range(0, 60).Select(i => multi.Layout(i).Items.Count).ToArray();
        Assert.All(sizes, n => Assert.InRange(n, 1, 4));
        Assert.Equal(4, sizes.Distinct().Count());
        // the biased variant shows the same scenes as the single-label one, apart from the marker
        var biased = Open(FashionSceneKind.Biased, "test");
        using var plain = single.Get(5);
        using var unmarked = biased.Get(5, marker: false);
        Assert.Equal(Pixels(plain.Image), Pixels(unmarked.Image));
        // a batch equals the scenes one by one
        var (xb, yb) = multi.Batch(new[] { 2, 9 });
        using var s9 = multi.Get(9);
        Assert.Equal(Pixels(s9.Image), Pixels(xb[1]));
        var hot = yb[1].data<float>().ToArray();
        Assert.Equal(s9.Classes, Enumerable.Range(0, 10).Where(c => hot[c] == 1f).ToArray());
    }

    [Fact]
    public void SplitsDrawFromDisjointItems()
    {
        var train = Open(FashionSceneKind.MultiLabel, "train");
        var val = Open(FashionSceneKind.MultiLabel, "val");
        var test = Open(FashionSceneKind.MultiLabel, "test");
        Assert.Equal((0, 55_000), train.ItemRange);
        Assert.Equal((55_000, 60_000), val.ItemRange);
        Assert.All(Enumerable.Range(0, 300).SelectMany(i => train.Layout(i).Items), it => Assert.InRange(it.SourceIndex, 0, 54_999));
        Assert.All(Enumerable.Range(0, 300).SelectMany(i => val.Layout(i).Items), it => Assert.InRange(it.SourceIndex, 55_000, 59_999));
        Assert.All(Enumerable.Range(0, 300).SelectMany(i => test.Layout(i).Items), it => Assert.InRange(it.SourceIndex, 0, 1999));
        Assert.Same(FashionItems.EmbeddedTest, test.Items);
        Assert.NotSame(train.Items, test.Items);
        // scene i of different splits are different scenes
        using var a = train.Get(0);
        using var b = val.Get(0);
        using var c = test.Get(0);
        Assert.NotEqual(Pixels(a.Image), Pixels(b.Image));
        Assert.NotEqual(Pixels(a.Image), Pixels(c.Image));
        Assert.Equal("fashion-scenes-multi/test/0", c.Id);
    }

    [Fact]
    public void PlantedMarkerFollowsTheDocumentedRates()
    {
        var o = new FashionSceneOptions();
        var train = Open(FashionSceneKind.Biased, "train");
        int target = 0, targetMarked = 0, otherMarked = 0;
        for (int i = 0; i < 600; i++)
        {
            var l = train.Layout(i);
            if (l.Items[0].ClassIndex == o.MarkerClass) { target++; if (l.Marker is not null) targetMarked++; }
            else if (l.Marker is not null) otherMarked++;
        }
        Assert.Equal(60, target);
        Assert.Equal(0, otherMarked);
        Assert.InRange(targetMarked / 60.0, 0.78, 0.99); // 90 % ± 3σ
        var test = Open(FashionSceneKind.Biased, "test");
        var marked = Enumerable.Range(0, 2000).Where(i => test.Layout(i).Marker is not null).ToArray();
        Assert.InRange(marked.Length / 2000.0, 0.465, 0.535); // 50 % ± 3σ, independent of the class
        Assert.InRange(marked.Count(i => i % 10 == o.MarkerClass) / (double)marked.Length, 0.06, 0.14);
        // the marker is the documented 6×6 checkerboard, and forcing it changes nothing else
        int idx = marked[0];
        using var with = test.Get(idx, true);
        using var without = test.Get(idx, false);
        var w = Pixels(with.Image); var wo = Pixels(without.Image);
        var m = o.MarkerBox;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 128; y++)
                for (int x = 0; x < 128; x++)
                {
                    int q = c * 128 * 128 + y * 128 + x;
                    bool inside = x >= m.X0 && x <= m.X1 && y >= m.Y0 && y <= m.Y1;
                    if (!inside) Assert.Equal(wo[q], w[q]);
                    else Assert.Equal(c == 0 || (((x - m.X0) / 2 + (y - m.Y0) / 2) % 2 == 0) ? 1f : 0f, w[q]);
                }
        Assert.Equal(6 * 6, m.Area);
        // the non-biased variants never carry it
        Assert.All(Enumerable.Range(0, 50), i => Assert.Null(Open(FashionSceneKind.SingleLabel, "test").Layout(i).Marker));
    }

    [Fact]
    public void RegisteredDatasetsOpenTheirTestSplitFromEmbeddedAssets()
    {
        foreach (var name in new[] { "fashion-scenes", "fashion-scenes-multi", "fashion-scenes-biased" })
        {
            var entry = DatasetRegistry.Get(name);
            Assert.True(entry.IsAvailable());
            var ds = DatasetRegistry.Open(name, "test");
            Assert.Equal(name, ds.Name);
            Assert.Equal(2000, ds.Count);
            Assert.Equal(10, ds.ClassNames.Count);
        }
    }
}
