using System.Text.Json;
using TorchSharp;
using Xunit.Abstractions;
using XaiLab.Imaging;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Tests.SiftCells;

/// <summary>
/// The decoder variants the chapter-4 figures compare (hard partition, hard cut-off, redistribution off), the
/// metric of §4.3.3, duplicate keypoints, float64 input, the fast Voronoi assignment and the level-matrix builder.
/// </summary>
[Trait("Category", "Unit")]
public class SiftOptionsTests(ITestOutputHelper output)
{
    static Tensor Astronaut(int n)
    {
        Devices.EnsureNativeLoaded();
        using var img = ImageIO.Load(Assets.File("backgrounds/astronaut.jpg"));
        return nn.functional.interpolate(img.unsqueeze(0), new long[] { n, n }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true).squeeze(0).clamp(0, 1);
    }

    /// <summary>No two keypoints share (x, y, σ), so no feature cell is empty: every W_j &gt; 0.</summary>
    [Fact]
    public void DetectorEmitsNoDuplicatesAndNoCellIsEmpty()
    {
        using var scope = NewDisposeScope();
        var image = Astronaut(160);
        var kps = SiftDetector.Detect(image);
        Assert.Equal(kps.Count, kps.Select(k => (k.X, k.Y, k.Sigma)).Distinct().Count());
        for (int i = 1; i < kps.Count; i++) Assert.True(kps[i - 1].Response >= kps[i].Response);
        using var basis = SiftFeatureBasis.Build(image, keypoints: kps);
        var w = basis.MassWeights;
        output.WriteLine($"astronaut 160²: {kps.Count} keypoints, min W_j {w.min().item<float>():E3}");
        Assert.True(w.min().item<float>() > 0, "a feature has W_j = 0 (an empty cell)");
    }

    /// <summary>float64 images: the scale space stays float64 and exact; the basis equals the float32 one.</summary>
    [Fact]
    public void Float64InputWorks()
    {
        using var scope = NewDisposeScope();
        var image = FeatureCellsTests.Photo(40, 48);
        var x64 = image.to(ScalarType.Float64);
        using var space = ScaleSpace.Build(x64);
        Assert.Equal(ScalarType.Float64, space.Bands.dtype);
        Assert.True((space.ReconstructStored() - x64).abs().max().item<double>() < 1e-12);
        var o = new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 } };
        using var b64 = SiftFeatureBasis.Build(x64, o);
        using var b32 = SiftFeatureBasis.Build(image, o);
        Assert.Equal(b32.Keypoints, b64.Keypoints);
        Assert.True(b64.Diagnostics.ReconstructionError < 1e-5);
        Assert.True((b64.Target - b32.Target).abs().max().item<float>() < 1e-6);
    }

    /// <summary>
    /// Smoothing off (Fig 4.5 top): every voxel belongs to exactly one cell (one entry of value 1 per pixel), D(1) = x still
    /// holds, and removing a feature leaves sharper edges (larger total variation) than with the smoothed cells.
    /// </summary>
    [Fact]
    public void HardPartitionDecoder()
    {
        using var scope = NewDisposeScope();
        var rng = new Random(3);
        int h = 30, w = 36;
        var kps = Enumerable.Range(0, 15).Select(_ => new SiftKeypoint((float)(rng.NextDouble() * w), (float)(rng.NextDouble() * h), (float)(1 + 3 * rng.NextDouble()), 1, 0, 1)).ToList();
        var labels = FeatureCells.Assign(kps, h, w, h, w, 2, 1);
        var hard = FeatureCells.Smooth(labels, h, w, 0, 0.01);
        Assert.Equal(h * w, hard.Value.Length);
        Assert.All(hard.Value, v => Assert.Equal(1f, v));
        for (int e = 0; e < hard.Value.Length; e++) Assert.Equal(labels[hard.Pixel[e]], hard.Cell[e]);

        var image = FeatureCellsTests.Photo(64, 64);
        var o = new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 }, Eta = 1 };
        using var smooth = SiftFeatureBasis.Build(image, o);
        using var sharp = SiftFeatureBasis.Build(image, o with { Smoothing = false }, smooth.Keypoints);
        Assert.True(sharp.Diagnostics.ReconstructionError < 1e-5, $"hard partition: max |D(1) − x| = {sharp.Diagnostics.ReconstructionError}");
        double Tv(Tensor img) =>
            ((img[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(1)] - img[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(null, -1)]).abs().sum()
             + (img[TensorIndex.Colon, TensorIndex.Slice(1)] - img[TensorIndex.Colon, TensorIndex.Slice(null, -1)]).abs().sum()).item<float>();
        // Remove the strongest few features (θ_j = 0) and compare how much edge structure the removal itself adds.
        var theta = ones(1, smooth.K);
        for (int j = 0; j < 5; j++) theta[0, j] = 0;
        double tvSharp = Tv(sharp.Render(theta)[0] - image), tvSmooth = Tv(smooth.Render(theta)[0] - image);
        output.WriteLine($"TV of the change from removing 5 features: hard partition {tvSharp:F2}, smoothed {tvSmooth:F2}");
        Assert.True(tvSharp > tvSmooth);
    }

    /// <summary>
    /// Cut-off shapes (Fig 4.6) and redistribution (Fig 4.7): without redistribution the soft cut-off values are
    /// (χ − s)/(1 − s) of the hard ones, the cut mass is missing (D(1) ≠ x); with it D(1) = x again.
    /// </summary>
    [Fact]
    public void CutOffShapesAndRedistribution()
    {
        var rng = new Random(5);
        int h = 40, w = 44;
        var kps = Enumerable.Range(0, 20).Select(_ => new SiftKeypoint((float)(rng.NextDouble() * w), (float)(rng.NextDouble() * h), (float)(1 + 3 * rng.NextDouble()), 1, 0, 1)).ToList();
        var labels = FeatureCells.Assign(kps, h, w, h, w, 2, 1);
        const double s = 0.1;
        var raw = FeatureCells.Smooth(labels, h, w, 2.5, 0, 1e-3, SparsityCutOff.Soft, redistribute: false);
        var hard = FeatureCells.Smooth(labels, h, w, 2.5, s, 1e-3, SparsityCutOff.Hard, redistribute: false);
        var soft = FeatureCells.Smooth(labels, h, w, 2.5, s, 1e-3, SparsityCutOff.Soft, redistribute: false);
        var rawAt = new Dictionary<(long, long), float>();
        for (int e = 0; e < raw.Value.Length; e++) rawAt[(raw.Cell[e], raw.Pixel[e])] = raw.Value[e];
        Assert.Equal(hard.Value.Length, soft.Value.Length); // the same support {χ > s}
        for (int e = 0; e < hard.Value.Length; e++)
        {
            float chi = rawAt[(hard.Cell[e], hard.Pixel[e])];
            Assert.True(chi > s);
            Assert.True(Math.Abs(chi - hard.Value[e]) < 1e-6, $"hard cut-off changed χ = {chi} to {hard.Value[e]}");
            Assert.True(Math.Abs((chi - s) / (1 - s) - soft.Value[e]) < 1e-6, $"soft cut-off of χ = {chi}: {soft.Value[e]}");
        }
        Assert.Equal(raw.Value.Length - hard.Value.Length, rawAt.Values.Count(v => v <= s));

        using var scope = NewDisposeScope();
        var image = FeatureCellsTests.Photo(48, 48);
        var o = new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 }, Sparsity = 0.05 };
        using var on = SiftFeatureBasis.Build(image, o);
        using var off = SiftFeatureBasis.Build(image, o with { Redistribute = false }, on.Keypoints);
        using var hardCut = SiftFeatureBasis.Build(image, o with { CutOff = SparsityCutOff.Hard }, on.Keypoints);
        output.WriteLine($"s = 0.05 ({on.Diagnostics.UncoveredVoxels} uncovered voxels): max |D(1) − x| with redistribution {on.Diagnostics.ReconstructionError:E2}, without {off.Diagnostics.ReconstructionError:E2}, hard cut-off + redistribution {hardCut.Diagnostics.ReconstructionError:E2}");
        Assert.Equal(0, on.Diagnostics.UncoveredVoxels);
        Assert.True(on.Diagnostics.ReconstructionError < 1e-5);
        Assert.True(hardCut.Diagnostics.ReconstructionError < 1e-5);
        Assert.True(off.Diagnostics.ReconstructionError > 1e-3);
        Assert.Throws<ArgumentOutOfRangeException>(() => SiftFeatureBasis.Build(image, o with { CutOff = (SparsityCutOff)7 }));
    }

    /// <summary>
    /// §4.3.3: the weighted metric uses W in the time normalisation (MassWeights) and in the gradient (W⁻¹∇), without
    /// changing the rendered images; the Euclidean metric has neither.
    /// </summary>
    [Fact]
    public void MetricEntersStepAndTimeNormalisation()
    {
        using var scope = NewDisposeScope();
        var image = FeatureCellsTests.Photo(40, 40);
        using var basis = SiftFeatureBasis.Build(image, new SiftBasisOptions { Detector = new() { ContrastThreshold = 0.02 } });
        using var euclid = basis.AsPathSpace();
        using var weighted = basis.AsPathSpace(SiftMetric.Weighted);
        Assert.Null(euclid.MassWeights);
        Assert.True((weighted.MassWeights! - basis.MassWeights).abs().max().item<float>() == 0);
        Assert.Equal("sift-weighted", weighted.Name);
        var gen = new Generator(4, CPU);
        var phi = rand(new long[] { 3, basis.K }, generator: gen);
        var probe = rand(new long[] { 3, 3, 40, 40 }, generator: gen);
        Tensor Grad(XaiLab.Saliency.AblationPaths.IPathSpace sp, out Tensor img)
        {
            var m = phi.clone().requires_grad_(true);
            img = sp.Render(m);
            (img * probe).sum().backward();
            img = img.detach();
            return m.grad!.clone();
        }
        var ge = Grad(euclid, out var ie);
        var gw = Grad(weighted, out var iw);
        Assert.True((ie - iw).abs().max().item<float>() == 0, "the metric must not change the images");
        var expected = ge / basis.MassWeights.unsqueeze(0);
        Assert.True((gw - expected).abs().max().item<float>() <= 1e-5 * Math.Max(1, expected.abs().max().item<float>()));
        // ⟨W⁻¹∇F, v⟩_W = ⟨∇F, v⟩ for any direction v (the defining property of the metric gradient)
        var v = rand(new long[] { 3, basis.K }, generator: gen);
        double lhs = (gw * basis.MassWeights.unsqueeze(0) * v).sum().item<float>(), rhs = (ge * v).sum().item<float>();
        Assert.Equal(rhs, lhs, Math.Max(1e-4, Math.Abs(rhs) * 1e-4));
    }

    /// <summary>The envelope-based Voronoi assignment equals brute force for many keypoints, shared x and all η.</summary>
    [Fact]
    public void FastAssignmentEqualsBruteForce()
    {
        var rng = new Random(19);
        int H = 50, W = 61;
        var kps = Enumerable.Range(0, 180).Select(i => new SiftKeypoint(
            i % 9 == 0 ? 10.5f : (float)(rng.NextDouble() * W - 0.5), (float)(rng.NextDouble() * H - 0.5), (float)(0.6 + 20 * Math.Pow(rng.NextDouble(), 3)), 1, 0, 1)).ToList();
        int mismatches = 0, total = 0;
        foreach (var (h, w) in new[] { (H, W), (H / 2, W / 2), (H / 4, W / 4) })
            foreach (var sigma in new[] { 0.4, 2.0, 9.0, 40.0 })
                foreach (var eta in new[] { 0.0, 1.0, 4.0 })
                {
                    var labels = FeatureCells.Assign(kps, H, W, h, w, sigma, eta);
                    for (int i = 0; i < h; i++)
                        for (int j = 0; j < w; j++)
                        {
                            double y = (i + 0.5) * H / h - 0.5, x = (j + 0.5) * W / w - 0.5;
                            int best = -1; double bestD = double.PositiveInfinity;
                            for (int k = 0; k < kps.Count; k++)
                            {
                                double dx = x - kps[k].X, dy = y - kps[k].Y, ds = sigma - kps[k].Sigma;
                                double d = dx * dx + dy * dy + eta * eta * ds * ds;
                                if (d < bestD) { bestD = d; best = k; }
                            }
                            total++;
                            if (best != labels[i * w + j]) mismatches++;
                        }
                }
        Assert.Equal(0, mismatches);
        output.WriteLine($"{total} voxels checked against brute force");
    }

    /// <summary>The per-level builder gives the same matrix as summing (pixel, cell) triplets.</summary>
    [Fact]
    public void LevelBuilderEqualsTripletSum()
    {
        var rng = new Random(23);
        int h = 20, w = 24, k = 14, c = 3, p = h * w;
        var kps = Enumerable.Range(0, k).Select(_ => new SiftKeypoint((float)(rng.NextDouble() * w), (float)(rng.NextDouble() * h), (float)(1 + 3 * rng.NextDouble()), 1, 0, 1)).ToList();
        var builder = new CellMatrixBuilder(h, w, k, c);
        var keys = new List<long>(); var vals = new List<float>();
        foreach (var sigma in new[] { 0.8, 1.7, 3.1 })
        {
            var labels = FeatureCells.Assign(kps, h, w, h, w, sigma, 2);
            var masks = FeatureCells.Smooth(labels, h, w, sigma, 0.01);
            var band = Enumerable.Range(0, c * p).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            builder.Add(masks, band, 0.25f);
            for (int e = 0; e < masks.Value.Length; e++)
            {
                long pix = masks.Pixel[e];
                keys.Add(pix * k + masks.Cell[e]);
                for (int ch = 0; ch < c; ch++) vals.Add(masks.Value[e] * band[ch * p + pix]);
                vals.Add(masks.Value[e] * 0.25f);
            }
        }
        var a = builder.Build();
        var b = CellMatrix.FromTriplets(h, w, k, c + 1, keys, vals);
        Assert.Equal(b.RowPtr, a.RowPtr);
        Assert.Equal(b.Col, a.Col);
        for (int i = 0; i < a.Val.Length; i++) Assert.True(Math.Abs(b.Val[i] - a.Val[i]) < 1e-6, $"value {i}: {a.Val[i]} vs {b.Val[i]}");
    }

    /// <summary><c>xailab sift decompose</c> writes keypoints.csv (x, y, σ, contrast), summary.json and the three PNGs.</summary>
    [Fact]
    public void DecomposeCommandWritesItsFiles()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xailab-sift-" + Guid.NewGuid().ToString("N"));
        try
        {
            var o = new SiftBasisOptions { Eta = 2, Sparsity = 0.02, Detector = new() { ContrastThreshold = 0.02 } };
            var log = new StringWriter();
            Assert.Equal(0, XaiLab.Cli.SiftCommand.Decompose(Assets.File("photos/chelsea.png"), 64, o, dir, log));
            output.WriteLine(log.ToString());
            var lines = File.ReadAllLines(Path.Combine(dir, "keypoints.csv"));
            Assert.Equal("x,y,sigma,contrast", lines[0]);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
            var root = json.RootElement;
            int k = root.GetProperty("K").GetInt32();
            Assert.Equal(k + 1, lines.Length);
            Assert.True(root.GetProperty("reconstructionError").GetDouble() < 1e-5);
            Assert.True(root.GetProperty("buildSeconds").GetDouble() > 0);
            Assert.True(root.GetProperty("peakMB").GetDouble() > 0);
            Assert.Equal(2.0, root.GetProperty("options").GetProperty("eta").GetDouble());
            var first = lines[1].Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.InRange(first[0], -0.5, 63.5);
            Assert.True(first[2] > 0 && first[3] > 0);
            foreach (var png in new[] { "bands.png", "cells.png", "keypoints.png" })
            {
                using var img = ImageIO.Load(Path.Combine(dir, png));
                Assert.True(img.shape[1] >= 64 && img.shape[2] >= 64, $"{png} is {img.shape[2]}×{img.shape[1]}");
            }
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
