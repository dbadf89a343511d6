// Test classes run in parallel (xunit's default: one collection per class). No test may change process-global state:
// random numbers come from private torch.Generator objects (seeded weights from SeededInit), the CLI's console output is
// captured per call (ConsoleCapture), and libtorch is loaded once at assembly load (TestSetup). The few tests that need
// global state are in the non-parallel collections of SerialCollections and "formatters" (FormatterTests.cs).
// Every test class carries [Trait("Category", "Unit")] or [Trait("Category", "Integration")] (processes, notebooks,
// packaging, ONNX Runtime); `dotnet test --filter Category=Unit` runs the fast ones.
// ReproduceTests and PackagingTests share the (parallel) collection "cli": they run one after the other, beside the rest,
// so that at most one notebook-executing child process competes with the in-process tests for the cores.
// Parallel threads: xunit's default, one per core.
