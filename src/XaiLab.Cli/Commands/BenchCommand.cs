using System.CommandLine;
using System.Diagnostics;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Cli;

/// <summary>
/// The <c>xailab bench</c> group:
/// <list type="bullet">
/// <item><c>xailab bench run [--json FILE] [--markdown] [--quick] [--resnet-iterations N] [--rise-masks N] [--device D]</c>:
/// every record of the README performance table (<see cref="BenchSuite"/>).</item>
/// <item><c>xailab bench methods --model NAME …</c>: seconds per image of each saliency method (<see cref="BenchMethodsCommand"/>).</item>
/// <item><c>xailab bench ablation-path [--mask-size 32] [--steps 14] [--iterations N] [--device cpu|cuda] [--model NAME]</c>:
/// times the ablation-path optimisation and splits each iteration into classifier forward+backward, repair
/// (monotonisation + clamp + constant speed) and the rest. Without <c>--model</c> it runs on the
/// <see cref="StandInCnn"/> (a RANDOM-INIT stand-in of realistic size, clearly labelled as such in the output).</item>
/// <item><c>xailab bench table FILE…</c>: the README performance table (markdown) from <c>bench run --json</c> files.</item>
/// </list>
/// The old spelling <c>xailab bench [--json FILE] …</c> (no subcommand) still runs the records: <see cref="CliApp.Canonical"/>
/// reads it as <c>bench run …</c>.
/// </summary>
public static class BenchCommand
{
    /// <summary>The <c>bench</c> command group with its subcommands <c>run</c>, <c>methods</c>, <c>ablation-path</c> and <c>table</c>.</summary>
    public static Command Create()
    {
        return new Command("bench", "Benchmarks: the performance-table records (run), saliency methods per image (methods), " +
                                    "one ablation path (ablation-path), the README table from JSON records (table).")
            { RunCommand(), BenchMethodsCommand.Create(), AblationPathCommand(), TableCommand() };
    }

    /// <summary><c>bench run</c>: every record of the performance table (<see cref="BenchSuite.Run"/>).</summary>
    static Command RunCommand()
    {
        var json = new Option<string?>("--json") { Description = "Write the records {name, value, unit, device, machine, commit, load, threads, note} to this JSON file" };
        var markdown = new Option<bool>("--markdown") { Description = "Print the README performance table of the records at the end" };
        var quick = new Option<bool>("--quick") { Description = "Fewer iterations and repeats (a smoke run; the record notes say so)" };
        var resnetIterations = CliOptions.Int("--resnet-iterations", "Iterations timed for the ResNet50 path (default: 100 on CUDA, 4 on the CPU — then the per-100 figure is extrapolated)", min: 1);
        var riseMasks = CliOptions.Int("--rise-masks", "RISE masks per image (8000 is the published value)", defaultValue: 8000, min: 1, what: "a positive number of masks");
        var device = CliOptions.Device();
        var cmd = new Command("run", "Every record of the performance table (ablation paths, repair, batching, SIFT, denoisers, IG, RISE).")
            { json, markdown, quick, resnetIterations, riseMasks, device };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var d = CliOptions.ResolveDevice(parse, device);
            var path = parse.GetValue(json);
            var settings = new BenchSuite.Settings(d, parse.GetValue(quick), parse.GetValue(resnetIterations), parse.GetValue(riseMasks));
            var records = BenchSuite.Run(settings, Console.Out);
            if (path is not null) { BenchSuite.WriteJson(path, records); Console.WriteLine($"wrote {records.Count} records to {path}"); }
            if (parse.GetValue(markdown)) Console.Write(BenchSuite.Markdown(records));
            return 0;
        }));
        return cmd;
    }

    /// <summary><c>bench ablation-path</c>: one timed ablation-path optimisation and the repair micro-benchmark.</summary>
    static Command AblationPathCommand()
    {
        var saturation = CliOptions.Double("--saturation", "Artificial saturation ζ_sat (Eq 2.26; the thesis uses values below 1)", defaultValue: 0, what: "a number ≥ 0", min: 0);
        var maskSize = CliOptions.Int("--mask-size", "Mask resolution", defaultValue: 32, min: 1);
        var steps = CliOptions.Int("--steps", "Interior masks T", defaultValue: 14, min: 1);
        var iterations = CliOptions.Int("--iterations", "Run exactly N iterations (default: the thesis stopping rule, 6..100)", min: 1);
        var device = CliOptions.Device();
        var model = CliOptions.OptionalModel("Registry model name (default: a random-init stand-in, see --standin)");
        var standin = new Option<string>("--standin") { Description = "Random-init stand-in when no --model: small (4 conv, 3×128×128) or resnet50 (torchvision ResNet50, 3×224×224, the thesis' classifier size)", DefaultValueFactory = _ => "small" };
        var repeats = CliOptions.Int("--repair-repeats", "Repetitions of the isolated repair micro-benchmark", defaultValue: 200, min: 1);
        var ap = new Command("ablation-path", "Time one ablation-path optimisation: forward+backward vs repair vs the rest.")
            { maskSize, steps, iterations, device, model, standin, repeats, saturation };
        ap.SetAction(parse => CommandBody.Guard(() =>
        {
            var d = CliOptions.ResolveDevice(parse, device);
            var name = parse.GetValue(model);
            var o = new AblationPathOptions { MaskSize = parse.GetValue(maskSize), Steps = parse.GetValue(steps), Saturation = parse.GetValue(saturation), SynchronisedTimings = true };
            if (parse.GetValue(iterations) is { } n) o = o with { MinIterations = n, MaxIterations = n };
            o.Validate();
            Run(name, d, o, parse.GetValue(repeats), Console.Out, parse.GetValue(standin)!);
            return 0;
        }));
        return ap;
    }

    /// <summary><c>bench table FILE…</c>: the markdown performance table of the records in the files.</summary>
    static Command TableCommand()
    {
        var files = new Argument<string[]>("files") { Description = "JSON files written by 'bench run --json'", Arity = ArgumentArity.OneOrMore };
        var table = new Command("table", "Print the README performance table (markdown) from one or more 'bench run --json' files (e.g. the CPU and the GPU run).") { files };
        table.SetAction(parse => CommandBody.Guard(() =>
        {
            var all = parse.GetValue(files)!.SelectMany(f => BenchSuite.ReadJson(f)).ToList();
            Console.Write(BenchSuite.Markdown(all));
            return 0;
        }));
        return table;
    }

    // The 1-minute load average (Linux): timings on a shared machine only mean something next to it.
    static string LoadAverage()
    {
        try { return File.Exists("/proc/loadavg") ? $", load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}" : ""; }
        catch (IOException) { return ""; }
    }

    /// <summary>Runs the benchmark and prints the report to <paramref name="w"/>.</summary>
    public static void Run(string? modelName, Device device, AblationPathOptions options, int repairRepeats, TextWriter w, string standin = "small")
    {
        Devices.EnsureNativeLoaded();
        using var classifier = (modelName is null ? StandInCnn.Create(standin) : ModelRegistry.Load(modelName)).To(device);
        var (H, W) = classifier.InputSize ?? (128, 128);
        using var image = StandInCnn.SyntheticImage(classifier.Channels, H, W, seed: 1).to(device);
        int cls = classifier.Predict(image).Class;
        w.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}{LoadAverage()}");
        w.WriteLine($"device: {Devices.Describe(device)}; {Devices.ThreadChoice}");
        w.WriteLine(modelName is null
            ? $"model: {StandInCnn.Describe(standin)} — RANDOM-INIT STAND-IN (timings only; its explanations mean nothing)"
            : $"model: {modelName} ({classifier.NumClasses} classes, input {classifier.Channels}×{H}×{W})");
        w.WriteLine($"path: T = {options.Steps}, masks {Math.Min(options.MaskSize, H)}×{Math.Min(options.MaskSize, W)}, score {options.Score}, ζ_sat {options.Saturation}, " +
                    $"iterations {(options.MinIterations == options.MaxIterations ? options.MaxIterations.ToString() : $"{options.MinIterations}..{options.MaxIterations} (saturation ≥ {options.SaturationTarget})")}");

        // Warm-up (JIT, libtorch allocations), then the timed run.
        using (AblationPath.Optimise(classifier, image, cls, options with { MinIterations = 2, MaxIterations = 2 })) { }
        var sw = Stopwatch.StartNew();
        using var r = AblationPath.Optimise(classifier, image, cls, options);
        sw.Stop();
        var t = r.Timings;
        double it = Math.Max(1, t.Iterations);
        double fb = t.ForwardBackwardMs / it, rep = t.RepairMs / it, rest = t.OtherMs / it, per = fb + rep + rest;
        w.WriteLine($"iterations: {t.Iterations} (stop: {r.StopReason}), baseline σ: {(r.BaselineSigma is { } s ? s + " px" : "n/a")}");
        w.WriteLine($"per iteration: {per:F2} ms = forward+backward {fb:F2} ms ({100 * fb / per:F1}%) + repair {rep:F2} ms ({100 * rep / per:F1}%) + rest {rest:F2} ms ({100 * rest / per:F1}%)");
        w.WriteLine($"after the run: {LoadAverage().TrimStart(',', ' ')}");
        w.WriteLine($"total: {sw.Elapsed.TotalMilliseconds:F0} ms (iterations {t.ForwardBackwardMs + t.RepairMs + t.OtherMs:F0} ms; baseline search, setup and final curves {sw.Elapsed.TotalMilliseconds - (t.ForwardBackwardMs + t.RepairMs + t.OtherMs):F0} ms)");

        // The repair in isolation on a random path of the same shape, both monotonisation methods.
        using var scope = NewDisposeScope();
        int h = Math.Min(options.MaskSize, H), wd = Math.Min(options.MaskSize, W);
        var gen = new Generator(7, CPU);
        var path = (rand(new long[] { options.Steps, h, wd }, generator: gen) * 1.4 - 0.2).to(device);
        foreach (var m in new[] { MonotonisationMethod.DescentFlattening, MonotonisationMethod.RunningMidpoint })
        {
            using (PathRepair.Repair(path, m)) { }
            var c = Stopwatch.StartNew();
            for (int i = 0; i < repairRepeats; i++) using (PathRepair.Repair(path, m)) { }
            if (device.type == DeviceType.CUDA) cuda.synchronize(device);
            c.Stop();
            w.WriteLine($"repair alone ({m}, [{options.Steps},{h},{wd}]): {c.Elapsed.TotalMilliseconds / repairRepeats:F3} ms");
        }
    }
}

/// <summary>
/// The benchmark's stand-in classifier: 4 conv layers (3→32→64→128→128, 3×3, stride 2, ReLU), global average
/// pooling and a linear head to 10 classes, for 3×128×128 inputs; RANDOM initialisation (seed 0). It has the size
/// of a small real CNN so that the forward+backward share of an iteration is realistic; it is not a trained model.
/// </summary>
public static class StandInCnn
{
    /// <summary>One line describing the small stand-in, printed next to every timing taken with it.</summary>
    public const string Description = "4 conv layers 3→32→64→128→128 (3×3, stride 2, ReLU) + GAP + linear(10), input 3×128×128";

    /// <summary>One line describing the stand-in <paramref name="kind"/>.</summary>
    public static string Describe(string kind) => kind == "resnet50"
        ? "torchvision ResNet50 (1000 classes, ImageNet normalisation), input 3×224×224" : Description;

    /// <summary>The stand-in <paramref name="kind"/>: <c>small</c> (<see cref="Description"/>) or <c>resnet50</c>
    /// (torchvision's ResNet50 architecture, random init, eval mode — the size of the thesis' classifier).</summary>
    public static Classifier Create(string kind, int seed = 0)
    {
        if (kind == "small") return Create(seed);
        if (kind != "resnet50") throw new UserError($"--standin '{kind}': expected small or resnet50.");
        Devices.EnsureNativeLoaded();
        manual_seed(seed);
        var net = torchvision.models.resnet50(num_classes: 1000);
        return new Classifier(net, Enumerable.Range(0, 1000).Select(i => $"class{i}").ToArray(), OutputActivation.Softmax,
            channels: 3, inputSize: (224, 224), mean: new[] { 0.485f, 0.456f, 0.406f }, std: new[] { 0.229f, 0.224f, 0.225f },
            name: "random-init ResNet50 stand-in");
    }

    /// <summary>The small stand-in (<see cref="Description"/>), weights drawn after <c>torch.manual_seed(<paramref name="seed"/>)</c>, eval mode.</summary>
    public static Classifier Create(int seed = 0)
    {
        Devices.EnsureNativeLoaded();
        var net = SeededInit.Apply(nn.Sequential(
            ("c1", nn.Conv2d(3, 32, 3, stride: 2, padding: 1)), ("r1", nn.ReLU()),
            ("c2", nn.Conv2d(32, 64, 3, stride: 2, padding: 1)), ("r2", nn.ReLU()),
            ("c3", nn.Conv2d(64, 128, 3, stride: 2, padding: 1)), ("r3", nn.ReLU()),
            ("c4", nn.Conv2d(128, 128, 3, stride: 2, padding: 1)), ("r4", nn.ReLU()),
            ("gap", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()),
            ("fc", nn.Linear(128, 10))), unchecked((ulong)(long)seed));
        return new Classifier(net, Enumerable.Range(0, 10).Select(i => $"class{i}").ToArray(), OutputActivation.Softmax,
            channels: 3, inputSize: (128, 128), name: "random-init stand-in CNN");
    }

    /// <summary>A smooth random test image <c>[C,H,W]</c> in [0,1] (seeded noise blurred with σ = 4 px).</summary>
    public static Tensor SyntheticImage(int channels, int height, int width, int seed)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)seed, CPU);
        var noise = rand(new long[] { 1, channels, height, width }, generator: gen);
        var img = XaiLab.Imaging.Filters.Gaussian.Blur(noise, 4, XaiLab.Imaging.Filters.BlurBorder.Reflect, XaiLab.Imaging.Filters.Gaussian.ScaleSpaceTruncate);
        var lo = img.min(); var hi = img.max();
        return ((img - lo) / (hi - lo + 1e-6))[0].MoveToOuterDisposeScope();
    }
}
