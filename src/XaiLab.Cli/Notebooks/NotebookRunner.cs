using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.DotNet.Interactive.PackageManagement;
using DocKernelInfo = Microsoft.DotNet.Interactive.Documents.KernelInfo;

namespace XaiLab.Cli.Notebooks;

/// <summary>The outcome of one notebook run.</summary>
/// <param name="FailedCell">1-based index among code cells of the first failing cell, or null.</param>
/// <param name="Name">The notebook's file name without extension.</param>
/// <param name="Path">Full path of the notebook that ran.</param>
/// <param name="CodeCells">Number of code cells in the notebook.</param>
/// <param name="ExecutedCells">Code cells submitted (up to and including a failing one).</param>
/// <param name="Elapsed">Wall time of the whole run.</param>
/// <param name="Error">The first failing cell's error in one line, or null when every cell succeeded.</param>
/// <param name="Document">The notebook with the outputs of the executed cells stored back into it.</param>
public sealed record NotebookRun(string Name, string Path, int CodeCells, int ExecutedCells, TimeSpan Elapsed, int? FailedCell, string? Error,
    InteractiveDocument Document)
{
    /// <summary>Whether every code cell ran without error.</summary>
    public bool Succeeded => Error is null;
}

/// <summary>
/// Executes a C# notebook (.ipynb) headless in an in-process .NET Interactive kernel: each code cell is submitted in
/// order, its outputs (return values, displays, stdout/stderr, errors) are stored back into the document. Execution
/// stops at the first failing cell, as Jupyter's nbconvert does. The working directory is the notebook's folder while
/// it runs, so relative <c>#r</c> paths resolve as in Jupyter.
/// </summary>
public static class NotebookRunner
{
    /// <summary>The kernels a notebook may name: C# only (aliases c#, C#), the language of every XaiLab notebook.</summary>
    public static readonly KernelInfoCollection KernelInfos = new() { new DocKernelInfo("csharp", "C#", new[] { "c#", "C#" }) };

    /// <summary>Parses an .ipynb file; a malformed one is an <see cref="InvalidDataException"/> that names it.</summary>
    public static InteractiveDocument Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Notebook not found: {path}", path);
        try
        {
            var doc = Notebook.Parse(File.ReadAllText(path), KernelInfos);
            if (doc.Elements.Count == 0) throw new InvalidDataException("it has no cells");
            return doc;
        }
        catch (Exception e) when (e is not FileNotFoundException)
        {
            throw new InvalidDataException($"Notebook '{path}' is not a valid .ipynb file: {e.Message}", e);
        }
    }

    /// <summary>Runs the notebook at <paramref name="path"/> cell by cell in a fresh kernel and returns the outcome with the executed document.</summary>
    /// <param name="onCell">Called before each code cell with (1-based index, count).</param>
    /// <param name="path">The .ipynb file.</param>
    /// <param name="cancel">Stops before the next cell (the run then ends with <see cref="OperationCanceledException"/>).</param>
    public static async Task<NotebookRun> RunAsync(string path, Action<int, int>? onCell = null, CancellationToken cancel = default)
    {
        var full = System.IO.Path.GetFullPath(path);
        var doc = Load(full);
        var name = System.IO.Path.GetFileNameWithoutExtension(full);
        var codeCells = doc.Elements.Where(IsCode).ToList();
        var previousDirectory = Directory.GetCurrentDirectory();
        var sw = Stopwatch.StartNew();
        int executed = 0;
        int? failedCell = null;
        string? error = null;
        using var kernel = CreateKernel();
        Directory.SetCurrentDirectory(System.IO.Path.GetDirectoryName(full)!);
        try
        {
            int order = 0;
            foreach (var cell in codeCells)
            {
                cancel.ThrowIfCancellationRequested();
                onCell?.Invoke(executed + 1, codeCells.Count);
                cell.Outputs.Clear();
                var result = await kernel.SendAsync(new SubmitCode(cell.Contents, "csharp"), cancel);
                executed++;
                var failure = CollectOutputs(cell, result.Events);
                SetExecutionCount(cell, ++order);
                if (failure is not null)
                {
                    failedCell = executed;
                    error = failure;
                    break;
                }
            }
        }
        finally
        {
            Directory.SetCurrentDirectory(previousDirectory);
        }
        return new NotebookRun(name, full, codeCells.Count, executed, sw.Elapsed, failedCell, error, doc);
    }

    /// <summary>Whether <paramref name="e"/> is a code cell (anything not markdown).</summary>
    public static bool IsCode(InteractiveDocumentElement e) => e.KernelName is not ("markdown" or "md");

    static CompositeKernel CreateKernel()
    {
        CompositeKernel? composite = null;
        var extensions = new HashSet<string>();
        var csharp = new CSharpKernel()
            .UseNugetDirective(async (k, refs) =>
            {
                k.AddAssemblyReferences(refs.SelectMany(r => r.AssemblyPaths));
                await LoadPackageExtensionsAsync(composite!, refs, extensions);
            }, false)
            .UseKernelHelpers()
            .UseValueSharing();
        composite = new CompositeKernel { csharp };
        composite.DefaultKernelName = csharp.Name;
        return composite;
    }

    /// <summary>
    /// What the Jupyter/VS Code kernel does after <c>#r "nuget: …"</c> and an in-process kernel does not by itself:
    /// every <see cref="IKernelExtension"/> in a package's <c>interactive-extensions/dotnet/*.dll</c> is loaded once
    /// per kernel and given the root kernel. An assembly already loaded in this process (the CLI references
    /// XaiLab.Interactive itself) is used as it is rather than loaded a second time from the package.
    /// </summary>
    static async Task LoadPackageExtensionsAsync(Kernel root, IEnumerable<ResolvedPackageReference> refs, HashSet<string> loaded)
    {
        foreach (var r in refs)
        {
            var dir = System.IO.Path.Combine(r.PackageRoot, "interactive-extensions", "dotnet");
            if (!Directory.Exists(dir)) continue;
            foreach (var dll in Directory.GetFiles(dir, "*.dll").Order(StringComparer.Ordinal))
            {
                var name = AssemblyName.GetAssemblyName(dll);
                if (!loaded.Add(name.FullName)) continue;
                var assembly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().FullName == name.FullName)
                               ?? AssemblyLoadContext.Default.LoadFromAssemblyPath(dll);
                foreach (var type in assembly.GetExportedTypes().Where(t => typeof(IKernelExtension).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false }
                                                                            && t.GetConstructor(Type.EmptyTypes) is not null))
                    await ((IKernelExtension)Activator.CreateInstance(type)!).OnLoadAsync(root);
            }
        }
    }

    static void SetExecutionCount(InteractiveDocumentElement cell, int order)
    {
        cell.ExecutionOrder = order;
        var q = typeof(ReturnValueElement).GetProperty(nameof(ReturnValueElement.ExecutionOrder));
        foreach (var r in cell.Outputs.OfType<ReturnValueElement>())
            if (q?.CanWrite == true) q.SetValue(r, order);
    }

    /// <summary>Turns kernel events into document outputs; returns the failure message, if any.</summary>
    static string? CollectOutputs(InteractiveDocumentElement cell, IReadOnlyList<KernelEvent> events)
    {
        string? failure = null;
        var displays = new Dictionary<string, int>();
        foreach (var e in events)
        {
            switch (e)
            {
                case ReturnValueProduced r:
                    var rv = new ReturnValueElement();
                    foreach (var v in r.FormattedValues) rv.Data[v.MimeType] = v.Value;
                    if (rv.Data.Count > 0) cell.Outputs.Add(rv);
                    break;
                case DisplayedValueUpdated u when u.ValueId is not null && displays.TryGetValue(u.ValueId, out var at):
                    cell.Outputs[at] = new DisplayElement(ToData(u.FormattedValues));
                    break;
                case DisplayedValueProduced d:
                    if (d.ValueId is not null) displays[d.ValueId] = cell.Outputs.Count;
                    cell.Outputs.Add(new DisplayElement(ToData(d.FormattedValues)));
                    break;
                case StandardOutputValueProduced o:
                    AppendText(cell, "stdout", o.FormattedValues.FirstOrDefault(v => v.MimeType == PlainTextFormatter.MimeType)?.Value ?? "");
                    break;
                case StandardErrorValueProduced o:
                    AppendText(cell, "stderr", o.FormattedValues.FirstOrDefault(v => v.MimeType == PlainTextFormatter.MimeType)?.Value ?? "");
                    break;
                case CommandFailed f:
                    var message = f.Exception?.Message ?? f.Message;
                    cell.Outputs.Add(new ErrorElement(f.Exception?.GetType().Name ?? "Error", message,
                        (f.Exception?.StackTrace ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries)));
                    failure = FirstLine(message);
                    break;
            }
        }
        return failure;
    }

    static IDictionary<string, object> ToData(IEnumerable<FormattedValue> values)
    {
        var data = new Dictionary<string, object>();
        foreach (var v in values) if (!v.SuppressDisplay) data[v.MimeType] = v.Value;
        return data;
    }

    static void AppendText(InteractiveDocumentElement cell, string stream, string text)
    {
        if (cell.Outputs.Count > 0 && cell.Outputs[^1] is TextElement last && last.Name == stream)
            cell.Outputs[^1] = new TextElement(last.Text + text, stream);
        else
            cell.Outputs.Add(new TextElement(text, stream));
    }

    static string FirstLine(string s)
    {
        var line = s.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? s;
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}
