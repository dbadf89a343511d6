using System.CommandLine;
using TorchSharp;
using XaiLab.Imaging;

namespace XaiLab.Cli;

/// <summary><c>xailab info [--device D]</c>: versions, device, threads — the first thing to run on a new machine.</summary>
public static class InfoCommand
{
    /// <summary>The <c>info</c> command.</summary>
    public static Command Create()
    {
        var device = CliOptions.Device();
        var cmd = new Command("info", "Print versions and the torch device that would be used.") { device };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var d = CliOptions.ResolveDevice(parse, device);
            Console.WriteLine($"XaiLab {typeof(CliApp).Assembly.GetName().Version}");
            Console.WriteLine($".NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
            Console.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, CUDA available: {torch.cuda.is_available()}");
            Console.WriteLine($"device: {Devices.Describe(d)}");
            return 0;
        }));
        return cmd;
    }
}
