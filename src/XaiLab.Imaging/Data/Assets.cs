namespace XaiLab.Imaging.Data;

/// <summary>
/// Where the repository's embedded assets live (Fashion-MNIST test subset, background photos, trained weights):
/// the folder named by <c>XAILAB_ASSETS</c> if set, else the first <c>assets/</c> folder found walking up from
/// <see cref="AppContext.BaseDirectory"/> (so the CLI in <c>artifacts/xailab/</c> and the test <c>bin/</c> both find
/// the checkout's <c>assets/</c>), else from the current directory.
/// </summary>
public static class Assets
{
    public const string EnvironmentVariable = "XAILAB_ASSETS";

    /// <summary>The assets folder, or null when none is found.</summary>
    public static string? TryRoot()
    {
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) return Directory.Exists(env) ? Path.GetFullPath(env) : null;
        return WalkUp(AppContext.BaseDirectory) ?? WalkUp(Directory.GetCurrentDirectory());
    }

    /// <summary>The assets folder.</summary>
    /// <exception cref="DirectoryNotFoundException">Neither <c>XAILAB_ASSETS</c> nor an <c>assets/</c> folder above the program was found.</exception>
    public static string Root => TryRoot() ?? throw new DirectoryNotFoundException(
        $"No 'assets/' folder found above {AppContext.BaseDirectory} or {Directory.GetCurrentDirectory()}, and {EnvironmentVariable} is " +
        (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(EnvironmentVariable)) ? "not set" : $"'{Environment.GetEnvironmentVariable(EnvironmentVariable)}', which does not exist") +
        ". Run from a checkout of the repository or set " + EnvironmentVariable + ".");

    /// <summary>The path of <paramref name="relative"/> inside the assets folder (it need not exist).</summary>
    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>Whether <paramref name="relative"/> exists inside the assets folder.</summary>
    public static bool Exists(string relative) => TryRoot() is { } r && File.Exists(Path.Combine(r, relative));

    static string? WalkUp(string start)
    {
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "assets");
            if (Directory.Exists(candidate) && Directory.Exists(Path.Combine(candidate, "fashion"))) return candidate;
        }
        return null;
    }
}
