using System.Globalization;
using System.Text;

namespace XaiLab.Saliency.Evaluation.Sweeps;

/// <summary>One row of a sweep: a point's settings, its metrics and per-trial samples (for violins).</summary>
/// <param name="Settings">(axis, value label) in axis order.</param>
/// <param name="Values">The raw axis values.</param>
/// <param name="Metrics">Named figures of the point (e.g. "pointing all %", "saturated %").</param>
/// <param name="Samples">Named per-trial values (e.g. "score" of every path), in trial order.</param>
/// <param name="Folder">Where the point's work is cached.</param>
/// <param name="Computed">Units of work (images) computed by this run; 0 when everything came from the cache.</param>
public sealed record SweepRow(IReadOnlyList<KeyValuePair<string, string>> Settings, IReadOnlyList<object?> Values,
    IReadOnlyDictionary<string, double> Metrics, IReadOnlyDictionary<string, IReadOnlyList<double>> Samples, string Folder, int Computed)
{
    /// <summary>"σ=4, ζ_sat=1".</summary>
    public string Label => Settings.Count == 0 ? "baseline" : string.Join(", ", Settings.Select(kv => $"{kv.Key}={kv.Value}"));
    /// <summary>The value label of axis <paramref name="axis"/>.</summary>
    public string Setting(string axis) => Settings.First(kv => kv.Key == axis).Value;
}

/// <summary>
/// The result of a sweep: one row per grid point. Displayed in notebooks by <c>XaiLab.Interactive.SweepView</c>
/// (a sortable table and a chart); <see cref="ToText"/> and <see cref="ToCsv"/> for consoles and files.
/// </summary>
public sealed class SweepTable
{
    /// <param name="title">Shown above the table.</param>
    /// <param name="axes">The grid's axis names.</param>
    /// <param name="metrics">Metric names in display order; <paramref name="metrics"/>[0] is the primary one (charted by default).</param>
    /// <param name="rows">One row per grid point, in grid order.</param>
    /// <param name="root">The sweep's folder (one sub-folder per point).</param>
    public SweepTable(string title, IReadOnlyList<string> axes, IReadOnlyList<string> metrics, IReadOnlyList<SweepRow> rows, string root)
    {
        if (metrics.Count == 0) throw new ArgumentException("A sweep table needs at least one metric.", nameof(metrics));
        Title = title; Axes = axes; Metrics = metrics; Rows = rows; Root = root;
    }

    /// <summary>Title.</summary>
    public string Title { get; }
    /// <summary>Axis names.</summary>
    public IReadOnlyList<string> Axes { get; }
    /// <summary>Metric names; the first is the primary one.</summary>
    public IReadOnlyList<string> Metrics { get; }
    /// <summary>One row per point, in grid order.</summary>
    public IReadOnlyList<SweepRow> Rows { get; }
    /// <summary>The cache folder of the sweep.</summary>
    public string Root { get; }
    /// <summary>Images computed by this run over all points (0: everything was cached).</summary>
    public int Computed => Rows.Sum(r => r.Computed);

    /// <summary>Sample names present in the rows.</summary>
    public IReadOnlyList<string> SampleNames => Rows.SelectMany(r => r.Samples.Keys).Distinct().ToArray();

    /// <summary>The value of <paramref name="metric"/> in <paramref name="row"/>, NaN when absent.</summary>
    public static double Value(SweepRow row, string metric) => row.Metrics.TryGetValue(metric, out var v) ? v : double.NaN;

    /// <summary>A fixed-width text table (axes, then metrics; numbers with 2 decimals).</summary>
    public string ToText()
    {
        var header = Axes.Concat(Metrics).ToArray();
        var cells = Rows.Select(r => r.Settings.Select(s => s.Value).Concat(Metrics.Select(m => Format(Value(r, m)))).ToArray()).ToArray();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Length == 0 ? 0 : cells.Max(c => c[i].Length))).ToArray();
        var sb = new StringBuilder().AppendLine(Title);
        sb.AppendLine(string.Join("  ", header.Select((h, i) => h.PadLeft(widths[i]))));
        foreach (var c in cells) sb.AppendLine(string.Join("  ", c.Select((v, i) => v.PadLeft(widths[i]))));
        return sb.ToString();
    }

    /// <summary>CSV with a header line (invariant culture, full precision), one line per point, the cache folder last.</summary>
    public string ToCsv()
    {
        static string Q(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        var sb = new StringBuilder(string.Join(",", Axes.Concat(Metrics).Append("folder").Select(Q))).Append('\n');
        foreach (var r in Rows)
            sb.Append(string.Join(",", r.Settings.Select(s => Q(s.Value)).Concat(Metrics.Select(m => Value(r, m).ToString("R", CultureInfo.InvariantCulture)))
                .Append(Q(Path.GetFileName(r.Folder))))).Append('\n');
        return sb.ToString();
    }

    /// <summary>Writes <c>sweep.csv</c> and <c>sweep.txt</c> into <see cref="Root"/>.</summary>
    public void Save()
    {
        Directory.CreateDirectory(Root);
        File.WriteAllText(Path.Combine(Root, "sweep.csv"), ToCsv());
        File.WriteAllText(Path.Combine(Root, "sweep.txt"), ToText());
    }

    /// <inheritdoc/>
    public override string ToString() => ToText();

    static string Format(double v) => double.IsNaN(v) ? "–" : v.ToString("0.00", CultureInfo.InvariantCulture);
}

/// <summary>Progress of a sweep: point p of n, and the work unit (image) just finished inside it.</summary>
public sealed record SweepProgress(int Point, int Points, string Label, int Done, int Total, bool Cached);

/// <summary>An append-only JSON-lines file that survives kills: a cut-off last line is dropped and cut away before appending.</summary>
internal static class JsonLines
{
    static readonly System.Text.Json.JsonSerializerOptions Options = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static List<T> Read<T>(string path, bool repair) where T : class
    {
        var list = new List<T>();
        if (!File.Exists(path)) return list;
        var bytes = File.ReadAllBytes(path);
        int pos = 0; long good = 0; int lineNo = 0;
        while (pos < bytes.Length)
        {
            int nl = Array.IndexOf(bytes, (byte)'\n', pos);
            int end = nl < 0 ? bytes.Length : nl;
            lineNo++;
            var text = Encoding.UTF8.GetString(bytes, pos, end - pos).Trim();
            if (text.Length > 0)
            {
                T? item = null;
                try { item = System.Text.Json.JsonSerializer.Deserialize<T>(text, Options); } catch (System.Text.Json.JsonException) { }
                if (item is null)
                {
                    bool last = nl < 0 || Encoding.UTF8.GetString(bytes, nl + 1, bytes.Length - nl - 1).Trim().Length == 0;
                    if (!last) throw new InvalidDataException($"{path}: line {lineNo} is not valid; delete the point's folder to recompute it.");
                    break;
                }
                list.Add(item);
            }
            if (nl < 0) { good = bytes.Length; break; }
            good = nl + 1;
            pos = nl + 1;
        }
        if (repair && good < bytes.Length) { using var fs = new FileStream(path, FileMode.Open, FileAccess.Write); fs.SetLength(good); }
        else if (repair && bytes.Length > 0 && bytes[^1] != (byte)'\n') File.AppendAllText(path, "\n");
        return list;
    }

    public static void Append<T>(string path, T item)
    {
        using var fs = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var line = Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(item, Options) + "\n");
        fs.Write(line);
        fs.Flush(flushToDisk: true);
    }
}
