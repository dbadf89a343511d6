using TorchSharp;
using Xunit.Abstractions;
using XaiLab.Imaging;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Tests.SiftCells;

[Trait("Category", "Unit")]
public class SiftDetectorTests(ITestOutputHelper output)
{
    /// <summary>
    /// A Gaussian blob of scale s is a DoG extremum at σ ≈ s (scale-normalised Laplacian), centred on the blob.
    /// Independent of OpenCV.
    /// </summary>
    [Fact]
    public void FindsABlobAtItsPositionAndScale()
    {
        Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        int h = 64, w = 80;
        double cx = 37.3, cy = 29.6, s = 4.0;
        var yy = arange(h, dtype: ScalarType.Float32).unsqueeze(1);
        var xx = arange(w, dtype: ScalarType.Float32).unsqueeze(0);
        var blob = 0.2f + 0.6f * exp(-((xx - cx).square() + (yy - cy).square()) / (2 * s * s));
        var kps = SiftDetector.Detect(blob.unsqueeze(0));
        Assert.NotEmpty(kps);
        var best = kps.OrderBy(k => Math.Pow(k.X - cx, 2) + Math.Pow(k.Y - cy, 2)).First();
        output.WriteLine($"blob at ({cx},{cy}) s={s}: keypoint ({best.X:F2},{best.Y:F2}) σ={best.Sigma:F2}, response {best.Response:F3}; {kps.Count} keypoints");
        Assert.True(Math.Abs(best.X - cx) < 0.5 && Math.Abs(best.Y - cy) < 0.5);
        Assert.InRange(best.Sigma, s / 1.3, s * 1.3);
        Assert.Equal(best, kps[0]); // the strongest keypoint is the blob
    }

    static string ReferencePath => Path.Combine(AppContext.BaseDirectory, "Fixtures", "sift", "chelsea-opencv-sift.csv");

    /// <summary>The committed OpenCV reference was computed on exactly the grey bytes this test gives our detector.</summary>
    [Fact]
    public void ReferenceInputIsByteIdentical()
    {
        Devices.EnsureNativeLoaded();
        using var rgb = ImageIO.Load(Assets.File("photos/chelsea.png"));
        var gray = OpenCvSiftReference.Luma8(rgb);
        var reference = OpenCvSiftReference.Read(ReferencePath);
        Assert.Equal((reference.Height, reference.Width), ((int)rgb.shape[1], (int)rgb.shape[2]));
        Assert.Equal(reference.GraySha256, OpenCvSiftReference.Sha256(gray));
        Assert.True(reference.Keypoints.Count > 100, $"reference has only {reference.Keypoints.Count} keypoints");
    }

    /// <summary>
    /// Our detector against OpenCV's SIFT (4.6, the committed reference, data-scripts/make-sift-reference.sh) on the
    /// same 8-bit grey image (chelsea, 192×192; byte identity is <see cref="ReferenceInputIsByteIdentical"/>): for the
    /// strongest N keypoints of each, the fraction that has a partner in the other set within 2 px with σ within a
    /// factor 1.5. OpenCV's duplicates per orientation are merged first.
    /// </summary>
    [Fact]
    public void AgreesWithOpenCvSift()
    {
        Devices.EnsureNativeLoaded();
        using var rgb = ImageIO.Load(Assets.File("photos/chelsea.png"));
        var gray = OpenCvSiftReference.Luma8(rgb);
        var reference = OpenCvSiftReference.Read(ReferencePath);
        int h = reference.Height, w = reference.Width;
        var cv = reference.Distinct().Select(k => (X: k.X, Y: k.Y, Sigma: k.Sigma, R: k.Response)).ToList();
        var ours = SiftDetector.DetectGray(gray.Select(b => (float)b).ToArray(), h, w)
            .Select(k => (X: k.X, Y: k.Y, Sigma: k.Sigma, R: k.Response)).ToList();
        output.WriteLine($"OpenCV: {cv.Count} distinct keypoints; ours: {ours.Count}");
        foreach (var n in new[] { 100, 300, Math.Min(cv.Count, ours.Count) })
        {
            double a = Recall(cv.Take(n).ToList(), ours, 2, 1.5), b = Recall(ours.Take(n).ToList(), cv, 2, 1.5);
            double a1 = Recall(cv.Take(n).ToList(), ours, 0.5, 1.1);
            output.WriteLine($"strongest {n}: OpenCV→ours {a:P1}, ours→OpenCV {b:P1} (2 px, σ×1.5); OpenCV→ours within 0.5 px, σ×1.1: {a1:P1}");
            Assert.True(a >= 0.9 && b >= 0.9, $"agreement at N={n}: {a:P1} / {b:P1}");
        }
        Assert.InRange(ours.Count, cv.Count * 0.9, cv.Count * 1.1);
    }

    static double Recall(List<(float X, float Y, float Sigma, float R)> query, List<(float X, float Y, float Sigma, float R)> pool, double px, double sigmaFactor)
    {
        int hit = 0;
        foreach (var q in query)
            if (pool.Any(p => Math.Abs(p.X - q.X) <= px && Math.Abs(p.Y - q.Y) <= px
                              && (p.X - q.X) * (p.X - q.X) + (p.Y - q.Y) * (p.Y - q.Y) <= px * px
                              && p.Sigma <= q.Sigma * sigmaFactor && q.Sigma <= p.Sigma * sigmaFactor)) hit++;
        return (double)hit / query.Count;
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        using var gen = new Generator(29, CPU);
        Assert.Contains("[C,H,W]", Assert.Throws<ArgumentException>(() => SiftDetector.Detect(rand(30, 30, generator: gen))).Message);
        Assert.Contains("channels", Assert.Throws<ArgumentException>(() => SiftDetector.Detect(rand(2, 30, 30, generator: gen))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SiftDetector.Detect(rand(3, 30, 30, generator: gen), new SiftDetectorOptions { Sigma = 0 }));
        Assert.Contains("at least", Assert.Throws<ArgumentException>(() => SiftDetector.Detect(rand(1, 8, 8, generator: gen))).Message);
    }
}
