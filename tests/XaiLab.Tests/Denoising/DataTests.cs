using XaiLab.Denoising;
using static TorchSharp.torch;

namespace XaiLab.Tests.Denoising;

/// <summary>Synthetic data: analytic projection, random rotations, SNR, determinism, PDB import (thesis §6.1, §6.3).</summary>
[Trait("Category", "Unit")]
public class DataTests
{
    [Fact]
    public void ProjectionOfAGaussianAtomIsTheAnalytic2DGaussianAndTheNumericalLineIntegral()
    {
        double cx = 0.1, cy = -0.2, cz = 0.3, s = 0.1, amp = 2;
        var m = new Molecule([[cx, cy, cz]], [s], [amp]);
        using var img = Projector.Project(m, 32);
        Assert.Equal([1L, 32, 32], img.shape);
        var c = Projector.PixelCentres(32);
        double maxErr = 0, maxQuad = 0;
        for (int i = 0; i < 32; i += 3)
            for (int j = 0; j < 32; j += 3)
            {
                double d2 = (c[j] - cx) * (c[j] - cx) + (c[i] - cy) * (c[i] - cy);
                double analytic = amp * Math.Sqrt(2 * Math.PI) * s * Math.Exp(-d2 / (2 * s * s));
                // Independent check: trapezoidal line integral of the 3-D density along z.
                double quad = 0, dz = 0.002;
                for (double z = cz - 1; z <= cz + 1; z += dz) quad += amp * Math.Exp(-(d2 + (z - cz) * (z - cz)) / (2 * s * s)) * dz;
                double v = img[0, i, j].item<float>();
                maxErr = Math.Max(maxErr, Math.Abs(v - analytic));
                maxQuad = Math.Max(maxQuad, Math.Abs(v - quad));
            }
        Assert.True(maxErr < 1e-5, $"max deviation from the analytic Gaussian {maxErr}");
        Assert.True(maxQuad < 1e-4, $"max deviation from the numerical line integral {maxQuad}");
        // The peak sits at the pixel nearest (cx, cy): column of x = 0.1, row of y = −0.2.
        int arg = (int)img.flatten().argmax().item<long>();
        Assert.Equal((int)((cy + 1) / 2 * 32), arg / 32);
        Assert.Equal((int)((cx + 1) / 2 * 32), arg % 32);
    }

    [Fact]
    public void InPlaneRotationOfTheMoleculeMatchesImageRotation()
    {
        // Conventions must agree: turning the molecule about z by θ = turning its projection by θ (ImageOps.Rotate).
        var rng = new Random(5);
        var m = MoleculeFactory.Random(rng, new MoleculeOptions { Atoms = 12 });
        using var p0 = Projector.Project(m, 48).unsqueeze(0);
        foreach (var th in new[] { Math.PI / 2, 0.6 })
        {
            using var p1 = Projector.Project(Rotations.Rotate(m, Rotations.AboutZ(th)), 48).unsqueeze(0);
            using var r = ImageOps.Rotate(p0, [th]);
            double rel = (r - p1).square().sum().item<float>() / p1.square().sum().item<float>();
            Assert.True(rel < (th == Math.PI / 2 ? 1e-8 : 0.02), $"θ={th}: relative error {rel}");
            using var wrong = ImageOps.Rotate(p0, [-th]);
            Assert.True((wrong - p1).square().sum().item<float>() / p1.square().sum().item<float>() > 0.1, "the opposite direction must not match");
        }
    }

    [Fact]
    public void RandomRotationsAreOrthonormalProperAndUniform()
    {
        var rng = new Random(11);
        int n = 4000;
        double mx = 0, my = 0, mz = 0, zz = 0;
        for (int k = 0; k < n; k++)
        {
            var r = Rotations.UniformRandom(rng);
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                {
                    double dot = 0;
                    for (int q = 0; q < 3; q++) dot += r[q, a] * r[q, b];
                    Assert.True(Math.Abs(dot - (a == b ? 1 : 0)) < 1e-12, $"RᵀR[{a},{b}] = {dot}");
                }
            double det = r[0, 0] * (r[1, 1] * r[2, 2] - r[1, 2] * r[2, 1]) - r[0, 1] * (r[1, 0] * r[2, 2] - r[1, 2] * r[2, 0]) + r[0, 2] * (r[1, 0] * r[2, 1] - r[1, 1] * r[2, 0]);
            Assert.True(Math.Abs(det - 1) < 1e-12, $"det = {det}");
            var v = Rotations.Apply(r, [0, 0, 1]);
            mx += v[0]; my += v[1]; mz += v[2]; zz += v[2] * v[2];
        }
        // R e_z is uniform on the sphere: mean 0 (std of each mean ≈ 1/√(3n) ≈ 0.009) and E[z²] = 1/3.
        Assert.True(Math.Abs(mx / n) < 0.04 && Math.Abs(my / n) < 0.04 && Math.Abs(mz / n) < 0.04, $"mean R e_z = ({mx / n}, {my / n}, {mz / n})");
        Assert.True(Math.Abs(zz / n - 1.0 / 3) < 0.02, $"E[z²] = {zz / n}");
    }

    [Theory]
    [InlineData(0.25, SnrReading.Power)]
    [InlineData(1.0 / 64, SnrReading.Power)]
    [InlineData(0.25, SnrReading.Norm)]
    [InlineData(1.0 / 64, SnrReading.Norm)]
    public void NoiseHasTheStatedSignalToNoiseRatioUnderEachReading(double snr, SnrReading reading)
    {
        // Measured on the disc with the window off (the window scales the rim): power reading Var_D(clean)/Var_D(noise),
        // norm reading ‖D·clean‖/‖D·noise‖ (thesis §6.3).
        using var d = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = 32, Count = 48, Snr = snr, SnrReading = reading, Seed = 4, MaskToDisc = false });
        using var noise = d.Noisy - d.Clean;
        using var disc = ImageOps.DiscMask(32).flatten().nonzero().flatten();
        double ratioSum = 0;
        for (int i = 0; i < d.Count; i++)
        {
            using var c = d.Clean[i].flatten().index_select(0, disc).to(float64);
            using var nz = noise[i].flatten().index_select(0, disc).to(float64);
            double measured = reading == SnrReading.Power
                ? c.var(unbiased: false).item<double>() / nz.var(unbiased: false).item<double>()
                : c.norm().item<double>() / nz.norm().item<double>();
            double ratio = measured / snr;
            Assert.True(Math.Abs(ratio - 1) < 0.2, $"image {i}: measured SNR {measured} vs {snr} ({reading})");
            ratioSum += ratio;
            Assert.Equal(1f, d.Clean[i].max().item<float>(), 5);   // clean images are scaled to peak 1
        }
        Assert.True(Math.Abs(ratioSum / d.Count - 1) < 0.03, $"mean measured/target SNR {ratioSum / d.Count}");
        Assert.True(Math.Abs(noise.mean().item<float>()) < 0.02 * d.NoiseStd.Average(), "noise has zero mean");
        Assert.Contains(reading == SnrReading.Norm ? "norm ratio" : "power ratio", d.NoiseDescription);
        // The two readings differ by the square and by the mean: at the same number the norm reading is noisier.
        using var other = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = 32, Count = 48, Snr = snr, SnrReading = reading == SnrReading.Norm ? SnrReading.Power : SnrReading.Norm, Seed = 4 });
        Assert.True(reading == SnrReading.Norm ? d.NoiseStd[0] > other.NoiseStd[0] : d.NoiseStd[0] < other.NoiseStd[0]);
    }

    [Fact]
    public void NoisyImagesLiveOnTheDiscAndTheNoiseIsIsotropic()
    {
        using var d = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = 32, Count = 64, Seed = 9 });
        using var w = ImageOps.InputWindow(32);
        using var outside = (w == 0).to(float32);
        Assert.Equal(0f, (d.Noisy.abs() * outside).max().item<float>());
        // Isotropic noise: no power beyond ½ cycle/pixel in radius, unit variance per pixel.
        using var spec = fft.fft2(d.NoiseUnit.to(float64)).abs().square().mean([0, 1]);
        using var f = fft.fftfreq(32, dtype: float64);
        using var beyond = ((f.view(-1, 1).square() + f.view(1, -1).square()) > 0.25).to(float64);
        Assert.True((spec * beyond).sum().item<double>() < 1e-12 * spec.sum().item<double>());
        Assert.Equal(1.0, d.NoiseUnit.to(float64).var().item<double>(), 1);
    }

    [Fact]
    public void ProjectionsAreCentredOnTheCentreOfMass()
    {
        using var d = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = 32, Count = 16, Seed = 2 });
        var c = tensor(Projector.PixelCentres(32));
        for (int i = 0; i < d.Count; i++)
        {
            var img = d.Clean[i, 0].to(float64);
            double mass = img.sum().item<double>();
            double mx = (img * c.view(1, -1)).sum().item<double>() / mass, my = (img * c.view(-1, 1)).sum().item<double>() / mass;
            Assert.True(Math.Abs(mx) < 0.02 && Math.Abs(my) < 0.02, $"image {i}: centre of mass ({mx}, {my})");
        }
    }

    [Fact]
    public void SameSeedGivesSameDataAndOtherSeedsDiffer()
    {
        var o = new ProjectionDataOptions { ImageSize = 16, Count = 8, Seed = 9 };
        using var a = ProjectionDataset.Create(o);
        using var b = ProjectionDataset.Create(o);
        using var c = ProjectionDataset.Create(o with { Seed = 10 });
        Assert.True(a.Noisy.allclose(b.Noisy, rtol: 0, atol: 0));
        Assert.True(a.Clean.allclose(b.Clean, rtol: 0, atol: 0));
        Assert.Equal(a.NoiseStd, b.NoiseStd);
        Assert.False(a.Clean.allclose(c.Clean));
        // Rotated batches are deterministic too and agree with the stored pair at angle 0.
        var (n0, c0) = a.RotatedBatch([0, 3], [0.0, 0.0]);
        var (n1, c1) = a.Batch([0, 3]);
        Assert.True(c0.allclose(c1, rtol: 1e-4, atol: 1e-5));
        Assert.True(n0.allclose(n1, rtol: 1e-4, atol: 1e-4));
    }

    [Fact]
    public void RotatedBatchesReRenderTheMoleculeTurnedInPlane()
    {
        using var d = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = 24, Count = 4, Seed = 6 });
        int[] idx = [0, 1, 2, 3];
        // A quarter turn is a pixel permutation of the symmetric grid: the analytic re-rendering must match rot90
        // (counter-clockwise in (x, y) with y = row index is rot90 with k = 1 over dims (W, H), i.e. k = −1 over (H, W)).
        var (noisy, clean) = d.RotatedBatch(idx, [Math.PI / 2, Math.PI / 2, Math.PI / 2, Math.PI / 2]);
        using var expected = d.Clean.rot90(1, (3, 2));
        Assert.True(clean.allclose(expected, rtol: 1e-4, atol: 1e-5), "analytic quarter turn vs rot90");
        Assert.False(clean.allclose(d.Clean.rot90(1, (2, 3)), rtol: 1e-2, atol: 1e-2), "the opposite turn must not match");
        using var std = tensor(d.NoiseStd.Select(s => (float)s).ToArray()).view(-1, 1, 1, 1);
        using var window = ImageOps.InputWindow(24);
        Assert.True(noisy.allclose((clean + std * d.NoiseUnit) * window, rtol: 1e-4, atol: 1e-4), "the sample's own noise is kept, seen through the disc window");
    }

    [Fact]
    public void PdbAtomsAreReadCentredAndScaled()
    {
        var m = MoleculeFactory.FromPdb(Path.Combine(Repo.Root, "tests/XaiLab.Tests/Denoising/Fixtures/tiny.pdb"), sigmaAngstrom: 2, radius: 0.5);
        Assert.Equal(4, m.AtomCount);                        // 3 ATOM + 1 HETATM of the first model
        Assert.Equal(0.5, m.Radius, 9);                      // scaled so the farthest atom sits at the radius
        Assert.Equal(0.5, m.Positions[0][0], 9);             // (10,0,0) Å → (0.5,0,0)
        Assert.Equal(-0.5, m.Positions[3][1], 9);            // HETATM (0,−10,0) Å
        Assert.All(m.Sigmas, s => Assert.Equal(0.1, s, 9));  // 2 Å × 0.05 / Å
        Assert.All(m.CentreOfMass(), v => Assert.Equal(0, v, 9));
    }

    [Fact]
    public void MalformedPdbLinesAreNamed()
    {
        var bad = new[] { "HEADER x", "ATOM      1  N   ALA A   1      1O.000   0.000   0.000  1.00  0.00           N" };
        var e = Assert.Throws<InvalidDataException>(() => MoleculeFactory.ParsePdb(bad, "bad.pdb"));
        Assert.Contains("bad.pdb:2", e.Message);
        Assert.Contains("31–38", e.Message);
        var shortLine = Assert.Throws<InvalidDataException>(() => MoleculeFactory.ParsePdb(["ATOM      1  N   ALA A   1      1.0"], "s.pdb"));
        Assert.Contains("s.pdb:1", shortLine.Message);
        Assert.Throws<InvalidDataException>(() => MoleculeFactory.ParsePdb(["REMARK nothing"], "empty.pdb"));
        Assert.Throws<FileNotFoundException>(() => MoleculeFactory.FromPdb("/nonexistent/x.pdb"));
    }
}
