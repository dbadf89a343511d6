using System.CommandLine;
using XaiLab.Imaging.Models;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab train resnet18-head [--scenes N] [--side S] [--steps N] [--val-scenes N] [--test-scenes N] [--l2 A,B,…] [--seed S] [--threads T] [--cache DIR] [--out FILE]</c>
/// (old spelling <c>xailab train-resnet18</c>, see <see cref="CliApp.Canonical"/>):
/// trains the linear head of <c>fashion-resnet18</c> on frozen ImageNet ResNet18 features of Fashion scenes (needs the
/// Debian Fashion-MNIST and the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18), evaluates it on the test split
/// and writes <c>assets/models/fashion-resnet18-head.dat</c> plus the JSON record <c>fashion-resnet18-head.json</c>.
/// </summary>
public static class TrainResNet18Command
{
    /// <summary>The <c>resnet18-head</c> subcommand of <c>train</c>.</summary>
    public static Command Create()
    {
        var scenes = CliOptions.Int("--scenes", "Train scenes whose backbone features are computed (default 10000).", min: 1, what: "a positive number of scenes");
        var side = CliOptions.Int("--side", "Side the backbone sees; scenes are upsampled when > 128 (default 128; the registered model uses 128).", min: 1, what: "a positive number of pixels");
        var steps = CliOptions.Int("--steps", "Full-batch optimisation steps of the head per L2 strength (default 600).", min: 1);
        var valScenes = CliOptions.Int("--val-scenes", "Validation scenes that pick the L2 strength (default 1000).", min: 1, what: "a positive number of scenes");
        var testScenes = CliOptions.Int("--test-scenes", "Test scenes of the held-out figure (default 2000).", min: 1, what: "a positive number of scenes");
        var l2 = new Option<string?>("--l2") { Description = "Comma-separated L2 strengths to try (default 0.001,0.003,0.01,0.03,0.1,0.3)." };
        var seed = CliOptions.Int("--seed", "Seed of the head's initialisation (default 0).");
        var threads = CliOptions.Threads();
        var cache = new Option<string?>("--cache") { Description = "Folder caching the computed features between runs (default: none)." };
        var outFile = CliOptions.OptionalOut($"Head file (default assets/{FashionResNet18.HeadFile}).");
        var cmd = new Command("resnet18-head", "Train the linear head of fashion-resnet18 (frozen ImageNet ResNet18 backbone) on Fashion scenes.")
            { scenes, side, steps, valScenes, testScenes, l2, seed, threads, cache, outFile };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var o = new FashionResNet18Options { Seed = parse.GetValue(seed) ?? 0, FeatureCache = parse.GetValue(cache) };
            if (parse.GetValue(scenes) is { } n) o = o with { TrainScenes = n };
            if (parse.GetValue(side) is { } s) o = o with { BackboneSide = s };
            if (parse.GetValue(steps) is { } st) o = o with { Steps = st };
            if (parse.GetValue(l2) is { } grid)
                o = o with { L2Grid = grid.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(v => double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d
                        : throw new UserError($"--l2 '{v}': expected comma-separated numbers, e.g. 0.001,0.01,0.1.")).ToArray() };
            if (parse.GetValue(valScenes) is { } vs) o = o with { ValScenes = vs };
            if (parse.GetValue(testScenes) is { } ts) o = o with { TestScenes = ts };
            if (parse.GetValue(threads) is { } t) o = o with { Threads = t };
            var r = FashionResNet18.Train(o, line => Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}"), parse.GetValue(outFile));
            Console.WriteLine($"{r.Model}: test accuracy {r.Test.Value:0.0000} ({r.Test.Images} scenes), L2 {r.ChosenL2}, head {r.HeadBytes} bytes, " +
                              $"features {r.FeatureSeconds / 60:0.0} min, head {r.HeadSeconds:0} s, total {r.TotalSeconds / 60:0.0} min, " +
                              $"forward+backward {r.ForwardBackwardMsPerImage:0} ms/image (batch 14, 128 px)");
            return 0;
        }));
        return cmd;
    }
}
