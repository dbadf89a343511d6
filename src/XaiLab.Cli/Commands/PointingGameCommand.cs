using System.CommandLine;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab pointing-game --dataset NAME --model NAME --methods a,b,c [--method-option [M:]K=V …] [--split S] [--limit N]
/// [--shard K/N] [--subset all|difficult] [--device D] --out DIR</c>: a resumable pointing-game run (thesis §2.7.3). Rerunning
/// the same command after an interruption (Ctrl-C, kill) continues where it stopped; a folder of another run is refused and
/// left unchanged. With <c>--shard K/N</c> only the images of shard K run (a deterministic split by scene id), and
/// <c>xailab pointing-game merge --out DIR SHARD_DIR…</c> combines the N shard folders into the summary the unsharded run writes.
/// </summary>
public static class PointingGameCommand
{
    /// <summary>The <c>pointing-game</c> command with its subcommand <c>merge</c>.</summary>
    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "Dataset registry name (see `xailab data list`)", Required = true };
        var model = CliOptions.Model();
        var methods = new Option<string>("--methods") { Description = $"Comma-separated methods (`xailab methods` lists them with their options): {string.Join(", ", SaliencyMethods.Names)}", Required = true };
        var methodOption = CliOptions.MethodOption();
        var limit = CliOptions.Int("--limit", "Only the first N images", min: 1, what: "a positive number of images");
        var shardOpt = new Option<string?>("--shard") { Description = "Run shard K of N only, K/N with 0 ≤ K < N (e.g. $SLURM_ARRAY_TASK_ID/N or $JOB_COMPLETION_INDEX/N); one --out per shard, then `pointing-game merge`" };
        var subset = new Option<string>("--subset") { Description = "Subset shown in the final table: all or difficult (both are always written)", DefaultValueFactory = _ => "all" };
        var split = new Option<string>("--split") { Description = "Dataset split", DefaultValueFactory = _ => "test" };
        var batchImages = CliOptions.Int("--batch-images", "Images whose paths the ablation-path methods optimise in one batch (default 1: the classes of one image together; e.g. 8 on a GPU)", min: 1, what: "a positive number of images");
        var device = CliOptions.Device();
        var outDir = CliOptions.Out("Output folder (run.json, results.jsonl, summary.csv, summary.json)");
        var cmd = new Command("pointing-game", "Run the pointing game (TorchRay protocol) for several saliency methods; resumable, shardable.")
            { dataset, model, methods, methodOption, limit, shardOpt, subset, split, batchImages, device, outDir };
        cmd.Subcommands.Add(MergeCommand());
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var sub = parse.GetValue(subset)!.Trim().ToLowerInvariant();
            if (sub is not ("all" or "difficult")) throw new UserError($"--subset '{parse.GetValue(subset)}': expected all or difficult.");
            var lim = parse.GetValue(limit);
            PointingGameShard? shard = parse.GetValue(shardOpt) is { } st ? PointingGameShard.Parse(st) : null;
            var ms = CliOptions.Methods(CliOptions.List(parse.GetValue(methods)), CliOptions.ParseMethodSettings(parse.GetValue(methodOption)));
            var splitName = parse.GetValue(split)!;
            var ds = DatasetRegistry.Open(parse.GetValue(dataset)!, splitName);
            if (ds.Count == 0) throw new UserError($"Dataset '{ds.Name}' has no images.");
            using (var first = ds.Get(0))
                if (first.Objects.Count == 0)
                    throw new UserError($"Dataset '{ds.Name}' has no object annotations (boxes) in its first image; the pointing game needs them.");
            var dev = CliOptions.ResolveDevice(parse, device);
            using var clf = ModelRegistry.Load(parse.GetValue(model)!).To(dev);
            var folder = parse.GetValue(outDir)!;
            var runner = new PointingGameRunner(ds, clf, ms, folder, new PointingGameRunOptions { Limit = lim, Split = splitName, Shard = shard, BatchImages = parse.GetValue(batchImages) ?? 1 });

            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (cts.IsCancellationRequested) return; // a second Ctrl-C ends the process at once; finished lines are on disk
                e.Cancel = true; // let the current (image, method) pair finish; nothing finished is lost
                cts.Cancel();
                Console.Error.WriteLine("cancelling after the current image … (Ctrl-C again to stop at once)");
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                var summary = runner.Run(new SynchronousProgress<PointingGameProgress>(p =>
                {
                    if (p.Resumed) { if (p.Done == p.Total || p.Done % 100 == 0) Console.WriteLine($"[{p.Done}/{p.Total}] (already done)"); }
                    else Console.WriteLine($"[{p.Done}/{p.Total}] image {p.Image} {p.Method}: {p.Seconds:F2} s");
                }), msg => Console.Error.WriteLine("note: " + msg), cts.Token);
                if (shard is { } s)
                {
                    Console.WriteLine($"shard {s}: {summary.ImagesPlanned} of {runner.ImagesPlanned} images done in {folder}.");
                    Console.WriteLine($"when all {s.Count} shards are done: xailab pointing-game merge --out MERGED_DIR SHARD_DIR_0 … SHARD_DIR_{s.Count - 1}");
                    return 0;
                }
                Console.Write(PointingGameRunner.FormatTable(summary, sub));
                // Seconds per image of each method, from the lines of this folder (an image's time covers all its classes).
                var lines = PointingGameRunner.ReadResults(runner.ResultsPath).Where(r => r.Image < runner.ImagesPlanned).ToArray();
                Console.WriteLine("seconds per image: " + string.Join(", ", ms.Select(m =>
                    $"{m.Name} {lines.Where(r => r.Method == m.Name).Select(r => r.Seconds).DefaultIfEmpty(double.NaN).Average():F3}")));
                Console.WriteLine($"written: {Path.Combine(folder, "summary.csv")}, summary.json, {PointingGameRunner.ResultsFile}");
                return 0;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"cancelled: finished images are kept in {runner.ResultsPath}; rerun the same command to resume.");
                return 130;
            }
            finally { Console.CancelKeyPress -= onCancel; }
        }));
        return cmd;
    }

    /// <summary><c>xailab pointing-game merge --out DIR SHARD_DIR…</c>: combines the folders of all shards (see <see cref="PointingGameRun.Merge"/>).</summary>
    static Command MergeCommand()
    {
        var shards = new Argument<string[]>("shard-folders") { Description = "The --out folders of all N shards (any order)", Arity = ArgumentArity.OneOrMore };
        var subset = new Option<string>("--subset") { Description = "Subset shown in the final table: all or difficult (both are always written)", DefaultValueFactory = _ => "all" };
        var outDir = CliOptions.Out("Folder for the merged run (results.jsonl, run.json, summary.csv, summary.json); new or empty");
        var cmd = new Command("merge", "Combine the folders of a sharded pointing-game run (--shard K/N) into one run with its summary.") { shards, subset, outDir };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var sub = parse.GetValue(subset)!.Trim().ToLowerInvariant();
            if (sub is not ("all" or "difficult")) throw new UserError($"--subset '{parse.GetValue(subset)}': expected all or difficult.");
            var folder = parse.GetValue(outDir)!;
            var summary = PointingGameRun.Merge(parse.GetValue(shards)!, folder);
            Console.Write(PointingGameRunner.FormatTable(summary, sub));
            Console.WriteLine($"written: {Path.Combine(folder, "summary.csv")}, summary.json, {PointingGameRunner.ResultsFile}, {PointingGameRunner.RunFile}");
            return 0;
        }));
        return cmd;
    }
}
