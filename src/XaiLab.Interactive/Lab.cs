using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using TorchSharp;
using XaiLab.Imaging;

namespace XaiLab.Interactive;

/// <summary>How large a notebook should size its experiments (set by <c>xailab reproduce --scale</c> or <c>XAILAB_SCALE</c>).</summary>
public enum Scale
{
    /// <summary>Minutes on a laptop CPU: few images, few iterations.</summary>
    Demo,
    /// <summary>The thesis' sizes; meant for a GPU.</summary>
    Full,
}

/// <summary>
/// The notebook entry point. The first cell of every XaiLab notebook references the package (the repository's
/// notebooks find the local feed <c>artifacts/feed</c> through <c>notebooks/nuget.config</c>; a notebook elsewhere
/// adds <c>#i "nuget: /path/to/xailab/artifacts/feed"</c> above the <c>#r</c>):
/// <code>
/// #r "nuget: XaiLab.Interactive, 0.3.0"
/// var lab = XaiLab.Interactive.Lab.Session;
/// lab
/// </code>
/// Referencing the package loads its kernel extension (<see cref="XaiLabKernelExtension"/>), which calls
/// <see cref="Start"/>: it registers the formatters, makes Plotly.NET work inside the Jupyter kernel (FSharp.Core),
/// embeds plotly.js for offline rendering, and reports the device and scale. <see cref="Start"/> can also be called
/// explicitly (after <c>#r "path/to/XaiLab.Interactive.dll"</c>); it is idempotent.
/// </summary>
public static class Lab
{
    /// <summary>Environment variable carrying the scale (<c>demo</c> or <c>full</c>) into notebooks; <c>xailab reproduce --scale</c> sets it.</summary>
    public const string ScaleVariable = "XAILAB_SCALE";

    static int _resolverInstalled;

    static LabSession? _session;

    /// <summary>Starts (or restarts) a notebook session; returns what it set up, which displays as a short summary.</summary>
    public static LabSession Start()
    {
        InstallFSharpCoreResolver();
        return _session = StartCore();
    }

    /// <summary>The session that the kernel extension (or the last <see cref="Start"/>) set up; starts one if none was.</summary>
    public static LabSession Session => _session ?? Start();

    /// <summary>The scale named by <c>XAILAB_SCALE</c> (demo when unset).</summary>
    /// <exception cref="ArgumentException">The variable holds something other than demo or full.</exception>
    public static Scale Scale => ParseScale(Environment.GetEnvironmentVariable(ScaleVariable));

    /// <summary>Parses "demo" or "full" (case-insensitive; null or empty → demo).</summary>
    public static Scale ParseScale(string? value) => (value ?? "").Trim().ToLowerInvariant() switch
    {
        "" or "demo" => Scale.Demo,
        "full" => Scale.Full,
        _ => throw new ArgumentException($"Unknown scale '{value}': expected 'demo' or 'full'."),
    };

    /// <summary>Picks <paramref name="demo"/> or <paramref name="full"/> by the session's scale.</summary>
    public static T ByScale<T>(T demo, T full) => Scale == Scale.Full ? full : demo;

    [MethodImpl(MethodImplOptions.NoInlining)]
    static LabSession StartCore()
    {
        Formatters.Register();
        PlotlyEmbedding.ResetSession();
        var device = Devices.Default;
        return new LabSession(Scale, Devices.Describe(device), typeof(torch).Assembly.GetName().Version?.ToString() ?? "?",
            typeof(Lab).Assembly.GetName().Version?.ToString() ?? "?");
    }

    /// <summary>
    /// Plotly.NET 6 was built against FSharp.Core 10.1; the .NET Interactive kernel already has FSharp.Core 10.0 loaded.
    /// Binding the newer reference to the loaded assembly is safe (Plotly.NET uses nothing new) and is what makes charts
    /// work in the Jupyter/VS Code kernel.
    /// </summary>
    static void InstallFSharpCoreResolver()
    {
        if (Interlocked.Exchange(ref _resolverInstalled, 1) == 1) return;
        AssemblyLoadContext.Default.Resolving += (_, name) =>
        {
            if (name.Name != "FSharp.Core") return null;
            return AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "FSharp.Core");
        };
    }
}

/// <summary>What <see cref="Lab.Start"/> set up.</summary>
public sealed record LabSession(Scale Scale, string Device, string TorchSharpVersion, string XaiLabVersion);
