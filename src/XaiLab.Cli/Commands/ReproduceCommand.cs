using System.CommandLine;
using System.Globalization;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using Spectre.Console;
using XaiLab.Cli.Notebooks;
using XaiLab.Imaging;
using XaiLab.Interactive;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab reproduce [NOTEBOOK…] [--scale demo|full] [--device cpu|cuda] [--out DIR]</c>: executes notebooks headless
/// in-process and writes <c>DIR/NAME.ipynb</c> (with outputs) and <c>DIR/NAME.html</c> (standalone, offline).
/// With no notebook named it runs every notebook in <c>notebooks/</c>. The scale reaches the notebooks as
/// <c>XAILAB_SCALE</c> (<see cref="Lab.Scale"/>), the device as <c>XAILAB_DEVICE</c>.
/// </summary>
public static class ReproduceCommand
{
    /// <summary>The <c>reproduce</c> command.</summary>
    public static Command Create()
    {
        var notebooks = new Argument<string[]>("notebook") { Description = "Notebooks to run (.ipynb). Default: every notebook in notebooks/.", Arity = ArgumentArity.ZeroOrMore };
        var scale = new Option<string>("--scale") { Description = "demo (minutes on a CPU) or full (the thesis' sizes, for a GPU)", DefaultValueFactory = _ => "demo" };
        var device = CliOptions.Device();
        var output = CliOptions.Out("Output folder", "out/reproduce");
        var cmd = new Command("reproduce", "Execute notebooks headless; write executed .ipynb files and offline HTML pages.") { notebooks, scale, device, output };
        cmd.SetAction(parse => CommandBody.Guard(() =>
            Run(parse.GetValue(notebooks) ?? Array.Empty<string>(), parse.GetValue(scale)!, parse.GetValue(device), parse.GetValue(output)!)));
        return cmd;
    }

    static int Run(string[] notebooks, string scaleName, string? deviceName, string outDir)
    {
        var scale = Lab.ParseScale(scaleName);
        deviceName ??= Environment.GetEnvironmentVariable(Devices.EnvironmentVariable);
        var device = Devices.Resolve(deviceName);
        Devices.Default = device;
        Environment.SetEnvironmentVariable(Lab.ScaleVariable, scale.ToString().ToLowerInvariant());
        Environment.SetEnvironmentVariable(Devices.EnvironmentVariable, deviceName ?? "cpu");

        var paths = notebooks.Length > 0 ? notebooks.Select(Path.GetFullPath).ToList() : DefaultNotebooks();
        foreach (var p in paths)
            if (!File.Exists(p)) throw new UserError($"notebook not found: {p}");
        foreach (var p in paths) NotebookRunner.Load(p); // malformed notebooks fail before anything runs

        outDir = Path.GetFullPath(outDir);
        Directory.CreateDirectory(outDir);
        Console.WriteLine($"xailab reproduce: {paths.Count} notebook(s), scale {scale.ToString().ToLowerInvariant()}, device {Devices.Describe(device)}, output {outDir}");

        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); Console.Error.WriteLine("cancelling after the current cell…"); };
        Console.CancelKeyPress += onCancel;
        var runs = new List<NotebookRun>();
        try
        {
            foreach (var p in paths)
            {
                var name = Path.GetFileNameWithoutExtension(p);
                var run = NotebookRunner.RunAsync(p, (i, n) => Console.WriteLine($"  {name}: cell {i}/{n}"), cts.Token).GetAwaiter().GetResult();
                runs.Add(run);
                Write(run, outDir, scale, device);
                if (!run.Succeeded)
                    Console.Error.WriteLine($"error: notebook {name}, cell {run.FailedCell}: {run.Error}");
                else
                    Console.WriteLine($"  {name}: done in {run.Elapsed.TotalSeconds:F1} s → {Path.Combine(outDir, name + ".html")}");
            }
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("error: cancelled; finished notebooks were written.");
            return 130;
        }
        finally { Console.CancelKeyPress -= onCancel; }

        var table = new Table().AddColumns("notebook", "cells", "seconds", "failures");
        foreach (var r in runs)
            table.AddRow(Markup.Escape(r.Name), $"{r.ExecutedCells}/{r.CodeCells}", r.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture),
                r.Succeeded ? "0" : Markup.Escape($"1 (cell {r.FailedCell}: {r.Error})"));
        AnsiConsole.Write(table);
        return runs.All(r => r.Succeeded) ? 0 : 1;
    }

    static void Write(NotebookRun run, string outDir, Scale scale, TorchSharp.torch.Device device)
    {
        // The source notebook carries its kernelspec; passing a language would rewrite the metadata, which fails on the
        // dictionary Notebook.Parse leaves for the polyglot kernel info.
        var ipynb = Notebook.ToJupyterJson(run.Document);
        WriteAtomic(Path.Combine(outDir, run.Name + ".ipynb"), ipynb);
        var subtitle = $"{run.Name} — executed by xailab reproduce on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, scale {scale.ToString().ToLowerInvariant()}, " +
                       $"device {Devices.Describe(device)}, {run.ExecutedCells}/{run.CodeCells} cells in {run.Elapsed.TotalSeconds:F1} s" +
                       (run.Succeeded ? "" : $" — FAILED at cell {run.FailedCell}: {run.Error}");
        WriteAtomic(Path.Combine(outDir, run.Name + ".html"), NotebookHtml.Render(run, subtitle));
    }

    static void WriteAtomic(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Every .ipynb in the nearest <c>notebooks/</c> folder above the working directory (or above the tool).</summary>
    static List<string> DefaultNotebooks()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var nb = Path.Combine(d.FullName, "notebooks");
                if (Directory.Exists(nb) && Directory.EnumerateFiles(nb, "*.ipynb").Any())
                    return Directory.EnumerateFiles(nb, "*.ipynb").OrderBy(x => x, StringComparer.Ordinal).ToList();
            }
        }
        throw new UserError("no notebooks named and no notebooks/ folder found above the working directory.");
    }
}
