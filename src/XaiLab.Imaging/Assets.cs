namespace XaiLab.Imaging;

/// <summary>
/// Locates the repository's <c>assets/</c> folder (embedded default data and weights): <c>$XAILAB_ASSETS</c> if set,
/// else the first <c>assets/</c> folder above the working directory, above this assembly's folder, or above the
/// process' base directory — so the CLI, the tests and a notebook kernel all find it.
/// </summary>
public static class Assets
{
    /// <summary>Environment variable that names the assets folder explicitly (it wins over the search above the working directory).</summary>
    public const string EnvironmentVariable = "XAILAB_ASSETS";
    static string? _root;

    /// <exception cref="DirectoryNotFoundException">No assets folder was found; the message says where it looked.</exception>
    public static string Root => _root ??= Find();

    /// <summary>The assets folder, or null when none is found.</summary>
    public static string? TryRoot()
    {
        try { return Root; }
        catch (DirectoryNotFoundException) { return null; }
    }

    /// <summary>The path of <paramref name="relative"/> inside the assets folder (it need not exist).</summary>
    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>Whether <paramref name="relative"/> exists inside the assets folder.</summary>
    public static bool Exists(string relative) => TryRoot() is { } r && System.IO.File.Exists(Path.Combine(r, relative));

    /// <summary>The full path of <paramref name="relative"/> under <see cref="Root"/>; the file must exist.</summary>
    /// <exception cref="FileNotFoundException">The asset is missing.</exception>
    public static string File(string relative)
    {
        var p = Path.Combine(Root, relative);
        if (!System.IO.File.Exists(p)) throw new FileNotFoundException($"Asset '{relative}' is missing from {Root}.", p);
        return p;
    }

    static string Find()
    {
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(env))
            return Directory.Exists(env) ? Path.GetFullPath(env) : throw new DirectoryNotFoundException($"{EnvironmentVariable}={env} is not a folder.");
        var starts = new[] { Directory.GetCurrentDirectory(), Path.GetDirectoryName(typeof(Assets).Assembly.Location) ?? "", AppContext.BaseDirectory };
        foreach (var start in starts.Where(s => s.Length > 0))
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var a = Path.Combine(d.FullName, "assets");
                if (Directory.Exists(a) && System.IO.File.Exists(Path.Combine(a, "README.md"))) return a;
            }
        throw new DirectoryNotFoundException($"No XaiLab assets/ folder (with README.md) above {string.Join(" or ", starts)}; set {EnvironmentVariable}.");
    }
}
