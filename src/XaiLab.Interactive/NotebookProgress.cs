using System.Diagnostics;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Formatting;

namespace XaiLab.Interactive;

/// <summary>
/// Progress of long work shown in the notebook: one output that is updated in place (throttled to a few updates per
/// second, the last one always shown). Outside a kernel it writes lines to the console instead.
/// </summary>
public sealed class NotebookProgress<T> : IProgress<T>
{
    readonly string _title;
    readonly Func<T, string> _describe;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly DisplayedValue? _display;
    long _lastMs = -1000;

    internal NotebookProgress(string title, Func<T, string> describe)
    {
        _title = title;
        _describe = describe;
        if (KernelInvocationContext.Current is not null)
            _display = new RawHtml(Render("starting…")).Display(HtmlFormatter.MimeType);
    }

    public void Report(T value)
    {
        var now = _clock.ElapsedMilliseconds;
        var text = _describe(value);
        if (_display is null) { Console.WriteLine($"{_title}: {text}"); return; }
        if (now - _lastMs < 250 && !IsFinal(text)) { _pending = text; return; }
        _lastMs = now;
        _pending = null;
        _display.Update(new RawHtml(Render(text)));
    }

    string? _pending;

    /// <summary>Shows the last throttled report and the elapsed time.</summary>
    public void Complete(string? summary = null)
    {
        var text = summary ?? _pending ?? "done";
        if (_display is null) { Console.WriteLine($"{_title}: {text} ({_clock.Elapsed.TotalSeconds:F1} s)"); return; }
        _display.Update(new RawHtml(Render(text + $" — {_clock.Elapsed.TotalSeconds:F1} s")));
    }

    static bool IsFinal(string text) => text.Contains("done", StringComparison.OrdinalIgnoreCase);

    string Render(string text) =>
        $"<div style=\"font:12px monospace;color:#456\">⏳ <b>{Html.Escape(_title)}</b> {Html.Escape(text)} <span style=\"color:#999\">({_clock.Elapsed.TotalSeconds:F1} s)</span></div>";
}

public static class NotebookProgress
{
    /// <summary>A progress sink that shows <paramref name="describe"/>(value) under the current cell.</summary>
    public static NotebookProgress<T> Create<T>(string title, Func<T, string> describe) => new(title, describe);

    /// <summary>The running cell's cancellation (the kernel's interrupt / stop button); none outside a kernel.</summary>
    public static CancellationToken CellCancellation => KernelInvocationContext.Current?.CancellationToken ?? CancellationToken.None;
}
