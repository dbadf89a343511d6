namespace XaiLab.Tests;

/// <summary>
/// Names of the collections whose tests need process-global state and therefore run alone, after the parallel ones
/// (<c>DisableParallelization = true</c>). The formatter tests have their own ("formatters", FormatterTests.cs).
/// </summary>
public static class SerialCollections
{
    /// <summary>Tests that set a process environment variable (<c>XAILAB_DATA</c>), which every other test would see.</summary>
    public const string ProcessEnvironment = "process-environment";

    /// <summary>Tests that seed libtorch's global generator on purpose (to compare <see cref="XaiLab.Imaging.SeededInit"/> with it).</summary>
    public const string GlobalRng = "global-rng";
}

[CollectionDefinition(SerialCollections.ProcessEnvironment, DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection;

[CollectionDefinition(SerialCollections.GlobalRng, DisableParallelization = true)]
public sealed class GlobalRngCollection;
