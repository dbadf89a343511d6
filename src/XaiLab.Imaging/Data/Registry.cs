namespace XaiLab.Imaging.Data;

/// <summary>A dataset known by name. <see cref="Open"/> takes the split ("train", "val", "test").</summary>
/// <param name="Name">Registry name, e.g. <c>fashion-scenes</c>, <c>voc07-test</c>.</param>
/// <param name="Description">One line for <c>data list</c>.</param>
/// <param name="IsAvailable">Whether the data are on this machine now.</param>
/// <param name="FetchHint">The command that makes it available (shown by <c>data list</c> when missing).</param>
/// <param name="Open">Opens a split (train, val, test, or the dataset's own split names).</param>
public sealed record DatasetEntry(string Name, string Description, Func<bool> IsAvailable, string FetchHint, Func<string, ISceneDataset> Open) : IRegistryEntry;

/// <summary>
/// Datasets by name (a <see cref="Registry{TEntry}"/>, like models and saliency methods). Entries register themselves from a <c>[ModuleInitializer]</c> next to their loader, so that
/// adding a dataset touches one file.
/// </summary>
public static class DatasetRegistry
{
    static readonly Registry<DatasetEntry> Entries = new("dataset");

    /// <summary>Adds <paramref name="entry"/>, replacing an entry of the same name (case-insensitive).</summary>
    public static void Register(DatasetEntry entry) => Entries.Register(entry, replace: true);

    /// <summary>Every registered dataset, ordered by name.</summary>
    public static IReadOnlyList<DatasetEntry> All => Entries.All.OrderBy(e => e.Name, StringComparer.Ordinal).ToArray();

    /// <summary>The entry named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static DatasetEntry Get(string name) => Entries.Find(name, _ => string.Join(", ", All.Select(x => x.Name)));

    /// <summary>Opens split <paramref name="split"/> of dataset <paramref name="name"/>; a missing dataset names its fetch command.</summary>
    public static ISceneDataset Open(string name, string split = "test")
    {
        var e = Get(name);
        if (!e.IsAvailable()) throw new InvalidOperationException($"Dataset '{name}' is not on this machine. Fetch it with: {e.FetchHint}");
        return e.Open(split);
    }
}

/// <summary>A model known by name.</summary>
/// <param name="Name">Registry name, e.g. <c>fashion-cnn</c>.</param>
/// <param name="Task">"single-label" (softmax) or "multi-label" (sigmoid).</param>
/// <param name="Dataset">The dataset it was trained/evaluated on (registry name).</param>
/// <param name="InputSize">(H,W) it expects.</param>
/// <param name="ClassNames">Its classes in logit order.</param>
/// <param name="HeldOutMetric">E.g. "accuracy 0.91 on fashion-scenes/test (1000 images)", or null if unknown.</param>
/// <param name="IsAvailable">Whether the weights (and what the loader needs) are on this machine now.</param>
/// <param name="Load">Builds the classifier with its weights (CPU, eval mode); the caller disposes it.</param>
/// <param name="FetchHint">The command that makes it available (shown by <c>models list</c> when missing).</param>
public sealed record ModelEntry(string Name, string Task, string Dataset, (int H, int W) InputSize, IReadOnlyList<string> ClassNames,
    string? HeldOutMetric, Func<bool> IsAvailable, string FetchHint, Func<Classifier> Load) : IRegistryEntry;

/// <summary>Models by name (a <see cref="Registry{TEntry}"/>); entries register themselves from a <c>[ModuleInitializer]</c> like datasets.</summary>
public static class ModelRegistry
{
    static readonly Registry<ModelEntry> Entries = new("model");

    /// <summary>Adds <paramref name="entry"/>, replacing an entry of the same name (case-insensitive).</summary>
    public static void Register(ModelEntry entry) => Entries.Register(entry, replace: true);

    /// <summary>Every registered model, ordered by name.</summary>
    public static IReadOnlyList<ModelEntry> All => Entries.All.OrderBy(e => e.Name, StringComparer.Ordinal).ToArray();

    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static ModelEntry Get(string name) => Entries.Find(name, _ => string.Join(", ", All.Select(x => x.Name)));

    /// <summary>Loads model <paramref name="name"/> (on the CPU; call <c>To(device)</c> after).</summary>
    public static Classifier Load(string name)
    {
        var e = Get(name);
        if (!e.IsAvailable()) throw new InvalidOperationException($"Model '{name}' is not on this machine. Get it with: {e.FetchHint}");
        return e.Load();
    }
}
