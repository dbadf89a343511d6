using System.Runtime.InteropServices;
using TorchSharp;

namespace XaiLab.Imaging;

/// <summary>
/// Loads libtorch and TorchSharp's native layer from <em>our</em> files, by absolute path, before TorchSharp looks
/// for them by bare name. Without this, a host that does not carry our deps.json (a Jupyter/VS Code kernel after
/// <c>#r "nuget: XaiLab.Interactive"</c>) resolves <c>libtorch_cpu.so</c> through the system's library cache — on a
/// machine with Debian's <c>python3-torch</c> that is libtorch 1.13, which lacks symbols TorchSharp 0.107 needs
/// (or hangs in its static initialisers). Once a library of a given soname is loaded, later lookups by that soname
/// reuse it, so loading ours first is enough.
/// <para>Where libtorch is taken from, first match wins: the folder named by <c>XAILAB_LIBTORCH_DIR</c> (the
/// PyTorch-wheel GPU route: <c>scripts/with-torch-wheel.sh</c> sets it to the wheel's <c>torch/lib</c>); the application folder
/// (and its <c>runtimes/linux-x64/native</c>); the <c>libtorch-cpu-linux-x64</c> package next to the TorchSharp package
/// in the NuGet packages folder (<c>NUGET_PACKAGES</c>, with or without a trailing slash, or <c>~/.nuget/packages</c>).
/// A libtorch that merely sits on <c>LD_LIBRARY_PATH</c> or in the system's library folders never wins over these;
/// when none of them has one (a GPU build without CPU natives), TorchSharp's own search decides.</para>
/// </summary>
public static class TorchNatives
{
    /// <summary>Names the folder of a libtorch to use instead of ours (a PyTorch wheel's <c>torch/lib</c>).</summary>
    public const string DirectoryVariable = "XAILAB_LIBTORCH_DIR";

    /// <summary>The libtorch package version that TorchSharp 0.107 was built against.</summary>
    public const string LibTorchVersion = "2.10.0";

    static readonly object Gate = new();
    static bool _done;

    /// <summary>The folder libtorch was loaded from by <see cref="Preload"/>, or null if it did not load it.</summary>
    public static string? LoadedFrom { get; private set; }

    /// <summary>
    /// Loads libc10, libtorch_cpu, libtorch and libLibTorchSharp by absolute path (Linux only; idempotent).
    /// </summary>
    public static void Preload()
    {
        if (!OperatingSystem.IsLinux()) return;
        lock (Gate)
        {
            if (_done) return;
            _done = true;
            var dir = FindLibTorchFolder(Environment.GetEnvironmentVariable(DirectoryVariable), AppContext.BaseDirectory,
                                         PackageRoots());
            if (dir is null) return; // TorchSharp's own search (and its error) takes over
            // Already loaded (by the host, or by TorchSharp before us): nothing can be unloaded, so keep it; if it is the
            // wrong one, Devices.EnsureNativeLoaded's error names it.
            var mapped = LoadedLibraries().FirstOrDefault(p => Path.GetFileName(p).StartsWith("libtorch_cpu.so", StringComparison.Ordinal));
            if (mapped is not null) { LoadedFrom = Path.GetDirectoryName(mapped); return; }
            foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
            {
                var p = Path.Combine(dir, name);
                if (File.Exists(p)) NativeLibrary.Load(p);
            }
            var sharp = FindLibTorchSharp(dir, AppContext.BaseDirectory, typeof(torch).Assembly.Location);
            if (sharp is not null) NativeLibrary.Load(sharp);
            LoadedFrom = dir;
        }
    }

    /// <summary>
    /// The folder that holds <c>libtorch_cpu.so</c>: <paramref name="explicitDir"/>, else <paramref name="appDir"/>
    /// (or its <c>runtimes/linux-x64/native</c>), or in <c>libtorch-cpu-linux-x64/VERSION/runtimes/linux-x64/native</c>
    /// under one of <paramref name="packageRoots"/>; null when none has it.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException"><paramref name="explicitDir"/> is set but holds no libtorch_cpu.so.</exception>
    public static string? FindLibTorchFolder(string? explicitDir, string appDir, IEnumerable<string> packageRoots)
    {
        if (!string.IsNullOrWhiteSpace(explicitDir))
            return File.Exists(Path.Combine(explicitDir, "libtorch_cpu.so")) ? Path.GetFullPath(explicitDir)
                : throw new DirectoryNotFoundException($"{DirectoryVariable}={explicitDir} holds no libtorch_cpu.so (expected a PyTorch wheel's torch/lib folder).");
        foreach (var d in new[] { Path.Combine(appDir, "runtimes", "linux-x64", "native"), appDir })
            if (File.Exists(Path.Combine(d, "libtorch_cpu.so"))) return Path.GetFullPath(d);
        foreach (var root in packageRoots)
        {
            var d = Path.Combine(root, "libtorch-cpu-linux-x64", LibTorchVersion, "runtimes", "linux-x64", "native");
            if (File.Exists(Path.Combine(d, "libtorch_cpu.so"))) return Path.GetFullPath(d);
        }
        return null;
    }

    /// <summary>NuGet package folders to search: the one holding TorchSharp itself, <c>NUGET_PACKAGES</c>, <c>~/.nuget/packages</c>.</summary>
    public static IEnumerable<string> PackageRoots()
    {
        var roots = new List<string>();
        // …/torchsharp/0.107.0/lib/net8.0/TorchSharp.dll → the packages folder is four levels up.
        var asm = typeof(torch).Assembly.Location;
        if (!string.IsNullOrEmpty(asm))
        {
            var d = new DirectoryInfo(Path.GetDirectoryName(asm)!);
            var up = d.Parent?.Parent?.Parent?.Parent;
            if (up is not null && d.Parent?.Parent?.Parent?.Name.Equals("torchsharp", StringComparison.OrdinalIgnoreCase) == true) roots.Add(up.FullName);
        }
        var env = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (!string.IsNullOrWhiteSpace(env)) roots.Add(Path.TrimEndingDirectorySeparator(env.Trim()));
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home)) roots.Add(Path.Combine(home, ".nuget", "packages"));
        return roots.Distinct();
    }

    static string? FindLibTorchSharp(string libtorchDir, string appDir, string torchSharpAssembly)
    {
        var candidates = new List<string> { Path.Combine(appDir, "runtimes", "linux-x64", "native"), appDir, libtorchDir };
        if (!string.IsNullOrEmpty(torchSharpAssembly))
        {
            var pkg = new DirectoryInfo(Path.GetDirectoryName(torchSharpAssembly)!).Parent?.Parent; // …/torchsharp/0.107.0
            if (pkg is not null) candidates.Add(Path.Combine(pkg.FullName, "runtimes", "linux-x64", "native"));
        }
        return candidates.Select(c => Path.Combine(c, "libLibTorchSharp.so")).FirstOrDefault(File.Exists);
    }

    /// <summary>Paths of the shared libraries mapped into this process (from /proc/self/maps).</summary>
    public static IReadOnlyList<string> LoadedLibraries()
    {
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(l => l.IndexOf('/') is var i and >= 0 ? l[i..] : "")
                .Where(p => p.Contains(".so", StringComparison.Ordinal))
                .Distinct().ToList();
        }
        catch (IOException) { return Array.Empty<string>(); }
        catch (UnauthorizedAccessException) { return Array.Empty<string>(); }
    }
}
