using System.CommandLine;
using System.Text.Json;
using XaiLab.Imaging.Data;
using XaiLab.Imaging.Models;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab models list</c>: name, task, input size, classes, held-out metric and availability of every registered model.
/// <c>xailab models eval --model NAME --dataset NAME [--split test] [--limit N] [--json FILE]</c>: accuracy (single-label)
/// or mAP (multi-label) on a dataset split, printed and optionally written as JSON (an <see cref="EvaluationResult"/>).
/// </summary>
public static class ModelsCommand
{
    /// <summary>The <c>models</c> command group with its subcommands <c>list</c> and <c>eval</c>.</summary>
    public static Command Create()
    {
        var list = new Command("list", "List the registered models.");
        list.SetAction(_ => CommandBody.Guard(() =>
        {
            foreach (var e in ModelRegistry.All)
            {
                bool ok = e.IsAvailable();
                Console.WriteLine($"{e.Name,-22} {e.Task,-13} {e.InputSize.H}×{e.InputSize.W}  {e.ClassNames.Count} classes  " +
                                  $"{(ok ? "available" : "missing")}  {e.HeldOutMetric ?? "held-out metric unknown"}");
                if (!ok) Console.WriteLine($"{"",-22} get it: {e.FetchHint}");
            }
            return 0;
        }));

        var model = CliOptions.Model("Registered model name (see 'models list').");
        var dataset = new Option<string>("--dataset") { Description = "Registered dataset name (see 'data list').", Required = true };
        var split = new Option<string>("--split") { Description = "Split (default test).", DefaultValueFactory = _ => "test" };
        var limit = CliOptions.Int("--limit", "Evaluate only the first N scenes.", min: 1, what: "a positive number of scenes");
        var json = new Option<string?>("--json") { Description = "Also write the result as JSON to this file." };
        var eval = new Command("eval", "Accuracy (single-label) or mAP (multi-label) of a model on a dataset.") { model, dataset, split, limit, json };
        eval.SetAction(parse => CommandBody.Guard(() =>
        {
            if (parse.GetValue(limit) is < 1) throw new UserError($"--limit must be ≥ 1; got {parse.GetValue(limit)}.");
            using var m = ModelRegistry.Load(parse.GetValue(model)!);
            var ds = DatasetRegistry.Open(parse.GetValue(dataset)!, parse.GetValue(split)!);
            var r = Evaluation.Evaluate(m, ds, parse.GetValue(split)!, parse.GetValue(limit));
            Console.WriteLine($"{r.Model} on {r.Dataset}/{r.Split} ({r.Images} scenes): {r.Metric} {r.Value:0.0000}");
            Console.WriteLine("per class: " + string.Join(", ", r.PerClass.Select((v, c) => $"{ds.ClassNames[c]} {v:0.000}")));
            if (parse.GetValue(json) is { } path)
            {
                var full = Path.GetFullPath(path);
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.WriteAllText(full + ".tmp", JsonSerializer.Serialize(r, new JsonSerializerOptions
                {
                    WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
                }));
                File.Move(full + ".tmp", full, overwrite: true);
                Console.WriteLine($"wrote {full}");
            }
            return 0;
        }));

        return new Command("models", "Trained models: list them, evaluate them.") { list, eval };
    }
}
