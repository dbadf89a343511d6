using System.CommandLine;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab bench-methods --model NAME [--images N] [--methods a,b] [--iterations K]</c>: seconds per image of each saliency
/// method, with the machine (cores, torch threads, device). <c>--model random-cnn</c> uses a randomly initialised small CNN
/// at 128×128 (a timing stand-in, not a trained model) on seeded random images; a registered model uses the first images
/// of its dataset when available, else seeded random images.
/// </summary>
public static class BenchMethodsCommand
{
    public const string StandIn = "random-cnn";

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = $"Model registry name, or '{StandIn}' (random small CNN, 128×128)", Required = true };
        var images = new Option<int>("--images") { Description = "Images to time per method", DefaultValueFactory = _ => 3 };
        var methods = new Option<string?>("--methods") { Description = $"Comma-separated methods (default all: {string.Join(", ", SaliencyMethods.Names)})" };
        var iterations = new Option<int?>("--iterations") { Description = "Override the iteration count of the optimisation methods (meaningful/extremal perturbation) to time a shorter run" };
        var device = new Option<string?>("--device") { Description = "cpu, cuda or cuda:N (default: $XAILAB_DEVICE or cpu)" };
        var cmd = new Command("bench-methods", "Time each saliency method per image on one model.") { model, images, methods, iterations, device };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            int n = parse.GetValue(images);
            if (n <= 0) throw new UserError($"--images must be positive; got {n}.");
            var names = (parse.GetValue(methods) ?? string.Join(",", SaliencyMethods.Names)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var iters = parse.GetValue(iterations);
            if (iters is <= 0) throw new UserError($"--iterations must be positive; got {iters}.");
            var ms = names.Select(name => SaliencyMethods.Create(name) switch
            {
                MeaningfulPerturbation mp when iters is { } k => new MeaningfulPerturbation(mp.Options with { Iterations = k }),
                ExtremalPerturbation ep when iters is { } k => (XaiLab.Saliency.ISaliencyMethod)new ExtremalPerturbation(ep.Options with { Iterations = k }),
                var m => m,
            }).ToArray();
            var name = parse.GetValue(model)!;
            using var clf = name.Equals(StandIn, StringComparison.OrdinalIgnoreCase) ? MethodBenchmark.RandomSmallCnn() : ModelRegistry.Load(name);
            var dev = parse.GetValue(device) ?? Environment.GetEnvironmentVariable(Devices.EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(dev)) clf.To(Devices.Resolve(dev));
            var inputs = Inputs(clf, name, n);
            try
            {
                var r = MethodBenchmark.Run(clf, ms, inputs, Console.WriteLine);
                Console.WriteLine($"model {r.Model}, {r.Height}×{r.Width}, device {r.Device}, {r.Cores} cores, {r.TorchThreads} torch threads, {n} image(s) per method");
                Console.WriteLine($"{"method",-24} {"mean s",9} {"min s",9} {"max s",9}  parameters");
                foreach (var t in r.Timings) Console.WriteLine($"{t.Method,-24} {t.MeanSeconds,9:F3} {t.MinSeconds,9:F3} {t.MaxSeconds,9:F3}  {t.Parameters}");
                return 0;
            }
            finally { foreach (var (img, _) in inputs) img.Dispose(); }
        }));
        return cmd;
    }

    static List<(Tensor, int)> Inputs(Classifier clf, string modelName, int n)
    {
        var (h, w) = clf.InputSize ?? (128, 128);
        var list = new List<(Tensor, int)>();
        if (!modelName.Equals(StandIn, StringComparison.OrdinalIgnoreCase))
        {
            var entry = ModelRegistry.Get(modelName);
            var ds = DatasetRegistry.All.FirstOrDefault(d => d.Name.Equals(entry.Dataset, StringComparison.OrdinalIgnoreCase));
            if (ds is not null && ds.IsAvailable())
            {
                var data = ds.Open("test");
                for (int i = 0; i < Math.Min(n, data.Count); i++)
                {
                    using var scene = data.Get(i);
                    var img = nn.functional.interpolate(scene.Image.unsqueeze(0).to_type(ScalarType.Float32), new long[] { h, w },
                        mode: InterpolationMode.Bilinear, align_corners: false)[0].DetachFromDisposeScope();
                    list.Add((img, scene.Classes.Count > 0 ? scene.Classes[0] : clf.Predict(img).Class));
                }
            }
        }
        using var gen = new Generator(0, CPU);
        while (list.Count < n)
        {
            var img = rand(new long[] { clf.Channels, h, w }, generator: gen).DetachFromDisposeScope();
            list.Add((img, clf.Predict(img).Class));
        }
        return list;
    }
}
