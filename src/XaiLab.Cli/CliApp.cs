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
        MethodsCommand.Create(),
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
            var parse = root.Parse(args);
            // A malformed command line is one line naming what was expected, not the error plus the whole help.
            if (parse.Errors.Count > 0 && args.Length > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
            {
                var command = parse.CommandResult.Command;
                var path = command == root ? "xailab" : "xailab " + string.Join(" ", CommandPath(parse.CommandResult));
                Console.Error.WriteLine($"error: {Readable(parse.Errors[0].Message).TrimEnd('.')}; see `{path} --help`.");
                return 2;
            }
            return parse.Invoke();
        }
        catch (UserError e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
    }

    static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult r)
    {
        var names = new List<string>();
        for (System.CommandLine.Parsing.SymbolResult? c = r; c is System.CommandLine.Parsing.CommandResult cr && cr.Command is not RootCommand; c = cr.Parent)
            names.Insert(0, cr.Command.Name);
        return names;
    }

    /// <summary>
    /// System.CommandLine's type-conversion message ("Cannot parse argument 'abc' for option '--limit' as expected type
    /// 'System.Nullable`1[System.Int32]'.") in words: "--limit 'abc': expected a whole number.".
    /// </summary>
    internal static string Readable(string message)
    {
        var m = System.Text.RegularExpressions.Regex.Match(message, @"^Cannot parse argument '(?<v>.*)' for (option|command) '(?<o>[^']+)' as expected type '(?<t>[^']+)'\.?$");
        if (!m.Success) return message.ReplaceLineEndings(" ").Trim();
        var t = m.Groups["t"].Value;
        string what = t.Contains("Int32") || t.Contains("Int64") ? "a whole number"
                    : t.Contains("Double") || t.Contains("Single") ? "a number"
                    : t.Contains("Boolean") ? "true or false" : "a value of another form";
        return $"{m.Groups["o"].Value} '{m.Groups["v"].Value}': expected {what}.";
    }
}

/// <summary>An error caused by the user's input: printed as one line, exit code 2, no stack trace.</summary>
public sealed class UserError(string message) : Exception(message);

/// <summary>Runs a command body, turning user-facing exceptions into one-line errors (exit code 2).</summary>
public static class CommandBody
{
    /// <summary>The message of <paramref name="e"/> on one line, without .NET's " (Parameter 'name')" suffix of argument exceptions.</summary>
    public static string MessageOf(Exception e)
    {
        var msg = e.Message;
        if (e is ArgumentException { ParamName: { } p })
        {
            var suffix = $" (Parameter '{p}')";
            if (msg.EndsWith(suffix, StringComparison.Ordinal)) msg = msg[..^suffix.Length];
        }
        return msg.ReplaceLineEndings(" ").Trim();
    }

    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is UserError or ArgumentException or FileNotFoundException or InvalidDataException
                                      or DirectoryNotFoundException or InvalidOperationException or OperationCanceledException)
        {
            Console.Error.WriteLine("error: " + MessageOf(e));
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
