using System.CommandLine;

namespace XaiLab.Cli;

/// <summary>
/// The command-line entry. Each command lives in <c>Commands/</c> as a static class with
/// <c>public static Command Create()</c>; add it to <see cref="Commands"/>.
/// Errors the user can fix (bad option, missing file) are reported as one line on stderr with exit code 2;
/// nothing prints a stack trace of the tool itself.
/// </summary>
public static class CliApp
{
    static IEnumerable<Command> Commands() => new[]
    {
        ReproduceCommand.Create(),
        InfoCommand.Create(),
        ExplainCommand.Create(),
        BenchCommand.Create(),
        PointingGameCommand.Create(),
        BenchMethodsCommand.Create(),
        DataCommand.Create(),
        ModelsCommand.Create(),
        TrainCommand.Create(),
        TrainResNet18Command.Create(),
        DenoiseCommand.Create(),
        SiftCommand.Create(),
    };

    public static int Run(string[] args)
    {
        var root = new RootCommand("XaiLab — explainability of image classifiers (ablation paths, SIFT cells, equivariant denoising).");
        foreach (var c in Commands()) root.Subcommands.Add(c);
        try
        {
            return root.Parse(args).Invoke();
        }
        catch (UserError e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
    }
}

/// <summary>An error caused by the user's input: printed as one line, exit code 2, no stack trace.</summary>
public sealed class UserError(string message) : Exception(message);

/// <summary>Runs a command body, turning user-facing exceptions into one-line errors (exit code 2).</summary>
public static class CommandBody
{
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is UserError or ArgumentException or FileNotFoundException or InvalidDataException
                                      or DirectoryNotFoundException or InvalidOperationException or OperationCanceledException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
        catch (Exception e)
        {
            // Anything else is a defect of the tool: one line, the stack only when asked for.
            Console.Error.WriteLine($"internal error: {e.GetType().Name}: {e.Message}" +
                (Environment.GetEnvironmentVariable("XAILAB_DEBUG") == "1" ? "\n" + e : " (set XAILAB_DEBUG=1 for the stack trace)"));
            return 1;
        }
    }
}
