using System.CommandLine;
using XaiLab.Imaging.Models;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab train --model NAME [--epochs N] [--scenes N] [--batch B] [--seed S] [--threads T] [--out FILE]</c>: trains one of the
/// Fashion models (128 px) or of the 224-px models (<see cref="SceneModels"/>, e.g. <c>fashion-resnet-224</c>, stored as fp16) on
/// scenes generated on the fly (needs the Debian Fashion-MNIST, data-scripts/prepare-fashion.sh), evaluates it on the test
/// split and writes <c>assets/models/NAME.dat</c> plus a JSON record <c>NAME.json</c>.
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = $"One of: {string.Join(", ", FashionModels.All.Select(s => s.Name).Concat(SceneModels.All.Select(s => s.Name)))}.", Required = true };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs (default 3)." };
        var scenes = new Option<int?>("--scenes") { Description = "Fresh training scenes per epoch (default 8000)." };
        var batch = new Option<int?>("--batch") { Description = "Scenes per optimisation step (default 32)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of initialisation and batch order (default 0)." };
        var threads = new Option<int?>("--threads") { Description = "torch threads (default 2)." };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (default 0.002, cosine decay)." };
        var testScenes = new Option<int?>("--test-scenes") { Description = "Test scenes of the final held-out figure (default 2000)." };
        var init = new Option<string?>("--init") { Description = "Continue from these weights (e.g. assets/models/NAME.dat)." };
        var firstScene = new Option<int>("--first-scene") { Description = "First training scene index (a continued run starts after the earlier run's scenes)." };
        var outFile = new Option<string?>("--out") { Description = "Weights file (default assets/models/NAME.dat)." };
        var device = new Option<string?>("--device") { Description = "cpu (default), cuda or cuda:N" };
        var cmd = new Command("train", "Train a Fashion-scene model and save its weights.") { model, epochs, scenes, batch, seed, threads, lr, testScenes, init, firstScene, outFile, device };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var name = parse.GetValue(model)!;
            var deep = SceneModels.Find(name);
            var spec = deep is null ? FashionModels.Spec(name) : null;
            var o = new FashionTrainingOptions { Seed = parse.GetValue(seed), InitialWeights = parse.GetValue(init), FirstScene = parse.GetValue(firstScene) };
            if (parse.GetValue(epochs) is { } e) o = o with { Epochs = e };
            if (parse.GetValue(scenes) is { } s) o = o with { ScenesPerEpoch = s };
            if (parse.GetValue(batch) is { } bs) o = o with { BatchSize = bs };
            if (parse.GetValue(threads) is { } t) o = o with { Threads = t };
            if (parse.GetValue(lr) is { } l) o = o with { LearningRate = l };
            if (parse.GetValue(device) is { } d) o = o with { Device = d };
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
