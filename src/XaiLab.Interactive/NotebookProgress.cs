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
    readonly KernelInvocationContext? _context;
    readonly string _valueId = Guid.NewGuid().ToString("N");
    long _lastMs = -1000;

    internal NotebookProgress(string title, Func<T, string> describe)
    {
        _title = title;
        _describe = describe;
        _context = KernelInvocationContext.Current;
        if (_context is not null) Publish(Render("starting…"), update: false);
    }

    /// <summary>Shows <paramref name="value"/> (as its description), at most a few times per second; a final value (one whose text says "done") is always shown.</summary>
    public void Report(T value)
    {
        var now = _clock.ElapsedMilliseconds;
        var text = _describe(value);
        if (_context is null) { Console.WriteLine($"{_title}: {text}"); return; }
        if (now - _lastMs < 250 && !IsFinal(text)) { _pending = text; return; }
        _lastMs = now;
        _pending = null;
        Publish(Render(text), update: true);
    }

    string? _pending;

    /// <summary>Shows the last throttled report and the elapsed time.</summary>
    public void Complete(string? summary = null)
    {
        var text = summary ?? _pending ?? "done";
        if (_context is null) { Console.WriteLine($"{_title}: {text} ({_clock.Elapsed.TotalSeconds:F1} s)"); return; }
        Publish(Render(text), update: true);
    }

    /// <summary>
    /// Publishes the first display and its updates with one value id, so that frontends (Jupyter's
    /// update_display_data, VS Code, the reproduce runner) replace the line in place.
    /// </summary>
    void Publish(string html, bool update)
    {
        var value = new RawHtml(html);
        var formatted = new[] { new FormattedValue(HtmlFormatter.MimeType, html), new FormattedValue(PlainTextFormatter.MimeType, _title) };
        if (update) _context!.Publish(new Microsoft.DotNet.Interactive.Events.DisplayedValueUpdated(value, _valueId, _context.Command, formatted));
        else _context!.Publish(new Microsoft.DotNet.Interactive.Events.DisplayedValueProduced(value, _context.Command, formatted, _valueId));
    }

    static bool IsFinal(string text) => text.Contains("done", StringComparison.OrdinalIgnoreCase);

    string Render(string text) =>
        $"<div style=\"font:12px monospace;color:#456;border-left:3px solid #7ab;padding-left:6px\"><b>{Html.Escape(_title)}</b> {Html.Escape(text)} <span style=\"color:#999\">({_clock.Elapsed.TotalSeconds:F1} s)</span></div>";
}

/// <summary>Creates <see cref="NotebookProgress{T}"/> sinks.</summary>
public static class NotebookProgress
{
    /// <summary>A progress sink that shows <paramref name="describe"/>(value) under the current cell.</summary>
    public static NotebookProgress<T> Create<T>(string title, Func<T, string> describe) => new(title, describe);

    /// <summary>The running cell's cancellation (the kernel's interrupt / stop button); none outside a kernel.</summary>
    public static CancellationToken CellCancellation => KernelInvocationContext.Current?.CancellationToken ?? CancellationToken.None;
}
