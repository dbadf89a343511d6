using System.CommandLine;

namespace XaiLab.Cli;

/// <summary><c>xailab reproduce [NOTEBOOK…] [--scale demo|full] [--device cpu|cuda] [--out DIR]</c>.</summary>
public static class ReproduceCommand
{
    public static Command Create()
    {
        var cmd = new Command("reproduce", "Execute notebooks headless and write executed .ipynb and offline HTML pages.");
        cmd.SetAction(_ => CommandBody.Guard(() => throw new UserError("reproduce: being written")));
        return cmd;
    }
}
