using System.CommandLine;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency;
using XaiLab.Saliency.Evaluation;
using XaiLab.Saliency.Methods;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab pointing-game --dataset NAME --model NAME --methods a,b,c [--limit N] [--subset all|difficult] --out DIR</c>:
/// a resumable pointing-game run (thesis §2.7.3). Rerunning the same command after an interruption (Ctrl-C, kill)
/// continues where it stopped.
/// </summary>
public static class PointingGameCommand
{
    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "Dataset registry name (see `data list`)", Required = true };
        var model = new Option<string>("--model") { Description = "Model registry name", Required = true };
        var methods = new Option<string>("--methods") { Description = $"Comma-separated methods: {string.Join(", ", SaliencyMethods.Names)}", Required = true };
        var limit = new Option<int?>("--limit") { Description = "Only the first N images" };
        var subset = new Option<string>("--subset") { Description = "Subset shown in the final table: all or difficult (both are always written)", DefaultValueFactory = _ => "all" };
        var split = new Option<string>("--split") { Description = "Dataset split", DefaultValueFactory = _ => "test" };
        var device = new Option<string?>("--device") { Description = "cpu, cuda or cuda:N (default: $XAILAB_DEVICE or cpu)" };
        var outDir = new Option<string>("--out") { Description = "Output folder (results.jsonl, summary.csv, summary.json)", Required = true };
        var cmd = new Command("pointing-game", "Run the pointing game (TorchRay protocol) for several saliency methods; resumable.")
            { dataset, model, methods, limit, subset, split, device, outDir };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var sub = parse.GetValue(subset)!.Trim().ToLowerInvariant();
            if (sub is not ("all" or "difficult")) throw new UserError($"--subset must be 'all' or 'difficult'; got '{parse.GetValue(subset)}'.");
            var lim = parse.GetValue(limit);
            if (lim is <= 0) throw new UserError($"--limit must be a positive number of images; got {lim}.");
            var names = parse.GetValue(methods)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (names.Length == 0) throw new UserError($"--methods is empty. Known methods: {string.Join(", ", SaliencyMethods.Names)}.");
            var ms = names.Select(n => SaliencyMethods.Create(n)).ToArray();
            var ds = DatasetRegistry.Open(parse.GetValue(dataset)!, parse.GetValue(split)!);
            if (ds.Count == 0) throw new UserError($"Dataset '{ds.Name}' has no images.");
            using (var first = ds.Get(0))
                if (first.Objects.Count == 0)
                    throw new UserError($"Dataset '{ds.Name}' has no object annotations (boxes) in its first image; the pointing game needs them.");
            using var clf = ModelRegistry.Load(parse.GetValue(model)!);
            var dev = parse.GetValue(device) ?? Environment.GetEnvironmentVariable(Devices.EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(dev)) clf.To(Devices.Resolve(dev));
            var runner = new PointingGameRunner(ds, clf, ms, parse.GetValue(outDir)!, new PointingGameRunOptions { Limit = lim });

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
                var summary = runner.Run(cts.Token, p =>
                {
                    if (p.Resumed) { if (p.Done == p.Total || p.Done % 100 == 0) Console.WriteLine($"[{p.Done}/{p.Total}] (already done)"); }
                    else Console.WriteLine($"[{p.Done}/{p.Total}] image {p.Image} {p.Method}: {p.Seconds:F2} s");
                });
                Console.Write(PointingGameRunner.FormatTable(summary, sub));
                Console.WriteLine($"written: {Path.Combine(parse.GetValue(outDir)!, "summary.csv")}, summary.json, {PointingGameRunner.ResultsFile}");
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
}
