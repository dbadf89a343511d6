namespace XaiLab.Imaging.Data;

/// <summary>
/// Where downloaded data and weights live: <c>$XAILAB_DATA</c> when set, else the <c>data/</c> folder of the
/// repository (found from the working directory or the application folder by looking for <c>Notebooks.sln</c>),
/// else <c>./data</c>. The data scripts (<c>data-scripts/fetch-*.sh</c>) write to the same place.
/// </summary>
public static class DataLocations
{
    /// <summary>Environment variable that overrides the data root.</summary>
    public const string EnvironmentVariable = "XAILAB_DATA";

    /// <summary>The data roots searched, most specific first (existing or not).</summary>
    public static IReadOnlyList<string> Roots
    {
        get
        {
            var roots = new List<string>();
            var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(env)) roots.Add(Path.GetFullPath(env));
            foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            {
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                    if (File.Exists(Path.Combine(dir.FullName, "Notebooks.sln"))) { roots.Add(Path.Combine(dir.FullName, "data")); break; }
            }
            roots.Add(Path.GetFullPath("data"));
            return roots.Distinct().ToArray();
        }
    }

    /// <summary>The first existing path <c>root/relative</c> (file or folder) over <see cref="Roots"/>, or null.</summary>
    public static string? Find(string relative)
    {
        foreach (var root in Roots)
        {
            var p = Path.Combine(root, relative);
            if (File.Exists(p) || Directory.Exists(p)) return p;
        }
        return null;
    }
}
