using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging;

/// <summary>
/// Chooses the torch device. CPU by default; CUDA when asked for by name (<c>cuda</c>, <c>cuda:1</c>) or by the
/// environment variable <c>XAILAB_DEVICE</c>. Asking for CUDA where it is not available is an error that names
/// the two ways to get it (README, "Running on an NVIDIA GPU").
/// </summary>
public static class Devices
{
    /// <summary>Environment variable read by <see cref="Default"/>: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public const string EnvironmentVariable = "XAILAB_DEVICE";

    public const string CudaRecipe =
        "CUDA was requested but libtorch has no CUDA support in this process. Either build with " +
        "-p:TorchBackend=cuda (references TorchSharp-cuda-linux from nuget.org), or start the command through " +
        "scripts/with-torch-wheel.sh, which puts an installed PyTorch CUDA wheel's libraries on LD_LIBRARY_PATH " +
        "(README: 'Running on an NVIDIA GPU').";

    static Device? _default;

    /// <summary>The device named by <c>XAILAB_DEVICE</c>, else the CPU. Resolved once per process.</summary>
    public static Device Default
    {
        get => _default ??= Resolve(Environment.GetEnvironmentVariable(EnvironmentVariable));
        set => _default = value;
    }

    /// <summary>Parses <paramref name="name"/> (null or empty means CPU) and checks that the device exists.</summary>
    /// <exception cref="ArgumentException">The name is neither <c>cpu</c> nor <c>cuda[:N]</c>.</exception>
    /// <exception cref="InvalidOperationException">CUDA was named but is not available; the message says how to set it up.</exception>
    public static Device Resolve(string? name)
    {
        EnsureNativeLoaded();
        var n = (name ?? "").Trim().ToLowerInvariant();
        if (n is "" or "cpu") return CPU;
        if (n == "cuda" || n.StartsWith("cuda:"))
        {
            if (!cuda.is_available()) throw new InvalidOperationException(CudaRecipe);
            int index = 0;
            if (n.Length > 5 && !int.TryParse(n[5..], out index))
                throw new ArgumentException($"Unknown device '{name}': expected 'cpu', 'cuda' or 'cuda:N'.");
            if (index >= cuda.device_count())
                throw new ArgumentException($"Device '{name}' does not exist: this machine has {cuda.device_count()} CUDA device(s).");
            return new Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"Unknown device '{name}': expected 'cpu', 'cuda' or 'cuda:N'.");
    }

    static bool _loaded;

    /// <summary>
    /// Forces libtorch to load. The managed <c>torch.nn</c> types do not trigger native loading, so every
    /// entry point calls this before building modules; a failure is reported with the likely cause.
    /// </summary>
    public static void EnsureNativeLoaded()
    {
        if (_loaded) return;
        try
        {
            TorchNatives.Preload();
            torch.InitializeDeviceType(DeviceType.CPU);
            _loaded = true;
        }
        catch (Exception e)
        {
            var mapped = TorchNatives.LoadedLibraries().FirstOrDefault(l => Path.GetFileName(l).StartsWith("libtorch_cpu.so", StringComparison.Ordinal));
            throw new InvalidOperationException(
                "libtorch could not be loaded" + (mapped is null ? "" : $" (this process has {mapped})") +
                $"; XaiLab needs libtorch {TorchNatives.LibTorchVersion} (package libtorch-cpu-linux-x64, or a PyTorch wheel on LD_LIBRARY_PATH) " +
                "and, on Debian 12, the libLibTorchSharp.so that 'dotnet build' patches (build/TorchSharpFix.targets). Inner error: " +
                FirstLine(e.InnerException?.Message ?? e.Message), e);
        }
    }

    static string FirstLine(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? s;

    /// <summary>A one-line description of the device for logs and benchmark output.</summary>
    public static string Describe(Device device)
    {
        if (device.type == DeviceType.CUDA) return $"cuda:{device.index} (CUDA, {cuda.device_count()} device(s))";
        return $"cpu ({Environment.ProcessorCount} cores, {torch.get_num_threads()} torch threads)";
    }
}
