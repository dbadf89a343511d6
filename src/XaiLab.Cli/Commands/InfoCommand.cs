using System.CommandLine;
using TorchSharp;
using XaiLab.Imaging;

namespace XaiLab.Cli;

/// <summary><c>xailab info [--device D]</c>: versions, device, threads — the first thing to run on a new machine.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var device = new Option<string?>("--device") { Description = "cpu, cuda or cuda:N (default: $XAILAB_DEVICE or cpu)" };
        var cmd = new Command("info", "Print versions and the torch device that would be used.") { device };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var d = Devices.Resolve(parse.GetValue(device) ?? Environment.GetEnvironmentVariable(Devices.EnvironmentVariable));
            Console.WriteLine($"XaiLab {typeof(CliApp).Assembly.GetName().Version}");
            Console.WriteLine($".NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
            Console.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, CUDA available: {torch.cuda.is_available()}");
            Console.WriteLine($"device: {Devices.Describe(d)}");
            return 0;
        }));
        return cmd;
    }
}
