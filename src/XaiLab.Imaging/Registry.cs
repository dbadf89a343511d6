namespace XaiLab.Imaging;

/// <summary>Something a <see cref="Registry{TEntry}"/> holds: a canonical name and other accepted names.</summary>
public interface IRegistryEntry
{
    /// <summary>The canonical name (looked up case-insensitively).</summary>
    string Name { get; }
    /// <summary>Other accepted names; none by default.</summary>
    IReadOnlyList<string> Aliases => Array.Empty<string>();
}

/// <summary>
/// The one registry behind <see cref="Data.DatasetRegistry"/>, <see cref="Data.ModelRegistry"/> and the saliency methods
/// (<c>XaiLab.Saliency.Methods.SaliencyMethods</c>): entries by case-insensitive name or alias, in registration order,
/// thread-safe, with one-line errors that list what is known.
/// <code>
/// var colours = new Registry&lt;MyEntry&gt;("colour");
/// colours.Register(new MyEntry("red"));
/// colours.Find("RED");   // the entry; colours.Find("blue") throws "Unknown colour 'blue'. Known colours: red."
/// </code>
/// </summary>
/// <typeparam name="TEntry">The entry type.</typeparam>
/// <param name="kind">What an entry is, for messages ("dataset", "model", "saliency method").</param>
/// <param name="plural">Its plural; default <paramref name="kind"/> + "s".</param>
public sealed class Registry<TEntry>(string kind, string? plural = null) where TEntry : class, IRegistryEntry
{
    readonly List<TEntry> _entries = new();
    readonly object _gate = new();

    /// <summary>What an entry is, for messages.</summary>
    public string Kind { get; } = kind;
    /// <summary>The plural of <see cref="Kind"/>.</summary>
    public string Plural { get; } = plural ?? kind + "s";

    /// <summary>The lookup key of a name: trimmed, lower case.</summary>
    public static string Key(string? name) => (name ?? "").Trim().ToLowerInvariant();

    /// <summary>Every entry in registration order (a replaced entry keeps its place).</summary>
    public IReadOnlyList<TEntry> All { get { lock (_gate) return _entries.ToArray(); } }

    /// <summary>
    /// Adds <paramref name="entry"/>. With <paramref name="replace"/> an entry of the same canonical name is replaced;
    /// otherwise a name or alias that is taken already is an error.
    /// </summary>
    /// <exception cref="ArgumentException">A name or alias is taken (and <paramref name="replace"/> is false), or the name is empty.</exception>
    public void Register(TEntry entry, bool replace = false)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (Key(entry.Name).Length == 0) throw new ArgumentException($"A {Kind} needs a name.");
        lock (_gate)
        {
            int same = _entries.FindIndex(e => Key(e.Name) == Key(entry.Name));
            if (replace && same >= 0) { _entries[same] = entry; return; }
            foreach (var n in entry.Aliases.Prepend(entry.Name))
                if (TryFindLocked(n) is not null)
                    throw new ArgumentException($"{char.ToUpperInvariant(Kind[0])}{Kind[1..]} name '{n}' is taken already.");
            _entries.Add(entry);
        }
    }

    /// <summary>The entry called <paramref name="name"/> (case-insensitive, aliases accepted), or null.</summary>
    public TEntry? TryFind(string? name) { lock (_gate) return TryFindLocked(name); }

    TEntry? TryFindLocked(string? name)
    {
        var key = Key(name);
        return _entries.FirstOrDefault(e => Key(e.Name) == key) ?? _entries.FirstOrDefault(e => e.Aliases.Any(a => Key(a) == key));
    }

    /// <summary>The entry called <paramref name="name"/>.</summary>
    /// <param name="name">A canonical name or alias, any case.</param>
    /// <param name="known">The list of known names in the error; default every canonical name in registration order.</param>
    /// <exception cref="ArgumentException">Unknown name: "Unknown KIND 'name'. Known PLURAL: a, b, c."</exception>
    public TEntry Find(string? name, Func<IReadOnlyList<TEntry>, string>? known = null) =>
        TryFind(name) ?? throw new ArgumentException($"Unknown {Kind} '{name}'. Known {Plural}: {(known ?? (all => string.Join(", ", all.Select(e => e.Name))))(All)}.");
}
