using System.CommandLine;
using XaiLab.Saliency.Methods;

namespace XaiLab.Cli;

/// <summary>
/// <c>xailab methods</c>: every saliency method the registry knows (what <c>explain --method</c>, <c>pointing-game --methods</c>
/// and <c>bench methods --methods</c> accept), its aliases, and its options with their defaults (what <c>--method-option</c> sets).
/// </summary>
public static class MethodsCommand
{
    /// <summary>The <c>methods</c> command.</summary>
    public static Command Create()
    {
        var cmd = new Command("methods", "List the saliency methods (names, aliases) and their options with defaults, as --method-option NAME=VALUE sets them.");
        cmd.SetAction(_ => CommandBody.Guard(() =>
        {
            foreach (var e in SaliencyMethods.All)
            {
                Console.WriteLine($"{e.Name}{(e.Aliases.Count > 0 ? $" (alias {string.Join(", ", e.Aliases)})" : "")}: {e.Title}");
                var method = e.Make(e.DefaultOptions());
                Console.WriteLine("    " + (e.TextOptions.Count == 0 ? "no options" : SaliencyMethods.Describe(method)));
            }
            return 0;
        }));
        return cmd;
    }
}
