using System.CommandLine;
using XaiLab.Imaging.Data;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab data list</c>: every registered dataset, available or missing (with the command that fetches it).
/// <c>xailab data export --dataset NAME [--split test] [--count N] --out DIR [--overwrite]</c>: scenes as PNG, one mask PNG
/// per object and one <c>annotations.json</c> (classes, boxes, mask files, difficult flags, planted marker).
/// </summary>
public static class DataCommand
{
    /// <summary>The <c>data</c> command group with its subcommands <c>list</c> and <c>export</c>.</summary>
    public static Command Create()
    {
        var list = new Command("list", "List the registered datasets and whether they are on this machine.");
        list.SetAction(_ => CommandBody.Guard(() =>
        {
            foreach (var e in DatasetRegistry.All)
            {
                bool ok = e.IsAvailable();
                Console.WriteLine($"{e.Name,-24} {(ok ? "available" : "missing"),-10} {e.Description}");
                if (!ok) Console.WriteLine($"{"",-24} fetch: {e.FetchHint}");
            }
            return 0;
        }));

        var dataset = new Option<string>("--dataset") { Description = "Registered dataset name (see 'data list').", Required = true };
        var split = new Option<string>("--split") { Description = "train, val or test (default test).", DefaultValueFactory = _ => "test" };
        var count = new Option<int>("--count") { Description = "Number of scenes, from index 0 (default 20).", DefaultValueFactory = _ => 20 };
        var outDir = CliOptions.Out("Output folder (created; must not exist unless --overwrite).");
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing output folder." };
        var export = new Command("export", "Write scenes as PNG, object masks as PNG and annotations.json.") { dataset, split, count, outDir, overwrite };
        export.SetAction(parse => CommandBody.Guard(() =>
        {
            var ds = DatasetRegistry.Open(parse.GetValue(dataset)!, parse.GetValue(split)!);
            var n = parse.GetValue(count);
            if (n < 1) throw new UserError($"--count must be ≥ 1; got {n}.");
            try
            {
                var ann = SceneExport.Export(ds, parse.GetValue(split)!, n, parse.GetValue(outDir)!, parse.GetValue(overwrite));
                Console.WriteLine($"wrote {ann.Scenes.Count} scenes ({ann.Scenes.Sum(s => s.Objects.Count)} objects) of {ann.Dataset}/{ann.Split} to {Path.GetFullPath(parse.GetValue(outDir)!)}");
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException) { throw new UserError(e.Message); }
            return 0;
        }));

        return new Command("data", "Datasets: list them, export scenes with annotations.") { list, export };
    }
}
