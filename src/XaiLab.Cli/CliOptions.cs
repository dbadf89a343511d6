using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using XaiLab.Imaging;
using XaiLab.Saliency;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Cli;

/// <summary>
/// Options that several commands share (<c>--device</c>, <c>--model</c>, <c>--out</c>, <c>--method-option</c>), declared once,
/// and typed options whose malformed values are one-line errors naming what was expected (instead of System.CommandLine's
/// "Cannot parse argument … 'System.Nullable`1[System.Double]'" and the whole help).
/// </summary>
public static class CliOptions
{
    /// <summary>
    /// <c>--device cpu|cuda|cuda:N</c> (default: <c>$XAILAB_DEVICE</c> or cpu); read it with <see cref="ResolveDevice"/>.
    /// A value of another form is the one-line parse error "--device 'x': expected 'cpu', 'cuda' or 'cuda:N'." before any
    /// work starts; whether the CUDA device exists is checked when it is resolved.
    /// </summary>
    public static Option<string?> Device() => new("--device")
    {
        Description = "cpu, cuda or cuda:N (default: $XAILAB_DEVICE or cpu)",
        CustomParser = r =>
        {
            var text = string.Join(" ", r.Tokens.Select(t => t.Value));
            var n = text.Trim().ToLowerInvariant();
            if (n is "cpu" or "cuda" || (n.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(n[5..], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                return text.Trim();
            r.AddError($"--device '{text}': expected 'cpu', 'cuda' or 'cuda:N'.");
            return null;
        },
    };

    /// <summary>The device asked for by <paramref name="option"/>, else <c>$XAILAB_DEVICE</c>, else the CPU.</summary>
    public static Device ResolveDevice(ParseResult parse, Option<string?> option) =>
        Devices.Resolve(parse.GetValue(option) ?? Environment.GetEnvironmentVariable(Devices.EnvironmentVariable));

    /// <summary>The device name <paramref name="option"/> was given, else <c>$XAILAB_DEVICE</c>, else null (the CPU).</summary>
    public static string? DeviceName(ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) ?? Environment.GetEnvironmentVariable(Devices.EnvironmentVariable);

    /// <summary><c>--model NAME</c> from the model registry (required).</summary>
    public static Option<string> Model(string? description = null) =>
        new("--model") { Description = description ?? "Model registry name (see `xailab models list`)", Required = true };

    /// <summary><c>--model NAME</c> from the model registry where the command has a default without one (null when not given).</summary>
    public static Option<string?> OptionalModel(string description) => new("--model") { Description = description };

    /// <summary><c>--out DIR</c> (required); make it with <see cref="PrepareOutputFolder"/>.</summary>
    public static Option<string> Out(string description) => new("--out") { Description = description, Required = true };

    /// <summary><c>--out PATH</c> with a default (<paramref name="defaultValue"/>) when not given.</summary>
    public static Option<string> Out(string description, string defaultValue) =>
        new("--out") { Description = description, DefaultValueFactory = _ => defaultValue };

    /// <summary><c>--out PATH</c> that may be left out (null): the command then writes nowhere or to a place it names itself.</summary>
    public static Option<string?> OptionalOut(string description) => new("--out") { Description = description };

    /// <summary><c>--threads T</c>: torch intra-op threads, a positive whole number (null when not given: the command's default).</summary>
    public static Option<int?> Threads(string description = "torch threads (default 2)") =>
        Int("--threads", description, min: 1, what: "a positive number of threads");

    /// <summary>
    /// Creates <paramref name="path"/> (with its parents) and checks that files can be written in it, so that an unusable
    /// <c>--out</c> is one line before any work is done.
    /// </summary>
    /// <exception cref="UserError">The folder cannot be made or written to; the message says why.</exception>
    public static string PrepareOutputFolder(string path, string option = "--out")
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UserError($"{option}: expected a folder; got an empty path.");
        if (File.Exists(path)) throw new UserError($"{option} '{path}' is a file; expected a folder.");
        try
        {
            Directory.CreateDirectory(path);
            var probe = Path.Combine(path, $".xailab-write-test-{Environment.ProcessId}");
            File.WriteAllBytes(probe, Array.Empty<byte>());
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new UserError($"{option} '{path}': cannot create or write to this folder ({Reason(e)}).");
        }
        return path;
    }

    static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException or FileNotFoundException => "no such place, or the file system does not allow it",
        _ => e.Message.TrimEnd('.'),
    };

    /// <summary>An optional whole-number option; a malformed value is the one-line error "NAME 'x': expected …".</summary>
    public static Option<int?> Int(string name, string description, int? min = null, string? what = null) => new(name)
    {
        Description = description,
        CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : string.Join(" ", r.Tokens.Select(t => t.Value));
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && (min is null || v >= min)) return v;
            r.AddError($"{name} '{text}': expected {what ?? (min is 1 ? "a positive whole number" : min is 0 ? "a whole number ≥ 0" : "a whole number")}.");
            return null;
        },
    };

    /// <summary>
    /// A whole-number option with a default (<paramref name="defaultValue"/>, shown in the help); a malformed value or one
    /// below <paramref name="min"/> is the one-line error "NAME 'x': expected …".
    /// </summary>
    public static Option<int> Int(string name, string description, int defaultValue, int? min = null, string? what = null) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : string.Join(" ", r.Tokens.Select(t => t.Value));
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && (min is null || v >= min)) return v;
            r.AddError($"{name} '{text}': expected {what ?? (min is 1 ? "a positive whole number" : min is 0 ? "a whole number ≥ 0" : "a whole number")}.");
            return defaultValue;
        },
    };

    /// <summary>
    /// A finite-number option with a default (<paramref name="defaultValue"/>, shown in the help); a malformed value, or one
    /// below <paramref name="min"/> (or not above it when <paramref name="positive"/>), is a one-line error.
    /// </summary>
    public static Option<double> Double(string name, string description, double defaultValue, string? what = null, double? min = null, bool positive = false) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : string.Join(" ", r.Tokens.Select(t => t.Value));
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
                && (min is null || (positive ? v > min : v >= min))) return v;
            r.AddError($"{name} '{text}': expected {what ?? "a number"}.");
            return defaultValue;
        },
    };

    /// <summary>An optional finite-number option (invariant culture); a malformed value is a one-line error.</summary>
    public static Option<double?> Double(string name, string description, string? what = null) => new(name)
    {
        Description = description,
        CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : string.Join(" ", r.Tokens.Select(t => t.Value));
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)) return v;
            r.AddError($"{name} '{text}': expected {what ?? "a number"}.");
            return null;
        },
    };

    /// <summary>
    /// <c>--method-option [METHOD:]NAME=VALUE</c>, repeatable: sets an option of a method's options record (names as in the
    /// record, case and '-' ignored: <c>layer=layer4</c>, <c>grad-cam:layer=features.29</c>, <c>rise:masks=4000</c>).
    /// Without METHOD it applies to every chosen method that has the option.
    /// </summary>
    public static Option<string[]> MethodOption() => new("--method-option")
    {
        Description = "Set a method option, [METHOD:]NAME=VALUE, repeatable (e.g. layer=layer4, rise:masks=4000, mask-size=32); " +
                      "without METHOD it applies to every chosen method with that option; `xailab methods` lists the options.",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>One parsed <c>--method-option</c>.</summary>
    public sealed record MethodSetting(string? Method, string Name, string Value, string Text);

    /// <summary>Parses the <c>--method-option</c> texts.</summary>
    /// <exception cref="UserError">A text without '=' or without a name.</exception>
    public static IReadOnlyList<MethodSetting> ParseMethodSettings(IEnumerable<string>? texts)
    {
        var list = new List<MethodSetting>();
        foreach (var t in texts ?? Array.Empty<string>())
        {
            int eq = t.IndexOf('=');
            if (eq <= 0) throw new UserError($"--method-option '{t}': expected [METHOD:]NAME=VALUE, e.g. layer=layer4 or rise:masks=4000.");
            var left = t[..eq].Trim();
            int colon = left.IndexOf(':');
            string? method = colon > 0 ? left[..colon].Trim() : null;
            var name = colon > 0 ? left[(colon + 1)..].Trim() : left;
            if (name.Length == 0) throw new UserError($"--method-option '{t}': expected [METHOD:]NAME=VALUE, e.g. layer=layer4 or rise:masks=4000.");
            list.Add(new MethodSetting(method, name, t[(eq + 1)..].Trim(), t));
        }
        return list;
    }

    static string Norm(string s) => new string(s.Where(char.IsLetterOrDigit).ToArray()).ToLowerInvariant();

    static bool HasOption(SaliencyMethodEntry e, string name) =>
        e.OptionsType.GetProperties().Any(p => p.DeclaringType == e.OptionsType && Norm(p.Name) == Norm(name));

    /// <summary>
    /// The methods named in <paramref name="names"/> (registry names or aliases), each with the <paramref name="settings"/> that
    /// concern it applied in order (a command puts its own shorthands such as <c>--iterations</c> first, so that explicit settings win).
    /// </summary>
    /// <exception cref="UserError">An empty list, an unknown method, a setting for a method not chosen, an option no chosen method has, or a bad value.</exception>
    public static IReadOnlyList<ISaliencyMethod> Methods(IReadOnlyList<string> names, IReadOnlyList<MethodSetting> settings, string listOption = "--methods")
    {
        if (names.Count == 0) throw new UserError($"{listOption} is empty. Known methods: {string.Join(", ", SaliencyMethods.Names)}.");
        var entries = names.Select(n => Wrap(() => SaliencyMethods.Find(n))).ToArray();
        foreach (var s in settings)
        {
            var given = s.Text.StartsWith("--", StringComparison.Ordinal) ? s.Text : $"--method-option '{s.Text}'";
            if (s.Method is { } m)
            {
                var target = Wrap(() => SaliencyMethods.Find(m));
                if (!entries.Contains(target))
                    throw new UserError($"{given}: method '{m}' is not among the chosen ones ({string.Join(", ", entries.Select(e => e.Name))}).");
            }
            else if (!entries.Any(e => HasOption(e, s.Name)))
                throw new UserError($"{given}: no chosen method has an option '{s.Name}' " +
                                    $"({string.Join("; ", entries.Select(e => $"{e.Name}: {(e.TextOptions.Count == 0 ? "none" : string.Join(", ", e.TextOptions))}"))}).");
        }
        var methods = new List<ISaliencyMethod>();
        foreach (var e in entries)
        {
            // Unqualified settings first, then those that name this method, so that "grad-cam:layer=…" wins over "layer=…".
            var mine = settings.Where(s => s.Method is null && HasOption(e, s.Name))
                .Concat(settings.Where(s => s.Method is { } m && SaliencyMethods.Find(m) == e))
                .Select(s => new KeyValuePair<string, string>(s.Name, s.Value));
            methods.Add(Wrap(() => SaliencyMethods.Create(e.Name, mine)));
        }
        var dup = methods.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new UserError($"{listOption}: method '{dup.Key}' is named twice.");
        // Ablation-path methods that differ only in reduction or window share their optimised paths.
        if (methods.Count(m => m is AblationPathMethod) > 1)
        {
            var cache = new AblationPathCache();
            for (int i = 0; i < methods.Count; i++)
                if (methods[i] is AblationPathMethod a) methods[i] = a.WithCache(cache);
        }
        return methods;
    }

    /// <summary>Splits a comma-separated list.</summary>
    public static string[] List(string? text) =>
        (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    static T Wrap<T>(Func<T> f)
    {
        try { return f(); }
        catch (ArgumentException e) { throw new UserError(CommandBody.MessageOf(e)); }
    }

    /// <summary>Whether the user gave <paramref name="option"/> on the command line (not just its default).</summary>
    public static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    /// <summary>The colour maps <c>--colormap</c> accepts (each is known to <see cref="Imaging.Visual.Colormap.ByName"/>).</summary>
    public static readonly IReadOnlyList<string> Colormaps = new[] { "viridis", "inferno", "diverging", "gray" };
}
