using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Evaluation.Sweeps;

/// <summary>One point of a sweep: the label and value of every axis, and the configuration they produce.</summary>
/// <param name="Settings">(axis name, value label) in axis order.</param>
/// <param name="Values">The raw axis values (numbers stay numbers, so charts can plot score vs parameter).</param>
/// <param name="Config">The configuration: the grid's baseline with every axis' <c>with</c> expression applied.</param>
public sealed record SweepPoint<T>(IReadOnlyList<KeyValuePair<string, string>> Settings, IReadOnlyList<object?> Values, T Config)
{
    /// <summary>"σ=4, ζ_sat=1" (or "baseline" for a grid without axes).</summary>
    public string Label => Settings.Count == 0 ? "baseline" : string.Join(", ", Settings.Select(kv => $"{kv.Key}={kv.Value}"));
}

/// <summary>
/// A hyperparameter grid over an immutable configuration record (thesis Tables 2.3–2.5, Figs 2.10/2.11 are such grids):
/// start from a baseline and add axes, each a list of values with the <c>with</c> expression that applies one:
/// <code>
/// var grid = new SweepGrid&lt;AblationSweepConfig&gt;(new() { Model = "fashion-cnn", Scenes = 20 })
///     .Vary("ζ_sat", new[] { 0.0, 1, 2 }, (c, z) =&gt; c with { Options = c.Options with { Saturation = z } })
///     .Vary("σ", new[] { 4.0, 6, 10 }, (c, s) =&gt; c with { Options = c.Options with { RegularisationSigma = s } });
/// </code>
/// Methods and datasets are axes like any other (<c>(c, m) =&gt; c with { Method = m }</c>). The points are the Cartesian
/// product in axis order (the last axis varies fastest). Grids are immutable: <see cref="Vary{V}"/> returns a new one.
/// </summary>
public sealed class SweepGrid<T> where T : notnull
{
    readonly IReadOnlyList<(string Name, IReadOnlyList<(string Label, object? Value, Func<T, T> Apply)> Values)> _axes;

    /// <param name="baseline">The configuration every point starts from.</param>
    public SweepGrid(T baseline) : this(baseline, Array.Empty<(string, IReadOnlyList<(string, object?, Func<T, T>)>)>()) { }

    SweepGrid(T baseline, IReadOnlyList<(string, IReadOnlyList<(string, object?, Func<T, T>)>)> axes)
    {
        Baseline = baseline ?? throw new ArgumentNullException(nameof(baseline));
        _axes = axes;
    }

    /// <summary>The configuration every point starts from.</summary>
    public T Baseline { get; }

    /// <summary>Axis names in order.</summary>
    public IReadOnlyList<string> Axes => _axes.Select(a => a.Name).ToArray();

    /// <summary>
    /// Adds an axis <paramref name="name"/> over <paramref name="values"/>; <paramref name="apply"/> is the <c>with</c> expression
    /// that sets one value. <paramref name="label"/> names a value in tables (default: invariant-culture ToString).
    /// </summary>
    /// <exception cref="ArgumentException">Empty name, a name used twice, no values, or two values with the same label.</exception>
    public SweepGrid<T> Vary<V>(string name, IEnumerable<V> values, Func<T, V, T> apply, Func<V, string>? label = null)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("Sweep axis: the name is empty.", nameof(name));
        if (_axes.Any(a => a.Name == name)) throw new ArgumentException($"Sweep axis '{name}' is given twice.", nameof(name));
        ArgumentNullException.ThrowIfNull(apply);
        var list = values.ToArray();
        if (list.Length == 0) throw new ArgumentException($"Sweep axis '{name}' has no values.", nameof(values));
        label ??= v => v is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : v?.ToString() ?? "null";
        var entries = list.Select(v => (label(v), (object?)v, (Func<T, T>)(c => apply(c, v)))).ToArray();
        var dup = entries.GroupBy(e => e.Item1).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"Sweep axis '{name}': two values are labelled '{dup.Key}'; give a label function.", nameof(label));
        return new SweepGrid<T>(Baseline, _axes.Append((name, (IReadOnlyList<(string, object?, Func<T, T>)>)entries)).ToArray());
    }

    /// <summary>All points, the Cartesian product of the axes (the last axis varies fastest).</summary>
    public IReadOnlyList<SweepPoint<T>> Points
    {
        get
        {
            IEnumerable<(List<KeyValuePair<string, string>> S, List<object?> V, T C)> acc = new[] { (new List<KeyValuePair<string, string>>(), new List<object?>(), Baseline) };
            foreach (var (axis, values) in _axes)
            {
                var a = axis;
                acc = acc.SelectMany(p => values.Select(v => (
                    new List<KeyValuePair<string, string>>(p.S) { new(a, v.Label) },
                    new List<object?>(p.V) { v.Value },
                    v.Apply(p.C))));
            }
            return acc.Select(p => new SweepPoint<T>(p.S, p.V, p.C)).ToArray();
        }
    }
}

/// <summary>
/// Canonical descriptions and cache keys of configurations: two configurations with the same public property values
/// (recursively, records and collections included) get the same key, whatever the axis labels say. A sweep stores each
/// point's work in a folder named by its key, so re-running after editing or adding values computes only new points.
/// </summary>
public static class SweepKey
{
    /// <summary>
    /// A canonical text of <paramref name="value"/>: numbers in round-trip invariant form, enums by name, collections in order,
    /// objects as <c>Type{A=…;B=…}</c> over their public readable properties sorted by name, tensors by shape and a hash of
    /// their data, delegates by their method (values captured by a closure are not seen: label such axes distinctly).
    /// </summary>
    public static string Describe(object? value)
    {
        var sb = new StringBuilder();
        Append(sb, value, 0);
        return sb.ToString();
    }

    /// <summary>The first 12 hex digits of the SHA-256 of <see cref="Describe"/>.</summary>
    public static string Hash(object? value) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Describe(value))))[..12].ToLowerInvariant();

    /// <summary>A folder name: the point's label made file-safe (at most 60 characters) and the hash.</summary>
    public static string FolderName(string label, object config)
    {
        var safe = new string(label.Select(ch => char.IsLetterOrDigit(ch) || ch is '.' or '-' or '_' ? ch : ch == '=' ? '-' : '_').ToArray());
        while (safe.Contains("__")) safe = safe.Replace("__", "_");
        safe = safe.Trim('_');
        if (safe.Length > 60) safe = safe[..60];
        return (safe.Length == 0 ? "" : safe + "-") + Hash(config);
    }

    /// <summary>
    /// The cache folder of a point under <paramref name="root"/>: an existing folder whose name ends with the configuration's
    /// hash (so relabelling an axis keeps the cache), else <c>root/</c><see cref="FolderName"/>.
    /// </summary>
    public static string Folder(string root, string label, object config)
    {
        var hash = Hash(config);
        if (Directory.Exists(root))
        {
            var existing = Directory.GetDirectories(root).Where(d => Path.GetFileName(d) == hash || Path.GetFileName(d).EndsWith("-" + hash, StringComparison.Ordinal))
                .OrderBy(d => d, StringComparer.Ordinal).FirstOrDefault();
            if (existing is not null) return existing;
        }
        return Path.Combine(root, FolderName(label, config));
    }

    static void Append(StringBuilder sb, object? v, int depth)
    {
        if (depth > 12) throw new InvalidOperationException("SweepKey: the configuration nests more than 12 levels (a cycle?).");
        switch (v)
        {
            case null: sb.Append("null"); return;
            case string s: sb.Append('"').Append(s.Replace("\"", "\\\"")).Append('"'); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case Enum e: sb.Append(e.GetType().Name).Append('.').Append(e); return;
            case double d: sb.Append(d.ToString("R", CultureInfo.InvariantCulture)); return;
            case float f: sb.Append(f.ToString("R", CultureInfo.InvariantCulture)); return;
            case IFormattable n when v.GetType().IsPrimitive || v is decimal: sb.Append(n.ToString(null, CultureInfo.InvariantCulture)); return;
            case Tensor t:
                {
                    using var scope = NewDisposeScope();
                    var bytes = t.detach().cpu().contiguous().to_type(ScalarType.Float64).data<double>().ToArray().SelectMany(BitConverter.GetBytes).ToArray();
                    sb.Append("tensor[").Append(string.Join(",", t.shape)).Append("]#").Append(Convert.ToHexString(SHA256.HashData(bytes))[..16]);
                    return;
                }
            case Delegate del: sb.Append("delegate:").Append(del.Method.DeclaringType?.FullName).Append('.').Append(del.Method.Name); return;
            case IDictionary dict:
                {
                    var entries = new List<(string K, object? V)>();
                    foreach (DictionaryEntry e in dict) entries.Add((Describe(e.Key), e.Value));
                    sb.Append('{');
                    foreach (var (k, val) in entries.OrderBy(e => e.K, StringComparer.Ordinal)) { sb.Append(k).Append(':'); Append(sb, val, depth + 1); sb.Append(';'); }
                    sb.Append('}');
                    return;
                }
            case IEnumerable seq:
                sb.Append('[');
                foreach (var item in seq) { Append(sb, item, depth + 1); sb.Append(','); }
                sb.Append(']');
                return;
        }
        var type = v.GetType();
        if (type.IsValueType && type.IsGenericType && type.FullName!.StartsWith("System.ValueTuple", StringComparison.Ordinal))
        {
            sb.Append('(');
            foreach (var field in type.GetFields()) { Append(sb, field.GetValue(v), depth + 1); sb.Append(','); }
            sb.Append(')');
            return;
        }
        sb.Append(type.Name).Append('{');
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.GetIndexParameters().Length == 0
                     && p.Name != "EqualityContract").OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            sb.Append(p.Name).Append('=');
            Append(sb, p.GetValue(v), depth + 1);
            sb.Append(';');
        }
        sb.Append('}');
    }
}
