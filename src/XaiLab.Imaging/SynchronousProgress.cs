namespace XaiLab.Imaging;

/// <summary>
/// An <see cref="IProgress{T}"/> that calls its action at once, on the reporting thread — unlike
/// <see cref="Progress{T}"/>, which posts to the captured synchronisation context (so reports can arrive late,
/// out of order or after the work finished). XaiLab's long-running APIs take <c>IProgress&lt;T&gt;? progress</c>
/// followed by <c>CancellationToken cancellationToken = default</c>; wrap a lambda in this to pass one.
/// </summary>
/// <example>
/// <code>
/// var summary = runner.Run(new SynchronousProgress&lt;PointingGameProgress&gt;(p =&gt; Console.WriteLine($"{p.Done}/{p.Total}")), cancellationToken: cts.Token);
/// </code>
/// </example>
/// <param name="report">Called with every reported value.</param>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    readonly Action<T> _report = report ?? throw new ArgumentNullException(nameof(report));

    /// <summary>Calls the action with <paramref name="value"/>.</summary>
    public void Report(T value) => _report(value);
}
