using System.IO.Compression;
using XaiLab.Imaging.Data;

namespace XaiLab.Tests.Data;

[Trait("Category", "Unit")]
public class IdxAndRngTests
{
    static string TempFile(string name) => Path.Combine(Path.GetTempPath(), $"xailab-idx-{Guid.NewGuid():N}-{name}");

    /// <summary>A hand-written idx3 file: 2 images of 2×3 bytes (header written byte by byte, not by our writer).</summary>
    static byte[] Fixture() => new byte[]
    {
        0, 0, 0x08, 3,  0, 0, 0, 2,  0, 0, 0, 2,  0, 0, 0, 3,
        1, 2, 3, 4, 5, 6,
        250, 251, 252, 253, 254, 255,
    };

    [Fact]
    public void ReadsAHandWrittenFixturePlainAndGzipped()
    {
        var plain = TempFile("img-idx3-ubyte");
        File.WriteAllBytes(plain, Fixture());
        var gz = TempFile("img-idx3-ubyte.gz");
        using (var f = File.Create(gz)) using (var g = new GZipStream(f, CompressionMode.Compress)) g.Write(Fixture());
        foreach (var path in new[] { plain, gz })
        {
            var im = Idx.ReadImages(path);
            Assert.Equal((2, 2, 3), (im.Count, im.Rows, im.Cols));
            Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, im.Image(0).ToArray());
            Assert.Equal(new byte[] { 250, 251, 252, 253, 254, 255 }, im.Image(1).ToArray());
            Assert.Throws<ArgumentOutOfRangeException>(() => im.Image(2).ToArray());
        }
        var labels = TempFile("lab-idx1-ubyte");
        File.WriteAllBytes(labels, new byte[] { 0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9 });
        Assert.Equal(new byte[] { 7, 0, 9 }, Idx.ReadLabels(labels));
        // an image file is not a label file
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(plain));
        Assert.Contains(plain, e.Message);
        Assert.Contains("rank 1", e.Message);
    }

    [Fact]
    public void TruncatedOrCorruptFilesNameTheFile()
    {
        var bytes = Fixture();
        var cut = TempFile("cut-idx3-ubyte");
        File.WriteAllBytes(cut, bytes[..^3]);
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(cut));
        Assert.Contains(cut, e.Message);
        Assert.Contains("truncated", e.Message);

        var cutHeader = TempFile("cuth-idx3-ubyte");
        File.WriteAllBytes(cutHeader, bytes[..10]);
        e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(cutHeader));
        Assert.Contains(cutHeader, e.Message);

        // a gzip stream cut in half
        var gz = TempFile("cut-idx3-ubyte.gz");
        var ms = new MemoryStream();
        using (var g = new GZipStream(ms, CompressionLevel.NoCompression, leaveOpen: true)) g.Write(bytes);
        File.WriteAllBytes(gz, ms.ToArray()[..(int)(ms.Length / 2)]);
        e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(gz));
        Assert.Contains(gz, e.Message);

        var bad = TempFile("bad-idx3-ubyte");
        var b2 = (byte[])bytes.Clone(); b2[0] = 0x1F;
        File.WriteAllBytes(bad, b2);
        e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(bad));
        Assert.Contains("not an idx file", e.Message);

        var missing = TempFile("missing");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => Idx.ReadImages(missing)).Message);
    }

    [Fact]
    public void WriterRoundTrips()
    {
        var rnd = new SplitMix64(5);
        var px = new byte[7 * 28 * 28];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)rnd.Next(0, 256);
        var path = TempFile("rt-idx3-ubyte.gz");
        Idx.WriteImages(path, new IdxImages(7, 28, 28, px));
        var back = Idx.ReadImages(path);
        Assert.Equal((7, 28, 28), (back.Count, back.Rows, back.Cols));
        Assert.Equal(px, back.Pixels);
    }

    [Fact]
    public void EmbeddedSubsetIsTheFirst2000TestItems()
    {
        var items = FashionItems.EmbeddedTest;
        Assert.Equal(2000, items.Count);
        Assert.Equal((28, 28), (items.Images.Rows, items.Images.Cols));
        // every class present, roughly balanced (Fashion-MNIST's test set is balanced)
        var counts = Enumerable.Range(0, 10).Select(c => items.Labels.Count(l => l == c)).ToArray();
        Assert.All(counts, n => Assert.InRange(n, 150, 250));
        var debian = Path.Combine(FashionItems.DebianFolder, "t10k-images-idx3-ubyte.gz");
        if (File.Exists(debian)) // where the package is installed, the subset must be byte-identical to its first 2000 items
        {
            var full = Idx.ReadImages(debian);
            Assert.Equal(full.Pixels[..(2000 * 784)], items.Images.Pixels);
            Assert.Equal(Idx.ReadLabels(Path.Combine(FashionItems.DebianFolder, "t10k-labels-idx1-ubyte.gz"))[..2000], items.Labels);
        }
    }

    [Fact]
    public void SplitMix64MatchesTheReferenceSequence()
    {
        // Reference values of SplitMix64 seeded with 0 (Steele, Lea & Flood; the seeding generator of xoshiro).
        var r = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, r.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, r.NextUInt64());
        Assert.Equal(0x06C45D188009454FUL, r.NextUInt64());
    }

    [Fact]
    public void BoundedIntegersAreUniformAndInRange()
    {
        var r = new SplitMix64(42);
        var counts = new int[7];
        const int n = 70_000;
        for (int i = 0; i < n; i++) counts[r.Next(3, 10) - 3]++;
        // chi-square with 6 degrees of freedom: 99.9 % quantile is 22.46
        double chi = counts.Sum(c => (c - n / 7.0) * (c - n / 7.0) / (n / 7.0));
        Assert.True(chi < 22.46, $"chi² = {chi}");
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Next(3, 3));
        Assert.NotEqual(SplitMix64.ForKeys(0, 1, 2).NextUInt64(), SplitMix64.ForKeys(0, 2, 1).NextUInt64());
    }
}
