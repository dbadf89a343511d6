using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Imaging.Models;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Cli;

/// <summary>
/// Thesis chapter 4 (SIFT feature cells) on the command line:
/// <list type="bullet">
/// <item><c>xailab sift decompose --image FILE [--size N] [--eta 4] [--sparsity 0.01] [--contrast-threshold 0.04] --out DIR</c>:
/// builds the SIFT feature basis of one image and writes <c>keypoints.csv</c> (x, y, σ, contrast), <c>summary.json</c>
/// (K, reconstruction error, build seconds, peak MB, …), <c>bands.png</c>, <c>cells.png</c> and <c>keypoints.png</c>.</item>
/// <item><c>xailab sift bench [--sizes 224,512] [--out FILE]</c>: build time and peak memory of the decomposition,
/// decoding of 14 gain vectors forward and forward+backward, and one SIFT ablation path on a 224² Fashion scene.</item>
/// </list>
/// </summary>
public static class SiftCommand
{
    /// <summary>The <c>sift</c> command group with its subcommands <c>decompose</c> and <c>bench</c>.</summary>
    public static Command Create()
    {
        var image = new Option<string>("--image") { Description = "Image file (PNG/JPEG)", Required = true };
        var size = new Option<int?>("--size") { Description = "Resize to N×N first (bilinear, antialiased); default: keep the file's size" };
        var eta = new Option<double>("--eta") { Description = "η of Eq 4.18 (σ against position); thesis 1, 2 or 4", DefaultValueFactory = _ => 4 };
        var sparsity = new Option<double>("--sparsity") { Description = "Soft cut-off threshold s of Eq 4.37, in [0,1)", DefaultValueFactory = _ => 0.01 };
        var contrast = new Option<double>("--contrast-threshold") { Description = "SIFT contrast threshold (OpenCV's; default 0.04)", DefaultValueFactory = _ => 0.04 };
        var output = CliOptions.Out("Output folder");
        var decompose = new Command("decompose", "Build the SIFT feature basis of an image; write keypoints.csv, summary.json and PNGs of bands, cells and keypoints.")
            { image, size, eta, sparsity, contrast, output };
        decompose.SetAction(parse => CommandBody.Guard(() =>
        {
            var options = new SiftBasisOptions
            {
                Eta = parse.GetValue(eta), Sparsity = parse.GetValue(sparsity),
                Detector = new SiftDetectorOptions { ContrastThreshold = parse.GetValue(contrast) },
            };
            try { options.Validate(); }
            catch (ArgumentOutOfRangeException e) { throw new UserError(e.Message.Split('\n')[0].Split(" (Parameter")[0]); }
            var n = parse.GetValue(size);
            if (n is < 16) throw new UserError($"--size must be at least 16 pixels; got {n}.");
            return Decompose(parse.GetValue(image)!, n, options, Path.GetFullPath(parse.GetValue(output)!), Console.Out);
        }));

        var sizes = new Option<string>("--sizes") { Description = "Comma-separated square sizes for the decomposition timing", DefaultValueFactory = _ => "224,512" };
        var benchOut = CliOptions.OptionalOut("Also write the report to this file");
        var skipPath = new Option<bool>("--no-path") { Description = "Skip the ablation-path timing" };
        var bench = new Command("bench", "Time the SIFT decomposition (build, peak memory), the decoder (14 gain vectors) and a SIFT ablation path on the CPU.")
            { sizes, benchOut, skipPath };
        bench.SetAction(parse => CommandBody.Guard(() =>
        {
            var list = parse.GetValue(sizes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 32 ? v
                    : throw new UserError($"--sizes must be integers ≥ 32 separated by commas; got '{s}'.")).ToArray();
            var sb = new StringWriter();
            var both = new TeeWriter(Console.Out, sb);
            Bench(list, !parse.GetValue(skipPath), both);
            if (parse.GetValue(benchOut) is { } f)
            {
                var dir = Path.GetDirectoryName(Path.GetFullPath(f));
                if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
                File.WriteAllText(f, sb.ToString());
            }
            return 0;
        }));
        return new Command("sift", "SIFT feature cells (thesis chapter 4): decompose an image, benchmark the decoder.") { decompose, bench };
    }

    static Tensor LoadImage(string path, int? size)
    {
        var img = ImageIO.Load(path);
        if (size is not { } n || (img.shape[1] == n && img.shape[2] == n)) return img;
        using var _ = img;
        return Resize(img, n);
    }

    static Tensor Resize(Tensor img, int n)
    {
        using var scope = NewDisposeScope();
        bool down = img.shape[1] > n || img.shape[2] > n;
        return nn.functional.interpolate(img.unsqueeze(0), new long[] { n, n }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: down)
            .squeeze(0).clamp(0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Builds the basis of one image and writes the files listed on the class.</summary>
    public static int Decompose(string imagePath, int? size, SiftBasisOptions options, string outDir, TextWriter w)
    {
        Devices.EnsureNativeLoaded();
        using var image = LoadImage(imagePath, size);
        Directory.CreateDirectory(outDir);
        PeakMemory.Reset();
        using var basis = SiftFeatureBasis.Build(image, options);
        double peakMb = PeakMemory.PeakBytes() / 1048576.0;
        var d = basis.Diagnostics;
        w.WriteLine(Inv($"{Path.GetFileName(imagePath)} {basis.Width}×{basis.Height}: K = {d.Keypoints} keypoints, {d.Bands} bands; built in {d.BuildSeconds:F2} s, peak RSS {peakMb:F0} MB{LoadAverage()}"));
        w.WriteLine(Inv($"  max |D(1) − x| = {d.ReconstructionError:E2}; decoder {d.DecoderBytes / 1048576.0:F2} MiB; uncovered voxels {d.UncoveredVoxels}"));

        var csv = new StringBuilder("x,y,sigma,contrast\n");
        foreach (var k in basis.Keypoints) csv.Append(Inv($"{k.X:R},{k.Y:R},{k.Sigma:R},{k.Response:R}\n"));
        File.WriteAllText(Path.Combine(outDir, "keypoints.csv"), csv.ToString());

        var summary = new
        {
            image = Path.GetFullPath(imagePath),
            width = basis.Width, height = basis.Height, channels = basis.Channels,
            options = new { eta = options.Eta, sparsity = options.Sparsity, contrastThreshold = options.Detector.ContrastThreshold, smoothing = options.Smoothing, cutOff = options.CutOff.ToString(), redistribute = options.Redistribute },
            K = d.Keypoints, bands = d.Bands,
            reconstructionError = d.ReconstructionError,
            buildSeconds = d.BuildSeconds,
            peakMB = Math.Round(peakMb, 1),
            phases = d.Phases,
            decoderBytes = d.DecoderBytes,
            levels = d.Levels,
            uncoveredVoxels = d.UncoveredVoxels,
            loadAverage = LoadAverageValue(),
        };
        File.WriteAllText(Path.Combine(outDir, "summary.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));

        using (var scope = NewDisposeScope())
        {
            using var space = ScaleSpace.Build(basis.Image, options.ScaleSpace);
            var tiles = new List<Tensor>();
            for (int l = 0; l < space.Layers.Count; l++)
                tiles.Add(l == space.Layers.Count - 1 ? space.Bands[l].clamp(0, 1) : (0.5f + 4f * space.Bands[l]).clamp(0, 1));
            ImageIO.SavePng(Montage(tiles, 6), Path.Combine(outDir, "bands.png"));
            var cells = new List<Tensor>();
            for (int l = 0; l < basis.Layers.Count; l += Math.Max(1, basis.Layers.Count / 6))
            {
                var v = basis.View(l);
                cells.Add(v.HardCells); cells.Add(v.SmoothCells);
            }
            ImageIO.SavePng(Montage(cells, 2), Path.Combine(outDir, "cells.png"));
            ImageIO.SavePng(KeypointDrawing.Draw(basis.Image, basis.Keypoints), Path.Combine(outDir, "keypoints.png"));
        }
        w.WriteLine($"  wrote keypoints.csv, summary.json, bands.png (every band, 0.5 + 4·T_l), cells.png (hard | smooth cells, rows = bands), keypoints.png to {outDir}");
        return 0;
    }

    /// <summary>Tiles <c>[3,H,W]</c> images (same size) into rows of <paramref name="columns"/> with 2-pixel white gaps.</summary>
    static Tensor Montage(IReadOnlyList<Tensor> tiles, int columns)
    {
        int h = (int)tiles[0].shape[1], w = (int)tiles[0].shape[2], gap = 2;
        int rows = (tiles.Count + columns - 1) / columns, cols = Math.Min(columns, tiles.Count);
        var canvas = ones(3, rows * (h + gap) - gap, cols * (w + gap) - gap);
        for (int i = 0; i < tiles.Count; i++)
        {
            int r = i / columns, c = i % columns;
            var t = tiles[i].shape[0] == 1 ? tiles[i].expand(3, h, w) : tiles[i];
            canvas[TensorIndex.Colon, TensorIndex.Slice(r * (h + gap), r * (h + gap) + h), TensorIndex.Slice(c * (w + gap), c * (w + gap) + w)] = t.to(ScalarType.Float32).cpu();
        }
        return canvas;
    }

    /// <summary>The benchmark of issue "fast and small": prints one block per measurement.</summary>
    public static void Bench(IReadOnlyList<int> sizes, bool path, TextWriter w)
    {
        Devices.EnsureNativeLoaded();
        var cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':')[1].Trim() : null;
        w.WriteLine($"machine: {Environment.ProcessorCount} cores{(cpu is null ? "" : $" ({cpu})")}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; torch threads {torch.get_num_threads()}{LoadAverage()}");
        var src = Assets.File("backgrounds/astronaut.jpg");
        using var photo = ImageIO.Load(src);
        w.WriteLine($"image: assets/backgrounds/astronaut.jpg ({photo.shape[2]}×{photo.shape[1]}) resized to N×N (antialiased when shrinking, bilinear when enlarging); default options (η 4, s 0.01, OpenCV detector defaults)");
        // Warm-up: JIT and libtorch kernels, so that the first timing is not the cold start.
        using (var warm = Resize(photo, 64)) using (SiftFeatureBasis.Build(warm)) { }
        SiftFeatureBasis? at224 = null;
        foreach (var n in sizes)
        {
            using var img = Resize(photo, n);
            GC.Collect(); GC.WaitForPendingFinalizers();
            PeakMemory.Reset();
            long before = PeakMemory.CurrentBytes();
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var basis = SiftFeatureBasis.Build(img);
            double cpuBuild = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            long peak = PeakMemory.PeakBytes();
            var d = basis.Diagnostics; var p = d.Phases;
            w.WriteLine(Inv($"decompose {n}²: K = {d.Keypoints}, {d.Bands} bands, build {d.BuildSeconds:F2} s wall, {cpuBuild:F2} s CPU (detect {p.Detect:F2}, scale space {p.ScaleSpace:F2}, assign {p.Assign:F2}, smooth {p.Smooth:F2}, matrices {p.Matrices:F2}, self-check {p.SelfCheck:F2}); ") + Inv($"peak RSS {peak / 1048576.0:F0} MB (process before the build {before / 1048576.0:F0} MB); decoder {d.DecoderBytes / 1048576.0:F2} MiB; max |D(1) − x| = {d.ReconstructionError:E2}{LoadAverage()}"));
            if (n == 224 && at224 is null) at224 = basis; else basis.Dispose();
        }
        if (at224 is null)
        {
            using var img = Resize(photo, 224);
            at224 = SiftFeatureBasis.Build(img);
        }
        using (at224)
        {
            var gen = new Generator(7, CPU);
            using var theta = rand(14, at224.K, generator: gen);
            double fwd = Median(9, () => { using var s = NewDisposeScope(); using var _ = no_grad(); at224.Render(theta); }, out var fwdCpu);
            double fb = Median(9, () =>
            {
                using var s = NewDisposeScope();
                var t = theta.detach().clone().requires_grad_(true);
                at224.Render(t).square().sum().backward();
            }, out var fbCpu);
            w.WriteLine(Inv($"decode 14 gain vectors at 224² (K = {at224.K}): forward {fwd:F1} ms wall ({fwdCpu:F0} ms CPU), forward+backward {fb:F1} ms wall ({fbCpu:F0} ms CPU) (medians of 9){LoadAverage()}"));
            // Where the decoding time goes: the sparse products per level and the bilinear resampling to H×W.
            var th = theta.data<float>().ToArray();
            var parts = new List<string>();
            foreach (var (m, lv) in at224.Matrices.Select((m, i) => (m, i)))
            {
                double prod = Median(5, () => m.MultiplyRowMajor(th, 14, 0, at224.Channels), out var prodCpu);
                double back = Median(5, () => m.MultiplyTransposedRowMajor(new float[14 * at224.Channels * m.Height * m.Width], 14, 0, at224.Channels), out var backCpu);
                using var small = rand(14, at224.Channels, m.Height, m.Width);
                double up = Median(5, () => { using var s = NewDisposeScope(); ScaleSpace.Resample(small, 224, 224); }, out var upCpu);
                parts.Add(Inv($"level {lv} {m.Height}² ({m.Entries:N0} entries): product {prod:F1} ms ({prodCpu:F0} CPU), transposed {back:F1} ms ({backCpu:F0} CPU), resample {up:F1} ms ({upCpu:F0} CPU)"));
            }
            w.WriteLine("  " + string.Join("; ", parts));
            if (path) BenchPath(w);
        }
    }

    static void BenchPath(TextWriter w)
    {
        var spec = FashionModels.All.FirstOrDefault(s => s.Name == "fashion-cnn");
        if (spec is null || !FashionModels.Available(spec)) { w.WriteLine("ablation path: skipped (fashion-cnn weights not found)"); return; }
        using var inner = FashionModels.Load(spec);
        using var model = new Classifier(new Resized(inner.Network, FashionModels.InputSide), inner.ClassNames, inner.Activation, 3, (224, 224),
            FashionModels.Mean, FashionModels.Std, "fashion-cnn@224");
        var scenes = DatasetRegistry.Open("fashion-scenes", "test");
        using var scene = scenes.Get(0);
        using var image = Resize(scene.Image, 224);
        var clock = Stopwatch.StartNew();
        using var basis = SiftFeatureBasis.Build(image);
        double build = clock.Elapsed.TotalSeconds;
        using var space = basis.AsPathSpace();
        int cls = scene.Objects[0].ClassIndex;
        var o = new AblationPathOptions { Score = AblationScore.Straddling, Steps = 14, Saturation = 0.8 };
        var proc = Process.GetCurrentProcess();
        var cpu0 = proc.TotalProcessorTime;
        var opt = Stopwatch.StartNew();
        using var r = AblationPath.Optimise(model, space, cls, o);
        double run = opt.Elapsed.TotalSeconds;
        proc.Refresh();
        double runCpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
        w.WriteLine(Inv($"SIFT ablation path, fashion-scenes/test #0 upsampled to 224² (class {cls} '{model.ClassNames[cls]}'), fashion-cnn behind a 224→128 resize, straddling, T = 14, ζ_sat 0.8: ") + Inv($"basis {build:F2} s (K = {basis.K}) + optimisation {run:F2} s ({r.Timings.Iterations} iterations, stop {r.StopReason}; forward+backward {r.Timings.ForwardBackwardMs / 1000:F2} s) = {build + run:F2} s; optimisation {runCpu:F2} s process CPU on {torch.get_num_threads()} torch thread(s){LoadAverage()}"));
    }

    /// <summary>Classifier network behind a bilinear resize to side×side (the Fashion models are 128 px; per-channel normalisation commutes with it).</summary>
    sealed class Resized : nn.Module<Tensor, Tensor>
    {
        readonly nn.Module<Tensor, Tensor> _inner;
        readonly int _side;
        public Resized(nn.Module<Tensor, Tensor> inner, int side) : base("resized") { _inner = inner; _side = side; RegisterComponents(); }
        public override Tensor forward(Tensor x) =>
            _inner.call(nn.functional.interpolate(x, new long[] { _side, _side }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: false));
    }

    /// <summary>Median wall milliseconds of n runs after one warm-up; <paramref name="cpuMs"/> the median process CPU milliseconds.</summary>
    static double Median(int n, Action a, out double cpuMs)
    {
        a(); // warm-up
        var t = new double[n]; var c = new double[n];
        var proc = Process.GetCurrentProcess();
        for (int i = 0; i < n; i++)
        {
            proc.Refresh();
            var c0 = proc.TotalProcessorTime;
            var sw = Stopwatch.StartNew(); a(); t[i] = sw.Elapsed.TotalMilliseconds;
            proc.Refresh();
            c[i] = (proc.TotalProcessorTime - c0).TotalMilliseconds;
        }
        Array.Sort(t); Array.Sort(c);
        cpuMs = c[n / 2];
        return t[n / 2];
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    static double? LoadAverageValue()
    {
        try { return File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture) : null; }
        catch (IOException) { return null; }
    }

    static string LoadAverage() => LoadAverageValue() is { } v ? Inv($"; load average {v:F2}") : "";

    sealed class TeeWriter(TextWriter a, TextWriter b) : TextWriter
    {
        public override Encoding Encoding => a.Encoding;
        public override void Write(char value) { a.Write(value); b.Write(value); }
        public override void Write(string? value) { a.Write(value); b.Write(value); }
        public override void WriteLine(string? value) { a.WriteLine(value); b.WriteLine(value); }
    }
}

/// <summary>
/// Peak resident memory of this process on Linux: <see cref="Reset"/> writes 5 to <c>/proc/self/clear_refs</c>
/// (resets VmHWM to the current RSS), <see cref="PeakBytes"/> reads VmHWM. Elsewhere the managed process peak.
/// </summary>
static class PeakMemory
{
    public static void Reset()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    public static long PeakBytes() => Read("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    public static long CurrentBytes() => Read("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64;

    static long? Read(string key)
    {
        try
        {
            if (!File.Exists("/proc/self/status")) return null;
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key));
            if (line is null) return null;
            return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { return null; }
    }
}
