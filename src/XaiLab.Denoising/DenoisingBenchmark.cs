using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>The equivariance floor of one rotation at one angle: the error an isotropic Gaussian low-pass scores.</summary>
/// <param name="Noise">The SNR with its reading.</param>
/// <param name="AngleDegrees">The rotation angle.</param>
/// <param name="Fourier">Floor of <see cref="DenoisingMetrics.EquivarianceError(Func{Tensor, Tensor}, Tensor, IReadOnlyList{double})"/> (band-limited rotation on the disc).</param>
/// <param name="Bilinear">The same for the bilinear rotation with border padding, unmasked inputs and ‖F(x)‖² in the denominator (the earlier measure).</param>
/// <param name="Sigma">σ of the low-pass in pixels.</param>
public sealed record EquivarianceFloorRow(string Noise, double AngleDegrees, double Fourier, double Bilinear, double Sigma = 1.5);

/// <summary>
/// What <see cref="DenoisingBenchmark.Run"/> measured.
/// </summary>
/// <param name="ImageSize">n.</param>
/// <param name="Spiral">"n_wind …, n_spls …, ρ …".</param>
/// <param name="GridToRibbonSeconds">Time to build the pixels → ribbon matrix.</param>
/// <param name="SpiralToRibbonSeconds">Time to build the spiral → ribbon matrix.</param>
/// <param name="SpiralToGridSeconds">Time to build the spiral → pixels matrix.</param>
/// <param name="DiscPixelsOutsideHull">Pixel centres with r ≤ 1 outside the spiral's hull (extrapolated); 0 with <see cref="SpiralSampling.ForImage"/>.</param>
/// <param name="CartesianStepMs">Median training step (forward, backward, Adam) of the Cartesian net.</param>
/// <param name="SpiralStepMs">The same for the spiral net (equal width and depth).</param>
/// <param name="Parameters">Trainable parameters of (Cartesian, spiral).</param>
/// <param name="Floors">Equivariance floors at 30°, 45°, 90° for SNR 1/4 and 1/64 (power reading).</param>
/// <param name="Device">Where the steps ran.</param>
public sealed record DenoisingBenchmarkResult(int ImageSize, string Spiral, double GridToRibbonSeconds, double SpiralToRibbonSeconds, double SpiralToGridSeconds,
    int DiscPixelsOutsideHull, double CartesianStepMs, double SpiralStepMs, (long Cartesian, long Spiral) Parameters, IReadOnlyList<EquivarianceFloorRow> Floors, string Device)
{
    /// <summary>Spiral step time / Cartesian step time (wall).</summary>
    public double StepRatio => SpiralStepMs / CartesianStepMs;

    /// <summary>Thread CPU seconds of the three matrices, second build (JIT warm; NaN off Linux): pixels→ribbon, spiral→ribbon, spiral→pixels.</summary>
    public (double GridToRibbon, double SpiralToRibbon, double SpiralToGrid) MatrixCpuSeconds { get; init; } = (double.NaN, double.NaN, double.NaN);
    /// <summary>Median thread CPU ms of the training steps (Cartesian, spiral); the load-independent figure when torch runs on one thread.</summary>
    public (double Cartesian, double Spiral) StepCpuMs { get; init; } = (double.NaN, double.NaN);
    /// <summary>torch intra-op threads during the steps.</summary>
    public int TorchThreads { get; init; }
    /// <summary>Grid pixels outside the spiral's hull (all with r &gt; 1: the square's corners) and the batch size of the steps.</summary>
    public int GridPixelsOutsideHull { get; init; }
    /// <summary>Ribbon points outside the pixel grid's hull and outside the spiral's hull (both extrapolated), of all ribbon points.</summary>
    public (int FromGrid, int FromSpiral, int Points) RibbonPointsOutsideHull { get; init; }
    /// <summary>Batch size of the timed steps.</summary>
    public int BatchSize { get; init; }
    /// <summary>1-minute load average at the end of the steps (Linux), or null.</summary>
    public double? Load { get; init; }

    /// <summary>A plain-text report.</summary>
    public string ToText()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(string.Create(c, $"denoise bench: {ImageSize}×{ImageSize} px, spiral {Spiral}, device {Device}"));
        var (mg, ms, mp) = MatrixCpuSeconds;
        sb.AppendLine(string.Create(c, $"  resampling matrices, first build (wall, JIT included): pixels→ribbon {GridToRibbonSeconds:F3} s, spiral→ribbon {SpiralToRibbonSeconds:F3} s, spiral→pixels {SpiralToGridSeconds:F3} s, total {GridToRibbonSeconds + SpiralToRibbonSeconds + SpiralToGridSeconds:F3} s"));
        sb.AppendLine(string.Create(c, $"  resampling matrices, second build (thread CPU, one thread): {mg:F3} + {ms:F3} + {mp:F3} = {mg + ms + mp:F3} s"));
        sb.AppendLine(string.Create(c, $"  rim: disc pixels (r ≤ 1) outside the spiral hull: {DiscPixelsOutsideHull} (ρ puts every disc pixel centre inside, so they are interpolated); grid pixels outside the hull: {GridPixelsOutsideHull} of {ImageSize * ImageSize}, all corners with r > 1, given the value of the nearest hull point (constant extrapolation, Remark 31) and read by no loss or metric; ribbon points outside the hull (outer row of the last windings, r > 1, extrapolated the same way): {RibbonPointsOutsideHull.FromGrid} of {RibbonPointsOutsideHull.Points} from the pixels, {RibbonPointsOutsideHull.FromSpiral} from the spiral"));
        var (cc, cs) = StepCpuMs;
        sb.AppendLine(string.Create(c, $"  training step (batch {BatchSize}, {TorchThreads} torch thread(s), median): Cartesian {CartesianStepMs:F1} ms wall / {cc:F1} ms thread CPU, spiral {SpiralStepMs:F1} ms wall / {cs:F1} ms thread CPU (×{StepRatio:F2} wall, ×{cs / cc:F2} CPU); parameters {Parameters.Cartesian} / {Parameters.Spiral}{(Load is double l ? string.Create(c, $"; load average {l:F2}") : "")}"));
        sb.AppendLine("  equivariance floor (isotropic Gaussian low-pass, linear convolution; bilinear: the earlier measure, circular low-pass σ 1.5 px):");
        foreach (var f in Floors)
            sb.AppendLine(string.Create(c, $"    {f.Noise}, {f.AngleDegrees,3}°, σ {f.Sigma:G2} px: Fourier on the disc {f.Fourier:G3}{(double.IsNaN(f.Bilinear) ? "" : string.Create(c, $"   bilinear (earlier) {f.Bilinear:G3}"))}"));
        return sb.ToString();
    }
}

/// <summary>Cost and floor measurements of the denoising code (<c>xailab denoise bench</c>, benchmarks/denoising-*.txt).</summary>
public static class DenoisingBenchmark
{
    /// <summary>Runs the measurements for n×n images with the given architecture and batch size.</summary>
    public static DenoisingBenchmarkResult Run(int imageSize, DenoiserOptions architecture, int batchSize, Device device, int steps = 6)
    {
        Devices.EnsureNativeLoaded();
        var spiral = SpiralSampling.ForImage(imageSize);
        var (gx, gy) = SpiralDenoiser.PixelGrid(imageSize);
        var (rx, ry) = spiral.Ribbon(architecture.KernelSize);
        double Time(Func<SparseResampling> f, out SparseResampling r)
        {
            var sw = Stopwatch.StartNew(); r = f(); return sw.Elapsed.TotalSeconds;
        }
        double g2r = Time(() => BarycentricResampler.Build(gx, gy, rx, ry), out var gridToRibbon);
        double s2r = Time(() => BarycentricResampler.Build(spiral.X, spiral.Y, rx, ry), out var spiralToRibbon);
        double s2g = Time(() => BarycentricResampler.Build(spiral.X, spiral.Y, gx, gy), out var toGrid);
        double Cpu(Func<SparseResampling> f) { double c0 = ThreadCpuMs(); f(); return (ThreadCpuMs() - c0) / 1000; }
        var matrixCpu = (Cpu(() => BarycentricResampler.Build(gx, gy, rx, ry)), Cpu(() => BarycentricResampler.Build(spiral.X, spiral.Y, rx, ry)),
            Cpu(() => BarycentricResampler.Build(spiral.X, spiral.Y, gx, gy)));
        var disc = Enumerable.Range(0, gx.Length).Where(i => gx[i] * gx[i] + gy[i] * gy[i] <= 1).ToArray();
        var inDisc = BarycentricResampler.Build(spiral.X, spiral.Y, disc.Select(i => gx[i]).ToArray(), disc.Select(i => gy[i]).ToArray());

        using var data = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = imageSize, Count = Math.Max(2 * batchSize, 16), Seed = 11 });
        using var prior = RadialMean.FromClean(data.Clean);
        double Step(DenoiserKind kind, out long parameters, out double cpuMs)
        {
            using var init = new Generator(0, CPU);
            using var model = Denoisers.Create(kind, imageSize, architecture, prior, init);
            model.to(device); model.train();
            parameters = model.parameters().Sum(p => p.numel());
            using var opt = optim.Adam(model.parameters(), 1e-3);
            var (x, y) = data.Batch(Enumerable.Range(0, batchSize).ToArray(), device);
            using var _x = x; using var _y = y;
            var times = new List<double>(); var cpu = new List<double>();
            for (int s = 0; s < steps + 2; s++)
            {
                using var scope = NewDisposeScope();
                double c0 = ThreadCpuMs();
                var sw = Stopwatch.StartNew();
                opt.zero_grad();
                var loss = (model.call(x) - y).square().mean();
                loss.backward();
                opt.step();
                loss.item<float>();   // synchronises a GPU
                if (s >= 2) { times.Add(sw.Elapsed.TotalMilliseconds); cpu.Add(ThreadCpuMs() - c0); }
            }
            times.Sort(); cpu.Sort();
            cpuMs = cpu[cpu.Count / 2];
            return times[times.Count / 2];
        }
        double cart = Step(DenoiserKind.Cartesian, out var pc, out var cartCpu);
        double spir = Step(DenoiserKind.Spiral, out var ps, out var spirCpu);
        var load = Devices.LoadAverage();

        var floors = new List<EquivarianceFloorRow>();
        foreach (var snr in new[] { 0.25, 1.0 / 64 })
        {
            using var masked = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = imageSize, Count = 16, Snr = snr, Seed = 12 });
            using var open = ProjectionDataset.Create(new ProjectionDataOptions { ImageSize = imageSize, Count = 16, Snr = snr, Seed = 12, MaskToDisc = false });
            foreach (var deg in new[] { 30.0, 45.0, 90.0 })
            {
                var angles = Enumerable.Repeat(deg * Math.PI / 180, 16).ToArray();
                foreach (var sigma in new[] { 1.0, 1.5, 2.0 })
                {
                    double fourier = DenoisingMetrics.EquivarianceFloor(masked.Noisy, angles, sigma);
                    double bilinear = sigma == 1.5 ? BilinearFloor(open.Noisy, angles) : double.NaN;
                    floors.Add(new EquivarianceFloorRow(masked.NoiseDescription, deg, fourier, bilinear, sigma));
                }
            }
        }
        return new DenoisingBenchmarkResult(imageSize, string.Create(CultureInfo.InvariantCulture, $"n_wind {spiral.Windings}, n_spls {spiral.Samples}, ρ {spiral.OuterRadius:G4}"),
            g2r, s2r, s2g, inDisc.OutsideHull, cart, spir, (pc, ps), floors, Devices.Describe(device))
        {
            MatrixCpuSeconds = matrixCpu, StepCpuMs = (cartCpu, spirCpu), TorchThreads = torch.get_num_threads(),
            GridPixelsOutsideHull = toGrid.OutsideHull, BatchSize = batchSize, Load = load,
            RibbonPointsOutsideHull = (gridToRibbon.OutsideHull, spiralToRibbon.OutsideHull, rx.Length),
        };
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    struct TimeSpec { public long Sec; public long Nsec; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGettime(int clock, out TimeSpec t);

    /// <summary>CPU time of the calling thread in ms (Linux CLOCK_THREAD_CPUTIME_ID), NaN elsewhere.</summary>
    static double ThreadCpuMs()
    {
        try { return ClockGettime(3, out var t) == 0 ? t.Sec * 1e3 + t.Nsec / 1e6 : double.NaN; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return double.NaN; }
    }

    /// <summary>The earlier measure's floor at fixed angles: bilinear rotation (border padding), ‖F(x)‖² in the denominator.</summary>
    static double BilinearFloor(Tensor x, double[] angles)
    {
        using var scope = NewDisposeScope();
        var mask = ImageOps.DiscMask((int)x.shape[^1]);
        Tensor F(Tensor t) => GaussianLowPass.Apply(t, 1.5);
        var fx = F(x);
        var d = F(ImageOps.Rotate(x, angles)) - ImageOps.Rotate(fx, angles);
        return (d.square() * mask).sum().item<float>() / (fx.square() * mask).sum().item<float>();
    }
}
