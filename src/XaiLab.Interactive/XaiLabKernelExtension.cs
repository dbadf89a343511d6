using Microsoft.DotNet.Interactive;

namespace XaiLab.Interactive;

/// <summary>
/// The .NET Interactive kernel extension: loaded by the kernel when a notebook references XaiLab.Interactive as a
/// package (it sits in <c>interactive-extensions/dotnet/</c>), and explicitly by <c>xailab reproduce</c>.
/// It loads libtorch from XaiLab's own files first (<see cref="XaiLab.Imaging.TorchNatives"/>: a system libtorch on
/// the library path must not win), then does what <see cref="Lab.Start"/> does.
/// </summary>
public sealed class XaiLabKernelExtension : IKernelExtension
{
    /// <summary>Called by the kernel when the package loads: loads XaiLab's libtorch, registers the formatters and the session defaults (<see cref="Lab.Start"/>).</summary>
    public Task OnLoadAsync(Kernel kernel)
    {
        XaiLab.Imaging.TorchNatives.Preload();
        Lab.Start();
        return Task.CompletedTask;
    }
}
