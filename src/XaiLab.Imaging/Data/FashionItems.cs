namespace XaiLab.Imaging.Data;

/// <summary>
/// A pool of Fashion-MNIST items (28×28 grey images with labels 0..9) from which Fashion scenes draw their objects.
/// <list type="bullet">
/// <item><see cref="Train"/>: the full 60k training set of the Debian package <c>dataset-fashion-mnist</c>
/// (folder <c>XAILAB_FASHION_MNIST</c> or <c>/usr/share/datasets/fashion-mnist</c>); the train split uses items 0..54999,
/// the val split 55000..59999.</item>
/// <item><see cref="EmbeddedTest"/>: the first 2000 items of the 10k test set, committed under
/// <c>assets/fashion/</c> (<c>data-scripts/make-assets.sh</c>); the test split uses only these, so it can be generated on a
/// fresh clone.</item>
/// </list>
/// </summary>
public sealed class FashionItems
{
    /// <summary>The ten Fashion-MNIST classes in label order.</summary>
    public static readonly IReadOnlyList<string> ClassNames = new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    /// <summary>Environment variable naming a folder with the full Fashion-MNIST idx files (overrides <see cref="DebianFolder"/>).</summary>
    public const string DataFolderVariable = "XAILAB_FASHION_MNIST";
    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs the idx files.</summary>
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";
    /// <summary>Path below <c>assets/</c> of the embedded test-subset images (idx3, gzip).</summary>
    public const string EmbeddedImages = "fashion/t10k-subset-images-idx3-ubyte.gz";
    /// <summary>Path below <c>assets/</c> of the embedded test-subset labels (idx1, gzip).</summary>
    public const string EmbeddedLabels = "fashion/t10k-subset-labels-idx1-ubyte.gz";
    /// <summary>The command that installs the full training set, shown when it is missing.</summary>
    public const string FetchHint = "data-scripts/prepare-fashion.sh (apt-get install dataset-fashion-mnist)";

    /// <param name="source">Where the items came from (for messages).</param>
    /// <param name="images">Images <c>[N,28,28]</c>.</param>
    /// <param name="labels">N labels in 0..9.</param>
    public FashionItems(string source, IdxImages images, byte[] labels)
    {
        if (labels.Length != images.Count)
            throw new InvalidDataException($"{source}: {images.Count} images but {labels.Length} labels.");
        var bad = Array.FindIndex(labels, l => l >= ClassNames.Count);
        if (bad >= 0) throw new InvalidDataException($"{source}: label {labels[bad]} of item {bad} is outside 0..{ClassNames.Count - 1}.");
        Source = source; Images = images; Labels = labels;
    }

    /// <summary>Where the items came from (file or folder), for messages.</summary>
    public string Source { get; }
    /// <summary>The 28×28 grey item images <c>[N,28,28]</c> (bytes 0..255).</summary>
    public IdxImages Images { get; }
    /// <summary>The N labels, each in 0..9 (index into <see cref="ClassNames"/>).</summary>
    public byte[] Labels { get; }
    /// <summary>Number of items N.</summary>
    public int Count => Images.Count;

    /// <summary>The item indices of each class within [<paramref name="start"/>, <paramref name="end"/>), ascending.</summary>
    public int[][] IndicesByClass(int start, int end)
    {
        if (start < 0 || end > Count || start >= end) throw new ArgumentOutOfRangeException(nameof(end), $"Item range [{start},{end}) is not inside 0..{Count} of {Source}.");
        var lists = Enumerable.Range(0, ClassNames.Count).Select(_ => new List<int>()).ToArray();
        for (int i = start; i < end; i++) lists[Labels[i]].Add(i);
        for (int c = 0; c < lists.Length; c++)
            if (lists[c].Count == 0) throw new InvalidDataException($"{Source}: no item of class {c} ({ClassNames[c]}) in [{start},{end}).");
        return lists.Select(l => l.ToArray()).ToArray();
    }

    /// <summary>The folder of the full Debian dataset (<c>XAILAB_FASHION_MNIST</c> or the Debian path).</summary>
    public static string DataFolder => Environment.GetEnvironmentVariable(DataFolderVariable) is { Length: > 0 } d ? d : DebianFolder;

    /// <summary>Whether the full training set is on this machine.</summary>
    public static bool TrainAvailable =>
        File.Exists(Path.Combine(DataFolder, "train-images-idx3-ubyte.gz")) && File.Exists(Path.Combine(DataFolder, "train-labels-idx1-ubyte.gz"));

    /// <summary>Whether the embedded test subset is present under <c>assets/</c>.</summary>
    public static bool EmbeddedAvailable => Assets.Exists(EmbeddedImages) && Assets.Exists(EmbeddedLabels);

    static readonly Lazy<FashionItems> _train = new(() => LoadPair(DataFolder, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", needTrain: true));
    static readonly Lazy<FashionItems> _test = new(() => LoadPair(Assets.Root, EmbeddedImages, EmbeddedLabels, needTrain: false));

    /// <summary>The 60k Fashion-MNIST training items (loaded once per process).</summary>
    /// <exception cref="FileNotFoundException">The Debian dataset is not installed; the message names the fetch script.</exception>
    public static FashionItems Train => _train.Value;

    /// <summary>The embedded 2000 test items (loaded once per process).</summary>
    public static FashionItems EmbeddedTest => _test.Value;

    static FashionItems LoadPair(string folder, string images, string labels, bool needTrain)
    {
        var ip = Path.Combine(folder, images);
        var lp = Path.Combine(folder, labels);
        if (!File.Exists(ip) || !File.Exists(lp))
            throw new FileNotFoundException(needTrain
                ? $"Fashion-MNIST training data not found ({ip}). The train/val splits of the Fashion scenes need it: run {FetchHint}, or set {DataFolderVariable}."
                : $"Embedded Fashion-MNIST subset not found ({ip}). Regenerate it with data-scripts/make-assets.sh.", ip);
        return new FashionItems(ip, Idx.ReadImages(ip), Idx.ReadLabels(lp));
    }
}
