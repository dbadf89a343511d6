using System.CommandLine;
using XaiLab.Imaging.Models;

namespace XaiLab.Cli;

/// <summary>
/// The <c>xailab train</c> group:
/// <list type="bullet">
/// <item><c>xailab train classifier --model NAME [--epochs N] [--scenes N] [--batch B] [--seed S] [--threads T] [--lr η]
/// [--test-scenes N] [--init FILE] [--first-scene I] [--device D] [--out FILE]</c>: trains one of the Fashion models
/// (128 px) or of the 224-px models (<see cref="SceneModels"/>, e.g. <c>fashion-resnet-224</c>, stored as fp16) on scenes
/// generated on the fly (needs the Debian Fashion-MNIST, data-scripts/prepare-fashion.sh), evaluates it on the test split
/// and writes <c>assets/models/NAME.dat</c> plus a JSON record <c>NAME.json</c>.</item>
/// <item><c>xailab train resnet18-head …</c>: the linear head of <c>fashion-resnet18</c> (<see cref="TrainResNet18Command"/>).</item>
/// </list>
/// The old spelling <c>xailab train --model NAME …</c> (no subcommand) still trains the classifier:
/// <see cref="CliApp.Canonical"/> reads it as <c>train classifier …</c>.
/// </summary>
public static class TrainCommand
{
    /// <summary>The <c>train</c> command group with its subcommands <c>classifier</c> and <c>resnet18-head</c>.</summary>
    public static Command Create()
    {
        return new Command("train", "Train models: a Fashion-scene classifier from scratch (classifier), the linear head of fashion-resnet18 (resnet18-head).")
            { ClassifierCommand(), TrainResNet18Command.Create() };
    }

    /// <summary><c>train classifier --model NAME …</c>: one Fashion-scene model from scratch.</summary>
    static Command ClassifierCommand()
    {
        var names = FashionModels.All.Select(s => s.Name).Concat(SceneModels.All.Select(s => s.Name)).ToArray();
        var model = CliOptions.Model($"One of: {string.Join(", ", names)}.");
        var epochs = CliOptions.Int("--epochs", "Epochs (default 3).", min: 1);
        var scenes = CliOptions.Int("--scenes", "Fresh training scenes per epoch (default 8000).", min: 1, what: "a positive number of scenes");
        var batch = CliOptions.Int("--batch", "Scenes per optimisation step (default 32).", min: 1);
        var seed = CliOptions.Int("--seed", "Seed of initialisation and batch order (default 0).", min: 0);
        var threads = CliOptions.Threads();
        var lr = CliOptions.Double("--lr", "Peak learning rate (default 0.002, cosine decay).", "a number > 0");
        var testScenes = CliOptions.Int("--test-scenes", "Test scenes of the final held-out figure (default 2000).", min: 1, what: "a positive number of scenes");
        var init = new Option<string?>("--init") { Description = "Continue from these weights (e.g. assets/models/NAME.dat)." };
        var firstScene = CliOptions.Int("--first-scene", "First training scene index (a continued run starts after the earlier run's scenes; default 0).", min: 0);
        var outFile = CliOptions.OptionalOut("Weights file (default assets/models/NAME.dat).");
        var device = CliOptions.Device();
        var cmd = new Command("classifier", "Train a Fashion-scene model (128 px, or 224 px stored as fp16) and save its weights.")
            { model, epochs, scenes, batch, seed, threads, lr, testScenes, init, firstScene, outFile, device };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var name = parse.GetValue(model)!;
            if (parse.GetValue(lr) is { } rate && !(rate > 0)) throw new UserError($"--lr '{rate}': expected a number > 0.");
            var deep = SceneModels.Find(name);
            var spec = deep is null ? FashionModels.Spec(name) : null;
            var o = new FashionTrainingOptions { Seed = (ulong)(parse.GetValue(seed) ?? 0), InitialWeights = parse.GetValue(init), FirstScene = parse.GetValue(firstScene) ?? 0 };
            if (parse.GetValue(epochs) is { } e) o = o with { Epochs = e };
            if (parse.GetValue(scenes) is { } s) o = o with { ScenesPerEpoch = s };
            if (parse.GetValue(batch) is { } bs) o = o with { BatchSize = bs };
            if (parse.GetValue(threads) is { } t) o = o with { Threads = t };
            if (parse.GetValue(lr) is { } l) o = o with { LearningRate = l };
            if (CliOptions.DeviceName(parse, device) is { } d) o = o with { Device = d };
            if (parse.GetValue(testScenes) is { } ts) o = o with { TestScenes = ts, ValScenes = Math.Min(o.ValScenes, ts) };
            Action<string> log = line => Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}");
            if (deep is not null)
            {
                var d2 = SceneTraining.Train(deep, o, log, parse.GetValue(outFile));
                Console.WriteLine($"{d2.Model}: test {d2.Test.Metric} {d2.Test.Value:0.0000} ({d2.Test.Images} scenes, fp16 weights), {d2.Parameters} parameters, " +
                                  $"{d2.WeightBytes / 1024.0:0} KiB, trained in {d2.TrainSeconds / 60:0.0} min on {d2.Device}");
                return 0;
            }
            var r = FashionTraining.Train(spec!, o, log, parse.GetValue(outFile));
            Console.WriteLine($"{r.Model}: test {r.Metric} {r.Test.Value:0.0000} ({r.Test.Images} scenes), {r.Parameters} parameters, " +
                              $"{r.WeightBytes / 1024.0:0} KiB, trained in {r.TrainSeconds / 60:0.0} min");
            return 0;
        }));
        return cmd;
    }
}
