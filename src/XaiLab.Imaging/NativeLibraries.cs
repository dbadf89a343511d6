using System.Reflection;
using System.Runtime.InteropServices;

namespace XaiLab.Imaging;

/// <summary>
/// Helps SkiaSharp find its native library when XaiLab is loaded into a host that does not know our dependencies —
/// a Jupyter/VS Code kernel that <c>#r</c>'s <c>artifacts/xailab/*.dll</c> has no deps.json entry for
/// <c>runtimes/linux-x64/native/libSkiaSharp.so</c>. (TorchSharp probes for its natives itself.)
/// </summary>
internal static class NativeLibraries
{
    static int _done;

    public static void EnsureSkia()
    {
        if (Interlocked.Exchange(ref _done, 1) == 1) return;
        var skia = typeof(SkiaSharp.SKBitmap).Assembly;
        try
        {
            NativeLibrary.SetDllImportResolver(skia, Resolve);
        }
        catch (InvalidOperationException)
        {
            // The host (or SkiaSharp itself) already installed a resolver; its choice stands.
        }
    }

    static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (NativeLibrary.TryLoad(name, assembly, path, out var handle)) return handle;
        var dir = Path.GetDirectoryName(assembly.Location);
        if (string.IsNullOrEmpty(dir)) return IntPtr.Zero;
        var rid = RuntimeInformation.RuntimeIdentifier.StartsWith("linux-arm64") ? "linux-arm64" : "linux-x64";
        var file = name.EndsWith(".so") ? name : name + ".so";
        foreach (var candidate in new[] { Path.Combine(dir, "runtimes", rid, "native", file), Path.Combine(dir, file) })
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out handle)) return handle;
        return IntPtr.Zero;
    }
}
