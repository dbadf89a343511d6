using System.Runtime.CompilerServices;
using System.Text;
using XaiLab.Imaging;

namespace XaiLab.Tests;

/// <summary>
/// Process-wide set-up done once when the test assembly loads, so that no test has to change process-global state:
/// libtorch is loaded (its lazy loader is not meant to be raced by parallel tests), and <see cref="Console.Out"/> and
/// <see cref="Console.Error"/> are replaced, once and for good, by <see cref="ConsoleCapture"/>'s routing writers.
/// </summary>
static class TestSetup
{
    [ModuleInitializer]
    internal static void Initialise()
    {
        ConsoleCapture.Install();
        try { Devices.EnsureNativeLoaded(); }
        catch (InvalidOperationException) { } // reported by every test that uses torch, with the cause
    }
}

/// <summary>
/// Captures what code writes to the console in the calling flow only. The CLI commands print with
/// <c>Console.Out</c>/<c>Console.Error</c>; swapping those per test (Console.SetOut) would mix the output of tests that
/// run at the same time. Instead both are set once (at assembly load) to writers that forward to the writers of the
/// current <see cref="AsyncLocal{T}"/> capture — which flows into tasks and Parallel.For bodies started inside it — or,
/// outside any capture, to the original console.
/// </summary>
public static class ConsoleCapture
{
    static readonly AsyncLocal<StringWriter?> CurrentOut = new(), CurrentError = new();
    static int _installed;

    internal static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        Console.SetOut(new Router(Console.Out, () => CurrentOut.Value));
        Console.SetError(new Router(Console.Error, () => CurrentError.Value));
    }

    /// <summary>Runs <paramref name="body"/> with its console output captured; returns its result and the text written to stdout and stderr.</summary>
    public static (T Result, string Out, string Err) Run<T>(Func<T> body)
    {
        Install();
        var (o, e) = (CurrentOut.Value, CurrentError.Value);
        var so = new StringWriter(); var se = new StringWriter();
        CurrentOut.Value = so; CurrentError.Value = se;
        try
        {
            var r = body();
            lock (so) lock (se) return (r, so.ToString(), se.ToString());
        }
        finally { CurrentOut.Value = o; CurrentError.Value = e; }
    }

    sealed class Router(TextWriter fallback, Func<StringWriter?> current) : TextWriter
    {
        public override Encoding Encoding => fallback.Encoding;
        public override IFormatProvider FormatProvider => fallback.FormatProvider;

        // A capture may receive writes from several threads of its own flow (Parallel.For): lock the target.
        void To(Action<TextWriter> write)
        {
            if (current() is { } w) { lock (w) write(w); }
            else write(fallback);
        }

        public override void Write(char value) => To(w => w.Write(value));
        public override void Write(char[] buffer, int index, int count) => To(w => w.Write(buffer, index, count));
        public override void Write(ReadOnlySpan<char> buffer) { var s = new string(buffer); To(w => w.Write(s)); }
        public override void Write(string? value) => To(w => w.Write(value));
        public override void WriteLine() => To(w => w.WriteLine());
        public override void WriteLine(string? value) => To(w => w.WriteLine(value));
        public override void WriteLine(ReadOnlySpan<char> buffer) { var s = new string(buffer); To(w => w.WriteLine(s)); }
        public override void Flush() => To(w => w.Flush());
    }
}
