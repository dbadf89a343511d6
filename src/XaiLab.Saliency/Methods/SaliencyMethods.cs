using XaiLab.Imaging;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.SiftCells;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Methods;

/// <summary>
/// One line of the method registry: a name (with aliases), how to make the method from its options record, and how to
/// read the options back from a made method (for result files and the run identity of <see cref="Evaluation.PointingGameRunner"/>).
/// Build entries with <see cref="SaliencyMethods.Entry{TMethod,TOptions}"/>.
/// </summary>
/// <param name="Name">The canonical name used on the command line and in result files (e.g. <c>rise</c>); the made method's <see cref="ISaliencyMethod.Name"/> must equal it.</param>
/// <param name="Aliases">Other accepted names (e.g. <c>ig</c>).</param>
/// <param name="Title">One line for help texts: the method and its paper.</param>
/// <param name="MethodType">The class the entry makes.</param>
/// <param name="OptionsType">Its options record (a record with a parameterless constructor whose defaults are the published ones).</param>
/// <param name="Make">Makes the method from an options record of <paramref name="OptionsType"/> (never null).</param>
/// <param name="OptionsOf">Reads the options record back from a method of <paramref name="MethodType"/>.</param>
public sealed record SaliencyMethodEntry(string Name, IReadOnlyList<string> Aliases, string Title, Type MethodType, Type OptionsType,
    Func<object, ISaliencyMethod> Make, Func<ISaliencyMethod, object> OptionsOf) : IRegistryEntry
{
    /// <summary>A fresh options record with the published defaults.</summary>
    public object DefaultOptions() => Activator.CreateInstance(OptionsType)!;

    /// <summary>The names of the options that can be set from text (<see cref="SaliencyMethods.WithOption"/>), in declaration order.</summary>
    public IReadOnlyList<string> TextOptions => SaliencyMethods.OptionProperties(OptionsType)
        .Where(p => SaliencyMethods.IsTextSettable(p.PropertyType)).Select(p => p.Name).ToArray();
}

/// <summary>
/// The registry of saliency methods: one table, one line per method name. Everything that takes a method by name — the
/// <c>explain</c>, <c>pointing-game</c> and <c>bench methods</c> commands, notebooks, result files — goes through it:
/// <see cref="Create(string, object?)"/> makes a method, <see cref="OptionsOf"/> reads its options back and
/// <see cref="Describe"/> turns them into the text that identifies a run.
/// <para>Adding a method: write the class (implementing <see cref="ISaliencyMethod"/>, with an options record whose
/// parameterless constructor holds the published defaults and an <c>Options</c> property) and add one line to
/// <see cref="Table"/>, e.g. <c>Entry&lt;Rise, RiseOptions&gt;("rise", "RISE (Petsiuk et al. 2018)", o =&gt; new Rise(o), m =&gt; m.Options)</c>.
/// A notebook can add one at run time with <see cref="Register"/>.</para>
/// </summary>
public static class SaliencyMethods
{
    /// <summary>The methods of this library. Ablation paths come in every reduction of §2.7.2, with and without the window (Eq 2.37).</summary>
    static readonly SaliencyMethodEntry[] Table =
    [
        Entry<GradientMethod, GradientOptions>("gradient", "gradient (Simonyan et al. 2014)", o => new GradientMethod(o), m => m.Options),
        Entry<IntegratedGradients, IntegratedGradientsOptions>("integrated-gradients", "Integrated Gradients (Sundararajan et al. 2017)", o => new IntegratedGradients(o), m => m.Options, "ig"),
        Entry<Rise, RiseOptions>("rise", "RISE (Petsiuk et al. 2018)", o => new Rise(o), m => m.Options),
        Entry<GradCam, GradCamOptions>("grad-cam", "Grad-CAM (Selvaraju et al. 2017)", o => new GradCam(o), m => m.Options, "gradcam"),
        Entry<MeaningfulPerturbation, MeaningfulPerturbationOptions>("meaningful-perturbation", "Meaningful Perturbation (Fong & Vedaldi 2017)", o => new MeaningfulPerturbation(o), m => m.Options, "mp"),
        Entry<ExtremalPerturbation, ExtremalPerturbationOptions>("extremal-perturbation", "Extremal Perturbation (Fong et al. 2019)", o => new ExtremalPerturbation(o), m => m.Options, "ep", "extremal"),
        Entry<CentreMethod, CentreOptions>("centre", "centre baseline of the pointing game (Zhang et al. 2016)", _ => new CentreMethod(), m => m.Options, "center"),
        Entry<SiftRise, SiftRiseOptions>("sift-rise", "RISE over random subsets of SIFT features (thesis §4.4, future work)", o => new SiftRise(o), m => m.Options),
        .. AblationPathEntries(),
    ];

    static IEnumerable<SaliencyMethodEntry> AblationPathEntries()
    {
        foreach (var r in new[] { AblationReduction.ClassTransition, AblationReduction.Average, AblationReduction.InfluenceWeighted, AblationReduction.ContrastiveAverage })
            foreach (var window in new[] { false, true })
            {
                var name = AblationPathMethod.MethodName(r, window);
                var aliases = r == AblationReduction.ClassTransition && !window ? new[] { "ablation-path" } : Array.Empty<string>();
                yield return Entry<AblationPathMethod, AblationPathOptions>(name, $"ablation path, {r} reduction (thesis §2.7.2){(window ? " with the window (Eq 2.37)" : "")}",
                    o => new AblationPathMethod(r, o, window), m => m.Options, aliases);
            }
    }

    static readonly Registry<SaliencyMethodEntry> Entries = NewRegistry();

    static Registry<SaliencyMethodEntry> NewRegistry()
    {
        var r = new Registry<SaliencyMethodEntry>("saliency method");
        foreach (var e in Table) r.Register(e);
        return r;
    }

    /// <summary>
    /// A registry line for method class <typeparamref name="TMethod"/> with options record <typeparamref name="TOptions"/>.
    /// </summary>
    /// <param name="name">Canonical name (lower case, words joined by '-'); must equal the made method's <see cref="ISaliencyMethod.Name"/>.</param>
    /// <param name="title">One line for help texts.</param>
    /// <param name="make">Makes the method from options (never null: the registry passes the defaults when none are given).</param>
    /// <param name="options">Reads the options back from a made method.</param>
    /// <param name="aliases">Other accepted names.</param>
    public static SaliencyMethodEntry Entry<TMethod, TOptions>(string name, string title, Func<TOptions, TMethod> make, Func<TMethod, TOptions> options, params string[] aliases)
        where TMethod : class, ISaliencyMethod where TOptions : class, new() =>
        new(name, aliases, title, typeof(TMethod), typeof(TOptions), o => make((TOptions)o), m => options((TMethod)m));

    /// <summary>Every registry line, in table order (then the registered ones).</summary>
    public static IReadOnlyList<SaliencyMethodEntry> All => Entries.All;

    /// <summary>The canonical method names, every ablation-path reduction (with and without the window) included.</summary>
    public static IReadOnlyList<string> Names => All.Select(t => t.Name).ToArray();

    /// <summary>One name per method class (the first of its lines): what <c>bench methods</c> times by default.</summary>
    public static IReadOnlyList<string> PrimaryNames => All.GroupBy(e => e.MethodType).Select(g => g.First().Name).ToArray();

    /// <summary>Adds a method at run time (notebooks, other assemblies).</summary>
    /// <exception cref="ArgumentException">The name or an alias is taken already.</exception>
    public static void Register(SaliencyMethodEntry entry) => Entries.Register(entry);

    /// <summary>The registry line of <paramref name="name"/> (case-insensitive, aliases accepted).</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static SaliencyMethodEntry Find(string name)
    {
        return Entries.TryFind(name) ?? throw new ArgumentException(
            $"Unknown saliency method '{name}'. Known methods: {string.Join(", ", All.Select(t => t.Name))} " +
            $"(aliases: {string.Join(", ", All.SelectMany(t => t.Aliases.Select(a => $"{a} = {t.Name}")))}).");
    }

    /// <summary>
    /// The method called <paramref name="name"/> (case-insensitive, aliases accepted) with <paramref name="options"/>
    /// (its options record, e.g. <see cref="RiseOptions"/>; null = published defaults).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name (the message lists the known ones), or options of the wrong type.</exception>
    public static ISaliencyMethod Create(string name, object? options = null)
    {
        var t = Find(name);
        if (options is not null && options.GetType() != t.OptionsType)
            throw new ArgumentException($"Method '{t.Name}' takes options of type {t.OptionsType.Name}; got {options.GetType().Name}.");
        return t.Make(options ?? t.DefaultOptions());
    }

    /// <summary>
    /// The method called <paramref name="name"/> with its defaults changed by <paramref name="settings"/> (option name → text value,
    /// as given by <c>--method-option name=value</c>; see <see cref="WithOption"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown method, unknown option or a value that does not parse; one line naming what was expected.</exception>
    public static ISaliencyMethod Create(string name, IEnumerable<KeyValuePair<string, string>>? settings)
    {
        var t = Find(name);
        var o = t.DefaultOptions();
        foreach (var (k, v) in settings ?? Array.Empty<KeyValuePair<string, string>>()) o = WithOption(o, k, v, t.Name);
        return t.Make(o);
    }

    /// <summary>The options record of <paramref name="method"/> (for result files), or null for a method the registry does not know.</summary>
    public static object? OptionsOf(ISaliencyMethod method)
    {
        var type = method.GetType();
        var t = All.FirstOrDefault(e => e.MethodType == type);
        return t?.OptionsOf(method);
    }

    /// <summary>
    /// A one-line description of <paramref name="method"/>'s options, every option of its record as <c>Name=value</c>
    /// (numbers invariant and round-trip, lists as <c>[a;b]</c>, tensors as <c>tensor[shape]:sha256</c> of their values, delegates as
    /// <c>function</c> since their behaviour cannot be written down). Equal descriptions mean equal options, which is why
    /// <see cref="Evaluation.PointingGameRunner"/> uses it as part of a run's identity. A method the registry does not know
    /// is described by its name.
    /// </summary>
    public static string Describe(ISaliencyMethod method)
    {
        var o = OptionsOf(method);
        if (o is null) return method.Name;
        return string.Join(" ", OptionProperties(o.GetType()).Select(p => $"{p.Name}={FormatValue(p.GetValue(o))}"));
    }

    /// <summary>The options of an options record: its public readable properties declared on it, in declaration order.</summary>
    public static IEnumerable<PropertyInfo> OptionProperties(Type optionsType) =>
        optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0 && p.DeclaringType == optionsType)
            .OrderBy(p => p.MetadataToken);

    static string FormatValue(object? v) => v switch
    {
        null => "null",
        Tensor t => TensorFingerprint(t),
        Delegate => "function",
        string s => s,
        IEnumerable<double> e => "[" + string.Join(";", e.Select(d => d.ToString("R", CultureInfo.InvariantCulture))) + "]",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    static string TensorFingerprint(Tensor t)
    {
        using var scope = NewDisposeScope();
        var values = t.detach().cpu().to_type(TorchSharp.torch.ScalarType.Float64).contiguous().data<double>().ToArray();
        var bytes = new byte[values.Length * sizeof(double)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        var hash = Convert.ToHexString(SHA256.HashData(bytes))[..16].ToLowerInvariant();
        return $"tensor[{string.Join(",", t.shape)}]:{hash}";
    }

    /// <summary>Whether an option of this type can be set from text by <see cref="WithOption"/>.</summary>
    internal static bool IsTextSettable(Type type)
    {
        var u = Nullable.GetUnderlyingType(type) ?? type;
        return u == typeof(int) || u == typeof(long) || u == typeof(double) || u == typeof(bool) || u == typeof(string) || u.IsEnum
               || type == typeof(IReadOnlyList<double>) || type == typeof(double[]);
    }

    static string Normalise(string s) => new string(s.Where(char.IsLetterOrDigit).ToArray()).ToLowerInvariant();

    /// <summary>
    /// A copy of the options record <paramref name="options"/> with the option called <paramref name="name"/> set from the text
    /// <paramref name="value"/>. Names are matched ignoring case, '-' and '_' (<c>mask-size</c> = <c>MaskSize</c>). Values:
    /// numbers in invariant culture, <c>true</c>/<c>false</c>, enum members by name (e.g. <c>logit</c>), <c>null</c> for an
    /// optional one, lists as <c>a;b;c</c>. Tensor- and delegate-valued options cannot be set from text.
    /// </summary>
    /// <param name="method">The method's name, for the messages.</param>
    /// <exception cref="ArgumentException">Unknown option (the message lists the settable ones) or a value that does not parse.</exception>
    /// <param name="options">The options record to start from (not changed).</param>
    /// <param name="name">The option's name as in the record (case and '-' ignored, e.g. <c>mask-size</c>).</param>
    /// <param name="value">The value as text (invariant culture).</param>
    public static object WithOption(object options, string name, string value, string? method = null)
    {
        var type = options.GetType();
        var who = method ?? type.Name;
        var props = OptionProperties(type).ToArray();
        var settable = props.Where(p => IsTextSettable(p.PropertyType)).Select(p => p.Name).ToArray();
        var p = props.FirstOrDefault(q => Normalise(q.Name) == Normalise(name ?? ""));
        if (p is null)
            throw new ArgumentException(settable.Length == 0
                ? $"Method '{who}' has no options; got '{name}'."
                : $"Method '{who}' has no option '{name}'. Its options: {string.Join(", ", settable)}.");
        if (!IsTextSettable(p.PropertyType))
            throw new ArgumentException($"Option '{p.Name}' of '{who}' is a {p.PropertyType.Name} and cannot be set from text; set it in code.");
        var parsed = ParseValue(p.PropertyType, value ?? "", $"{who} option {p.Name}");
        var clone = type.GetMethod("<Clone>$")?.Invoke(options, null)
                    ?? throw new ArgumentException($"{type.Name} is not a record; its options cannot be copied.");
        var setter = p.GetSetMethod(nonPublic: true)
                     ?? throw new ArgumentException($"Option '{p.Name}' of '{who}' is read-only.");
        setter.Invoke(clone, new[] { parsed });
        return clone;
    }

    static object? ParseValue(Type type, string text, string what)
    {
        var s = text.Trim();
        var u = Nullable.GetUnderlyingType(type);
        if (u is not null || type == typeof(string))
            if (s.Equals("null", StringComparison.OrdinalIgnoreCase) || s.Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        var t = u ?? type;
        var inv = CultureInfo.InvariantCulture;
        if (t == typeof(string)) return s;
        if (t == typeof(int))
            return int.TryParse(s, NumberStyles.Integer, inv, out var i) ? i : throw new ArgumentException($"{what}: expected a whole number; got '{text}'.");
        if (t == typeof(long))
            return long.TryParse(s, NumberStyles.Integer, inv, out var l) ? l : throw new ArgumentException($"{what}: expected a whole number; got '{text}'.");
        if (t == typeof(double))
            return TryDouble(s, out var d) ? d : throw new ArgumentException($"{what}: expected a number; got '{text}'.");
        if (t == typeof(bool))
            return bool.TryParse(s, out var b) ? b : throw new ArgumentException($"{what}: expected true or false; got '{text}'.");
        if (t.IsEnum)
        {
            var names = Enum.GetNames(t);
            var hit = names.FirstOrDefault(n => Normalise(n) == Normalise(s));
            return hit is not null ? Enum.Parse(t, hit) : throw new ArgumentException($"{what}: expected one of {string.Join(", ", names)}; got '{text}'.");
        }
        if (type == typeof(IReadOnlyList<double>) || type == typeof(double[]))
        {
            var parts = s.Split(new[] { ';', ',' }, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var list = new double[parts.Length];
            for (int k = 0; k < parts.Length; k++)
                if (!TryDouble(parts[k], out list[k])) throw new ArgumentException($"{what}: expected numbers separated by ';'; got '{text}'.");
            if (list.Length == 0) throw new ArgumentException($"{what}: expected at least one number (a;b;c); got '{text}'.");
            return list;
        }
        throw new ArgumentException($"{what}: a {type.Name} cannot be set from text.");
    }

    static bool TryDouble(string s, out double d) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d) && double.IsFinite(d);
}
