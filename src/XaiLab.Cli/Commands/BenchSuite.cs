using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using XaiLab.Denoising;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Methods;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Cli;

/// <summary>One benchmark figure as written by <c>xailab bench run --json FILE</c>.</summary>
/// <param name="Name">What was measured, slash-separated (e.g. <c>ablation-path/fashion-cnn/per-iteration</c>).</param>
/// <param name="Value">The figure.</param>
/// <param name="Unit"><c>ms</c>, <c>s</c>, <c>%</c>, <c>images/s</c> or <c>ratio</c>.</param>
/// <param name="Device">cpu or cuda:N.</param>
/// <param name="Machine">Cores, OS and CPU/GPU model.</param>
/// <param name="Commit">git commit of the build (or <c>$XAILAB_COMMIT</c>, or unknown).</param>
/// <param name="Load">1-minute load average when the figure was taken (null where there is none).</param>
/// <param name="Threads">torch's intra-op threads during the measurement.</param>
/// <param name="Note">How it was measured (repeats, statistic, parameters).</param>
public sealed record BenchRecord(string Name, double Value, string Unit, string Device, string Machine, string Commit,
    double? Load, int Threads, string Note);

/// <summary>
/// <c>xailab bench run</c>: every record of the performance table — ablation path per iteration and
/// per 100 iterations (the embedded fashion-cnn and a random-init ResNet50), repair share, monotonisation
/// (Algorithm 1 old/new, the tensor form, the running midpoint with 1 and 2 threads), full repair, batched
/// throughput, SIFT basis build and decode, spiral vs Cartesian denoiser step ratio, Integrated Gradients and RISE per
/// image. Micro-benchmarks report the median of repeats; single-threaded managed work also as thread CPU time, which a
/// busy machine disturbs far less than wall time.
/// </summary>
public static class BenchSuite
{
    /// <summary>Settings of one suite run.</summary>
    /// <param name="Quick">Fewer iterations/masks (for a smoke run; the record notes say so).</param>
    /// <param name="ResNetIterations">Iterations timed for ResNet50 (100 on a GPU; on a CPU fewer, the per-100 figure is then extrapolated and says so).</param>
    /// <param name="RiseMasks">RISE masks per image (8000, the published value, by default).</param>
    /// <param name="Device">The torch device every record is taken on (cpu or cuda:N).</param>
    public sealed record Settings(Device Device, bool Quick, int? ResNetIterations, int RiseMasks);

    [StructLayout(LayoutKind.Sequential)]
    struct Timespec { public long Sec; public long Nsec; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGettime(int clock, out Timespec t);

    /// <summary>CPU time of the calling thread in ms (Linux), or NaN.</summary>
    public static double ThreadCpuMs()
    {
        try { return ClockGettime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var t) == 0 ? t.Sec * 1e3 + t.Nsec / 1e6 : double.NaN; }
        catch (DllNotFoundException) { return double.NaN; }
        catch (EntryPointNotFoundException) { return double.NaN; }
    }

    static string Commit()
    {
        if (Environment.GetEnvironmentVariable("XAILAB_COMMIT") is { Length: > 0 } c) return c;
        try
        {
            var psi = new ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi);
            if (p is null) return "unknown";
            var s = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit(5000);
            return p.ExitCode == 0 && s.Length > 0 ? s : "unknown";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException) { return "unknown"; }
    }

    static string Machine(Device device)
    {
        string cpu = "";
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "";
        }
        catch (IOException) { }
        var gpu = device.type == DeviceType.CUDA ? $", {Devices.Describe(device)}" : "";
        return $"{Environment.ProcessorCount} cores{(cpu.Length > 0 ? " " + cpu : "")}, {RuntimeInformation.OSDescription}{gpu}";
    }

    static double Median(List<double> xs) { var s = xs.OrderBy(v => v).ToArray(); return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2; }

    /// <summary>Median wall and thread-CPU ms of <paramref name="repeats"/> calls after one warm-up call.</summary>
    static (double Wall, double Cpu) Time(Action a, int repeats)
    {
        a();
        var wall = new List<double>(); var cpu = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            double c0 = ThreadCpuMs(); long t0 = Stopwatch.GetTimestamp();
            a();
            long t1 = Stopwatch.GetTimestamp(); double c1 = ThreadCpuMs();
            wall.Add((t1 - t0) * 1000.0 / Stopwatch.Frequency); cpu.Add(c1 - c0);
        }
        return (Median(wall), Median(cpu));
    }

    // With one torch thread all tensor work runs on the calling thread, so its CPU time measures the work itself,
    // far less disturbed by other processes than wall time; with more threads only wall time means anything.
    static (double Value, string How) Robust((double Wall, double Cpu) t) =>
        torch.get_num_threads() == 1 && double.IsFinite(t.Cpu) ? (t.Cpu, $"thread CPU time (wall {t.Wall:F1} ms)") : (t.Wall, "wall time");

    /// <summary>Runs the suite; prints each record to <paramref name="log"/> as it is taken and returns all of them.</summary>
    public static List<BenchRecord> Run(Settings s, TextWriter log)
    {
        Devices.EnsureNativeLoaded();
        var device = s.Device;
        var records = new List<BenchRecord>();
        string machine = Machine(device), commit = Commit(), dev = device.type == DeviceType.CUDA ? $"cuda:{device.index}" : "cpu";
        void Add(string name, double value, string unit, string note, int? threads = null)
        {
            var r = new BenchRecord(name, Math.Round(value, 4), unit, dev, machine, commit, Devices.LoadAverage(), threads ?? torch.get_num_threads(), note);
            records.Add(r);
            log.WriteLine($"{r.Name,-58} {r.Value,12:G6} {r.Unit,-9} load {r.Load?.ToString("F2") ?? "n/a"}, {r.Threads} thr  {r.Note}");
        }
        log.WriteLine($"machine: {machine}; commit {commit}; device {Devices.Describe(device)}; {Devices.ThreadChoice}");
        int defaultThreads = torch.get_num_threads();

        Monotonisation(s, Add, defaultThreads);
        AblationPaths(s, Add, defaultThreads);
        Sift(s, Add);
        DenoiserRatio(s, Add);
        Methods(s, Add);
        return records;
    }

    delegate void Adder(string name, double value, string unit, string note, int? threads = null);

    // ------------------------------------------------------------------ monotonisation and repair

    static void Monotonisation(Settings s, Adder add, int defaultThreads)
    {
        using var scope = NewDisposeScope();
        int reps = s.Quick ? 10 : 40;
        foreach (var size in new[] { 64, 224 })
        {
            var gen = new Generator(7, CPU);
            var path = rand(new long[] { 14, size, size }, generator: gen) * 1.4 - 0.2; // random: the worst case for the runs
            string shape = $"14x{size}x{size}";
            int r = size == 224 ? Math.Max(5, reps / 4) : reps;
            torch.set_num_threads(1);
            var raw = path.data<float>().ToArray();
            var buf = new float[raw.Length];
            var a1 = Time(() => { raw.CopyTo(buf, 0); PathRepair.MonotoniseColumns<float>(buf, 14, size * size); }, r);
            add($"monotonise/algorithm1-array-pass/{shape}", a1.Cpu, "ms", $"PathRepair.MonotoniseColumns (SIMD max–min form) on a managed array, copy included, thread CPU time, median of {r} (wall {a1.Wall:F3} ms)", 1);
            var a1s = Time(() => { raw.CopyTo(buf, 0); PathRepair.MonotoniseColumnsSweep<float>(buf, 14, size * size); }, r);
            add($"monotonise/algorithm1-sweep-pass/{shape}", a1s.Cpu, "ms", $"the previous kernel (block-merging sweep, strided) on the same array, thread CPU time, median of {r} (wall {a1s.Wall:F3} ms)", 1);
            var a2 = Time(() => { using var m = PathRepair.Monotonise(path); }, r);
            add($"monotonise/algorithm1/{shape}", a2.Cpu, "ms", $"PathRepair.Monotonise(tensor), thread CPU time, median of {r} (wall {a2.Wall:F3} ms)", 1);
            var a0 = Time(() => { using var m = Previous.Monotonise(path); }, r);
            add($"monotonise/algorithm1-previous/{shape}", a0.Cpu, "ms", $"the previous version: sweep kernel in a managed ToArray round trip to a new tensor, thread CPU time, median of {r} (wall {a0.Wall:F3} ms)", 1);
            if (size == 64) // the device form is for GPUs; as CPU tensor ops at 224² it takes seconds
            {
                var a3 = Time(() => { using var m = PathRepair.MonotoniseMaxMin(path.reshape(1, 14, -1)); }, Math.Min(r, 10));
                add($"monotonise/algorithm1-maxmin-tensor/{shape}", a3.Wall, "ms", $"the device form (max–min formula) run as CPU tensor ops, 1 thread, wall median of {Math.Min(r, 10)}", 1);
            }
            var f1 = Time(() => { using var m = PathRepair.Repair(path); }, r);
            add($"repair/full/{shape}", f1.Cpu, "ms", $"Algorithm 1 + clamp + Lemma 7 (PathRepair.Repair), thread CPU time, median of {r} (wall {f1.Wall:F3} ms)", 1);
            var f0 = Time(() => { using var m = Previous.Repair(path); }, r);
            add($"repair/full-previous/{shape}", f0.Cpu, "ms", $"the previous tensor wrapper (managed round trip, per-call 14·{size}² scratch allocation) around the current kernel, thread CPU time, median of {r} (wall {f0.Wall:F3} ms)", 1);
            foreach (var threads in new[] { 1, 2 })
            {
                torch.set_num_threads(threads);
                var mid = Time(() => { using var m = PathRepair.MonotoniseMidpoint(path); }, r);
                add($"monotonise/midpoint/{shape}/{threads}-thread", mid.Wall, "ms", $"running midpoint (tensor ops), wall median of {r}", threads);
            }
            torch.set_num_threads(defaultThreads);
        }
        if (s.Device.type == DeviceType.CUDA)
        {
            var gen = new Generator(7, CPU);
            var path = (rand(new long[] { 16, 14, 64 * 64 }, generator: gen) * 1.4 - 0.2).to(s.Device);
            var g = Time(() => { using var m = PathRepair.RepairMany(path); cuda.synchronize(s.Device); }, reps);
            add("repair/full-device/16x14x64x64", g.Wall, "ms", $"RepairMany on the device for 16 paths (8 straddling pairs), synchronised, wall median of {reps}");
        }
    }

    // ------------------------------------------------------------------ ablation paths

    static void AblationPaths(Settings s, Adder add, int defaultThreads)
    {
        var device = s.Device;
        // The embedded default model: fashion-cnn (trained weights in assets/), 128×128 input, 64×64 masks.
        using (var fashion = ModelRegistry.Load("fashion-cnn").To(device))
        {
            var (H, W) = fashion.InputSize ?? (128, 128);
            using var image = StandInCnn.SyntheticImage(fashion.Channels, H, W, seed: 1).to(device);
            int cls = fashion.Predict(image).Class;
            var o = new AblationPathOptions { MaskSize = 64, BaselineSigma = 8, SynchronisedTimings = true };
            int n = s.Quick ? 10 : 100;
            PathTimings(fashion, image, cls, o with { MinIterations = n, MaxIterations = n }, "fashion-cnn", $"14×64×64 masks, 128×128 input, {n} iterations", add, 100.0 / n);
            if (device.type == DeviceType.CPU)
            {
                int k = s.Quick ? 5 : 20;
                foreach (var threads in new[] { 1, 2 })
                {
                    torch.set_num_threads(threads);
                    using var warm = AblationPath.Optimise(fashion, image, cls, o with { MinIterations = 2, MaxIterations = 2 });
                    using var r = AblationPath.Optimise(fashion, image, cls, o with { MinIterations = k, MaxIterations = k });
                    add($"ablation-path/fashion-cnn/per-iteration/{threads}-thread", r.Timings.PerIterationMs, "ms", $"{k} iterations", threads);
                }
                torch.set_num_threads(defaultThreads);
            }
            // Batched throughput: B images in one run vs one at a time, same iterations.
            int B = 8, it = s.Quick ? 5 : 20;
            var imgs = Enumerable.Range(0, B).Select(i => StandInCnn.SyntheticImage(fashion.Channels, H, W, seed: 10 + i).to(device)).ToArray();
            var items = imgs.Select(x => (x, fashion.Predict(x).Class)).ToArray();
            var ob = o with { MinIterations = it, MaxIterations = it, SynchronisedTimings = false };
            foreach (var r in AblationPath.OptimiseMany(fashion, items.Take(2).ToArray(), ob with { MinIterations = 2, MaxIterations = 2 })) r.Dispose();
            var proc = Process.GetCurrentProcess();
            var sw = Stopwatch.StartNew();
            var cpu0 = proc.TotalProcessorTime;
            foreach (var (x, c) in items) using (AblationPath.Optimise(fashion, x, c, ob)) { }
            double seq = sw.Elapsed.TotalSeconds;
            proc.Refresh();
            double seqCpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
            sw.Restart();
            cpu0 = proc.TotalProcessorTime;
            foreach (var r in AblationPath.OptimiseMany(fashion, items, ob)) r.Dispose();
            double bat = sw.Elapsed.TotalSeconds;
            proc.Refresh();
            double batCpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
            sw.Restart();
            cpu0 = proc.TotalProcessorTime;
            foreach (var r in AblationPath.OptimiseMany(fashion, items, ob with { BatchSize = 14 })) r.Dispose();
            double chunked = sw.Elapsed.TotalSeconds;
            proc.Refresh();
            double chunkedCpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
            add("ablation-path/fashion-cnn/throughput/batched-8-chunks-of-14", B / chunked, "images/s", $"{B} images in one OptimiseMany with BatchSize 14 (one path's masks per classifier call), {it} iterations each ({seq / chunked:F2}× the sequential rate); wall {chunked:F1} s, process CPU {chunkedCpu:F1} s");
            add("ablation-path/fashion-cnn/throughput/sequential", B / seq, "images/s", $"{B} images one at a time, {it} iterations each, baseline σ 8 px; wall {seq:F1} s, process CPU {seqCpu:F1} s");
            add("ablation-path/fashion-cnn/throughput/batched-8", B / bat, "images/s", $"{B} images in one OptimiseMany, {it} iterations each ({seq / bat:F2}× the sequential rate); wall {bat:F1} s, process CPU {batCpu:F1} s");
            foreach (var x in imgs) x.Dispose();
        }
        // ResNet50 with random weights (the thesis' classifier size), 224×224, 14×64×64 masks.
        using (var resnet = StandInCnn.Create("resnet50").To(device))
        {
            using var image = StandInCnn.SyntheticImage(3, 224, 224, seed: 1).to(device);
            int cls = resnet.Predict(image).Class;
            int n = s.ResNetIterations ?? (device.type == DeviceType.CUDA ? 100 : s.Quick ? 2 : 4);
            var o = new AblationPathOptions { MaskSize = 64, BaselineSigma = 8, SynchronisedTimings = true, MinIterations = n, MaxIterations = n };
            PathTimings(resnet, image, cls, o, "resnet50-random", $"14×64×64 masks, 224×224 input, {n} iterations", add, 100.0 / n);
        }
    }

    static void PathTimings(Classifier model, Tensor image, int cls, AblationPathOptions o, string name, string note, Adder add, double per100Factor)
    {
        using (AblationPath.Optimise(model, image, cls, o with { MinIterations = 2, MaxIterations = 2 })) { }
        using var r = AblationPath.Optimise(model, image, cls, o);
        var t = r.Timings;
        double per = t.PerIterationMs;
        add($"ablation-path/{name}/per-iteration", per, "ms", note + $"; forward+backward {t.ForwardBackwardMs / t.Iterations:F2} ms, repair {t.RepairMs / t.Iterations:F2} ms, rest {t.OtherMs / t.Iterations:F2} ms");
        add($"ablation-path/{name}/per-100-iterations", per * 100 / 1000, "s", per100Factor == 1 ? "measured" : $"extrapolated from {t.Iterations} iterations");
        add($"ablation-path/{name}/repair-share", 100 * t.RepairMs / (t.ForwardBackwardMs + t.RepairMs + t.OtherMs), "%", "repair / iteration");
        add($"ablation-path/{name}/bookkeeping-share", 100 * (t.RepairMs + t.OtherMs) / (t.ForwardBackwardMs + t.RepairMs + t.OtherMs), "%", "(repair + everything but the network) / iteration");
    }

    // ------------------------------------------------------------------ SIFT, denoisers, other methods

    static void Sift(Settings s, Adder add)
    {
        using var scope = NewDisposeScope();
        var photo = Assets.Exists("photos/README.md") || Directory.Exists(Assets.PathOf("photos"))
            ? Directory.GetFiles(Assets.PathOf("photos")).Where(f => f.EndsWith(".jpg") || f.EndsWith(".png")).OrderBy(f => f).FirstOrDefault() : null;
        var img = photo is not null ? ImageIO.Load(photo) : StandInCnn.SyntheticImage(3, 224, 224, 3);
        img = nn.functional.interpolate(img.unsqueeze(0), new long[] { 224, 224 }, mode: InterpolationMode.Bilinear, align_corners: false)[0];
        int reps = s.Quick ? 2 : 5;
        SiftFeatureBasis? basis = null;
        var b = Time(() => { basis?.Dispose(); basis = SiftFeatureBasis.Build(img); }, reps);
        var (bv, bh) = Robust(b);
        add("sift/build/224x224", bv, "ms", $"SiftFeatureBasis.Build on {(photo is null ? "a synthetic image" : Path.GetFileName(photo))} resized to 224², {basis!.K} keypoints, {bh}, median of {reps}");
        if (s.Device.type == DeviceType.CUDA) basis.To(s.Device);
        var gen = new Generator(3, CPU);
        var masks = rand(new long[] { 14, basis.K }, generator: gen).to(s.Device);
        var d = Time(() => { using var x = basis.Render(masks); if (s.Device.type == DeviceType.CUDA) cuda.synchronize(s.Device); }, s.Quick ? 5 : 20);
        var (dv, dh) = s.Device.type == DeviceType.CUDA ? (d.Wall, "wall time, synchronised") : Robust(d);
        add("sift/decode/14-masks", dv, "ms", $"Render of 14 cell masks [14,{basis.K}] → [14,3,224,224], {dh}, median");
        basis.Dispose();
    }

    // The two nets at equal options, timed side by side in one process: each repetition runs one Cartesian step, then
    // one spiral step, so that both see the same machine load; medians of each and of the per-pair ratios.
    static void DenoiserRatio(Settings s, Adder add)
    {
        var settings = new List<(string Name, int Size, int Batch, DenoiserOptions Options, int Reps, string What)>
        {
            ("", 64, 8, new DenoiserOptions(), s.Quick ? 7 : 15, "default options (depth 5, width 32, 3×3)"),
            ("nb07-demo/", 32, 8, new DenoiserOptions { Depth = 4, Width = 12, KernelSize = 5 }, s.Quick ? 7 : 15, "notebook 07 demo architecture (depth 4, width 12, 5×5)"),
        };
        if (!s.Quick) settings.Add(("nb07-full/", 64, 16, new DenoiserOptions { Depth = 6, Width = 32, KernelSize = 5 }, 5, "notebook 07 full architecture (depth 6, width 32, 5×5)"));
        foreach (var (prefix, size, batch, options, reps, what) in settings)
        {
            using var scope = NewDisposeScope();
            var gen = new Generator(5, CPU);
            var x = rand(new long[] { batch, 1, size, size }, generator: gen).to(s.Device);
            // The radial prior needs a mean image [n,n]: the batch's own stands in for it.
            var radial = RadialMean.FromClean(x);
            var kinds = new[] { DenoiserKind.Cartesian, DenoiserKind.Spiral };
            var steps = kinds.Select(kind =>
            {
                var net = Denoisers.Create(kind, size, options, radial, new Generator(6, CPU));
                net.to(s.Device);
                var opt = optim.Adam(net.parameters(), 1e-3);
                return (Action)(() =>
                {
                    using var step = NewDisposeScope();
                    opt.zero_grad();
                    var loss = nn.functional.mse_loss(net.call(x), x);
                    loss.backward();
                    opt.step();
                    if (s.Device.type == DeviceType.CUDA) cuda.synchronize(s.Device);
                });
            }).ToArray();
            foreach (var a in steps) { a(); a(); }                                   // warm-up: JIT, allocator, oneDNN primitives
            var wall = kinds.Select(_ => new List<double>()).ToArray();
            var cpu = kinds.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < reps; r++)
                for (int i = 0; i < steps.Length; i++)
                {
                    double c0 = ThreadCpuMs(); long t0 = Stopwatch.GetTimestamp();
                    steps[i]();
                    long t1 = Stopwatch.GetTimestamp(); double c1 = ThreadCpuMs();
                    wall[i].Add((t1 - t0) * 1000.0 / Stopwatch.Frequency); cpu[i].Add(c1 - c0);
                }
            var ms = new double[2]; string how = "";
            for (int i = 0; i < 2; i++)
            {
                (ms[i], how) = s.Device.type == DeviceType.CUDA ? (Median(wall[i]), "wall time, synchronised") : Robust((Median(wall[i]), Median(cpu[i])));
                add($"denoiser/{prefix}{kinds[i].ToString().ToLowerInvariant()}/train-step", ms[i], "ms",
                    $"Adam step, batch {batch}×1×{size}×{size}, {what}, {how}, median of {reps} alternating with the other net");
            }
            bool useCpu = s.Device.type != DeviceType.CUDA && torch.get_num_threads() == 1 && double.IsFinite(cpu[0][0]);
            var pairs = Enumerable.Range(0, reps).Select(r => useCpu ? cpu[1][r] / cpu[0][r] : wall[1][r] / wall[0][r]).ToList();
            add($"denoiser/{prefix}spiral-vs-cartesian-step-ratio", ms[1] / ms[0], "ratio",
                $"median spiral train step / median Cartesian train step ({(useCpu ? "thread CPU" : "wall")}), {what}; median of the {reps} per-pair ratios {Median(pairs):F3}, range {pairs.Min():F3}–{pairs.Max():F3}");
        }
    }

    static void Methods(Settings s, Adder add)
    {
        using var model = ModelRegistry.Load("fashion-cnn").To(s.Device);
        var (H, W) = model.InputSize ?? (128, 128);
        using var image = StandInCnn.SyntheticImage(model.Channels, H, W, seed: 2).to(s.Device);
        int cls = model.Predict(image).Class;
        var ig = new IntegratedGradients();
        var ti = Time(() => { using var m = ig.Explain(model, image, cls); }, s.Quick ? 1 : 3);
        var (iv, ih) = s.Device.type == DeviceType.CUDA ? (ti.Wall, "wall time") : Robust(ti);
        add("integrated-gradients/fashion-cnn/per-image", iv / 1000, "s", $"{ig.Options.Steps} steps, {ih}, median");
        var rise = new Rise(new RiseOptions { Masks = s.RiseMasks });
        var tr = Time(() => { using var m = rise.Explain(model, image, cls); }, 1);
        var (rv, rh) = s.Device.type == DeviceType.CUDA ? (tr.Wall, "wall time") : Robust(tr);
        add($"rise/fashion-cnn/per-image", rv / 1000, "s", $"{s.RiseMasks} masks{(s.RiseMasks == 8000 ? " (published default)" : " (published: 8000)")}, batch {rise.Options.BatchSize}, {rh}, one run after a warm-up");
    }

    // ------------------------------------------------------------------ output

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    /// <summary>Writes the records as a JSON array.</summary>
    public static void WriteJson(string path, IReadOnlyList<BenchRecord> records) => File.WriteAllText(path, JsonSerializer.Serialize(records, Json));

    /// <summary>Reads records written by <see cref="WriteJson"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not such a JSON array.</exception>
    public static List<BenchRecord> ReadJson(string path)
    {
        try { return JsonSerializer.Deserialize<List<BenchRecord>>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: expected the JSON array written by 'xailab bench run --json' ({e.Message})."); }
    }

    /// <summary>
    /// The README's performance table from one or more record files: one row per record name, one column per
    /// (device, machine) source, the load average and thread count beside each figure.
    /// </summary>
    public static string Markdown(IReadOnlyList<BenchRecord> records)
    {
        var sources = records.Select(r => (r.Device, r.Machine, r.Commit)).Distinct().ToList();
        var w = new StringWriter();
        w.WriteLine("| figure | " + string.Join(" | ", sources.Select((src, i) => $"{src.Device} [{i + 1}]")) + " |");
        w.WriteLine("|---|" + string.Concat(sources.Select(_ => "---|")));
        foreach (var name in records.Select(r => r.Name).Distinct())
        {
            var cells = sources.Select(src =>
            {
                var r = records.FirstOrDefault(x => x.Name == name && (x.Device, x.Machine, x.Commit) == src);
                return r is null ? "" : $"{Format(r.Value)} {r.Unit} (load {r.Load?.ToString("F1") ?? "n/a"}, {r.Threads} thr)";
            });
            w.WriteLine($"| {name} | {string.Join(" | ", cells)} |");
        }
        w.WriteLine();
        for (int i = 0; i < sources.Count; i++) w.WriteLine($"[{i + 1}] {sources[i].Device}: {sources[i].Machine}, commit {sources[i].Commit}.");
        return w.ToString();
    }

    static string Format(double v) => Math.Abs(v) >= 100 ? v.ToString("F0") : Math.Abs(v) >= 10 ? v.ToString("F1") : Math.Abs(v) >= 1 ? v.ToString("F2") : v.ToString("G3");

    // ------------------------------------------------------------------ the previous implementation, for the side-by-side figures

    /// <summary>The tensor wrappers as they were before this benchmark existed (managed round trips), kept only to be timed beside the current ones.</summary>
    static class Previous
    {
        public static Tensor Monotonise(Tensor path)
        {
            using var scope = NewDisposeScope();
            long T = path.shape[0];
            var flat = path.detach().reshape(T, -1).contiguous().cpu();
            var a = flat.to_type(ScalarType.Float32).data<float>().ToArray();
            PathRepair.MonotoniseColumnsSweep<float>(a, (int)T, (int)flat.shape[1]);
            return tensor(a, flat.shape).to_type(path.dtype).reshape(path.shape).to(path.device).MoveToOuterDisposeScope();
        }

        public static Tensor Repair(Tensor path)
        {
            using var scope = NewDisposeScope();
            long T = path.shape[0];
            var flat = path.detach().reshape(T, -1).contiguous().cpu();
            var a = flat.to_type(ScalarType.Float32).data<float>().ToArray();
            var scratch = a.ToArray(); // the previous pass copied the monotonised rows into a fresh array on every call
            GC.KeepAlive(scratch);
            PathRepair.RepairInPlace<float>(a, (int)T, (int)flat.shape[1]);
            return tensor(a, flat.shape).to_type(path.dtype).reshape(path.shape).to(path.device).MoveToOuterDisposeScope();
        }
    }
}
