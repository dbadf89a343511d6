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

    /// <summary>The message when CUDA is asked for but this process' libtorch has none: the two ways to get a CUDA libtorch.</summary>
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
            // The intra-op thread count must be in OpenMP's environment before libtorch (and its libgomp) loads:
            // afterwards it can only be changed per calling thread.
            var (threads, why) = ChooseThreads(Environment.GetEnvironmentVariable(ThreadsVariable), Environment.GetEnvironmentVariable("OMP_NUM_THREADS"), Environment.ProcessorCount, LoadAverage());
            if (threads is { } n) SetNativeEnvironment("OMP_NUM_THREADS", n.ToString());
            TorchNatives.Preload();
            torch.InitializeDeviceType(DeviceType.CPU);
            _loaded = true;
            if (threads is { } m) torch.set_num_threads(m);
            ThreadChoice = $"{torch.get_num_threads()} torch thread(s): {why}";
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

    /// <summary>Environment variable for torch's intra-op CPU threads: a number, <c>all</c> (every core) or <c>auto</c> (default).</summary>
    public const string ThreadsVariable = "XAILAB_THREADS";

    /// <summary>Why torch runs with its current thread count (set when libtorch loads), e.g. for benchmark output.</summary>
    public static string ThreadChoice { get; private set; } = "libtorch not loaded yet";

    /// <summary>
    /// The thread policy: <c>XAILAB_THREADS</c> = N or <c>all</c> wins; otherwise a user's <c>OMP_NUM_THREADS</c> is
    /// left alone (null); otherwise <c>auto</c>: the cores that the 1-minute load average leaves free, rounded, at
    /// least 1 — on a busy 2-core machine one thread, because two OpenMP threads that spin-wait for each other on
    /// cores other processes hold collapse by 5–10× (measured: <c>bench</c> prints 1 vs 2 threads).
    /// </summary>
    /// <param name="setting">The value of <c>XAILAB_THREADS</c>.</param>
    /// <param name="ompNumThreads">The value of <c>OMP_NUM_THREADS</c>.</param>
    /// <param name="cores">Logical cores.</param>
    /// <param name="loadAverage">The 1-minute load average, or null.</param>
    /// <returns>The thread count to set (null = leave libtorch's default) and the reason in words.</returns>
    /// <exception cref="ArgumentException">XAILAB_THREADS is neither a positive number, <c>all</c> nor <c>auto</c>.</exception>
    public static (int? Threads, string Reason) ChooseThreads(string? setting, string? ompNumThreads, int cores, double? loadAverage)
    {
        var v = (setting ?? "").Trim().ToLowerInvariant();
        if (v == "all") return (cores, $"{ThreadsVariable}=all ({cores} cores)");
        if (v.Length > 0 && v != "auto")
        {
            if (!int.TryParse(v, out var n) || n < 1)
                throw new ArgumentException($"{ThreadsVariable}='{setting}': expected a positive number of threads, 'all' or 'auto'.");
            return (n, $"{ThreadsVariable}={n}");
        }
        if (!string.IsNullOrWhiteSpace(ompNumThreads)) return (null, $"OMP_NUM_THREADS={ompNumThreads} (set by the user)");
        if (loadAverage is not { } load) return (cores, $"auto: all {cores} cores (no load average available)");
        int free = Math.Clamp((int)Math.Floor(cores - load + 0.5), 1, cores);
        return (free, $"auto: {cores} cores, load average {load:F2} leaves {free} free");
    }

    /// <summary>Sets torch's intra-op thread count for the calling thread and threads started later by libtorch.</summary>
    /// <exception cref="ArgumentException">Fewer than 1 thread.</exception>
    public static void SetThreads(int threads)
    {
        if (threads < 1) throw new ArgumentException($"Torch needs at least 1 thread; got {threads}.", nameof(threads));
        EnsureNativeLoaded();
        torch.set_num_threads(threads);
        ThreadChoice = $"{threads} torch thread(s): set by the program";
    }

    /// <summary>The 1-minute load average from <c>/proc/loadavg</c>, or null where there is none.</summary>
    public static double? LoadAverage()
    {
        try
        {
            if (!File.Exists("/proc/loadavg")) return null;
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.TryParse(first, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var l) ? l : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setenv")]
    static extern int NativeSetenv(string name, string value, int overwrite);

    // .NET keeps its own copy of the environment on Unix; native libraries (libgomp) read the C environment.
    static void SetNativeEnvironment(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            try { NativeSetenv(name, value, 1); }
            catch (DllNotFoundException) { }
            catch (EntryPointNotFoundException) { }
        }
    }

    /// <summary>A one-line description of the device for logs and benchmark output.</summary>
    public static string Describe(Device device)
    {
        if (device.type == DeviceType.CUDA) return $"cuda:{device.index} (CUDA, {cuda.device_count()} device(s))";
        return $"cpu ({Environment.ProcessorCount} cores, {torch.get_num_threads()} torch threads)";
    }
}
