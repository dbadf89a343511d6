using System.CommandLine;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab bench methods --model NAME [--images N] [--methods a,b] [--iterations K]</c> (old spelling
/// <c>xailab bench-methods</c>, see <see cref="CliApp.Canonical"/>): seconds per image of each saliency
/// method, with the machine (cores, torch threads, device). <c>--model random-cnn</c> uses a randomly initialised small CNN
/// at 128×128 (a timing stand-in, not a trained model) on seeded random images; a registered model uses the first images
/// of its dataset when available, else seeded random images.
/// </summary>
public static class BenchMethodsCommand
{
    /// <summary>The <c>--model</c> value that selects the random-init small CNN (128×128) instead of a registered model.</summary>
    public const string StandIn = "random-cnn";

    /// <summary>The <c>methods</c> subcommand of <c>bench</c>.</summary>
    public static Command Create()
    {
        var model = CliOptions.Model($"Model registry name, or '{StandIn}' (random small CNN, 128×128)");
        var images = CliOptions.Int("--images", "Images to time per method (default 3)", min: 1, what: "a positive number of images");
        var methods = new Option<string?>("--methods") { Description = $"Comma-separated methods (default one per method: {string.Join(", ", SaliencyMethods.PrimaryNames)}; all: {string.Join(", ", SaliencyMethods.Names)})" };
        var methodOption = CliOptions.MethodOption();
        var iterations = CliOptions.Int("--iterations", "Shorthand for --method-option iterations=K: the iteration count of the methods that have one (meaningful/extremal perturbation), to time a shorter run", min: 1);
        var device = CliOptions.Device();
        var cmd = new Command("methods", "Time each saliency method per image on one model.") { model, images, methods, methodOption, iterations, device };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            int n = parse.GetValue(images) ?? 3;
            var names = parse.GetValue(methods) is { } list ? CliOptions.List(list) : SaliencyMethods.PrimaryNames.ToArray();
            var settings = CliOptions.ParseMethodSettings(parse.GetValue(methodOption)).ToList();
            if (parse.GetValue(iterations) is { } k) settings.Insert(0, new CliOptions.MethodSetting(null, "Iterations", k.ToString(System.Globalization.CultureInfo.InvariantCulture), $"--iterations {k}"));
            var ms = CliOptions.Methods(names, settings);
            var name = parse.GetValue(model)!;
            var dev = CliOptions.ResolveDevice(parse, device);
            using var clf = (name.Equals(StandIn, StringComparison.OrdinalIgnoreCase) ? MethodBenchmark.RandomSmallCnn() : ModelRegistry.Load(name)).To(dev);
            var inputs = Inputs(clf, name, n);
            try
            {
                var r = MethodBenchmark.Run(clf, ms, inputs, Console.WriteLine);
                Console.WriteLine($"model {r.Model}, {r.Height}×{r.Width}, device {r.Device}, {r.Cores} cores, {r.TorchThreads} torch threads, {n} image(s) per method");
                Console.WriteLine($"{"method",-28} {"mean s",9} {"min s",9} {"max s",9}  parameters");
                foreach (var t in r.Timings) Console.WriteLine($"{t.Method,-28} {t.MeanSeconds,9:F3} {t.MinSeconds,9:F3} {t.MaxSeconds,9:F3}  {t.Parameters}");
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
                    var img = Resize.ToModel(scene.Image, clf).DetachFromDisposeScope();
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
