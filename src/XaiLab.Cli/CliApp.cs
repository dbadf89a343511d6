using System.CommandLine;

namespace XaiLab.Cli;

/// <summary>
/// The command-line entry. Each command lives in <c>Commands/</c> as a static class with
/// <c>public static Command Create()</c>; add it to <see cref="Commands"/>. Related commands are groups
/// (<c>bench run|methods|ablation-path|table</c>, <c>train classifier|resnet18-head</c>, <c>denoise train|bench</c>,
/// <c>sift decompose|bench</c>, <c>models list|eval</c>, <c>data list|export</c>); older spellings
/// (<c>bench-methods</c>, <c>train-resnet18</c>, <c>bench --json …</c>, <c>train --model …</c>) keep working: <see cref="Canonical"/>
/// rewrites them to the current ones before parsing, silently.
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
        PointingGameCommand.Create(),
        DataCommand.Create(),
        ModelsCommand.Create(),
        BenchCommand.Create(),
        TrainCommand.Create(),
        DenoiseCommand.Create(),
        SiftCommand.Create(),
    };

    /// <summary>The whole command tree: the root command <c>xailab</c> with every command of <see cref="Commands"/>.</summary>
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("XaiLab — explainability of image classifiers (ablation paths, SIFT cells, equivariant denoising).");
        foreach (var c in Commands()) root.Subcommands.Add(c);
        return root;
    }

    /// <summary>
    /// Parses <paramref name="args"/> (after <see cref="Canonical"/>) and runs the command. Returns the exit code: 0 success, 1 a failed run (e.g. a
    /// notebook cell) or an internal error, 2 a malformed command line or another error the user can fix (one line on
    /// stderr), 130 cancelled.
    /// </summary>
    public static int Run(string[] args)
    {
        args = Canonical(args);
        var root = CreateRoot();
        try
        {
            var parse = root.Parse(args);
            // A malformed command line is one line naming what was expected, not the error plus the whole help.
            if (parse.Errors.Count > 0 && args.Length > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
            {
                var command = parse.CommandResult.Command;
                var path = command == root ? "xailab" : "xailab " + string.Join(" ", CommandPath(parse.CommandResult));
                if (command != root && command.Action is null && command.Subcommands.Count > 0)
                {
                    // A group named without one of its commands.
                    var names = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
                    var list = names.Count == 1 ? names[0] : string.Join(", ", names.Take(names.Count - 1)) + " or " + names[^1];
                    Console.Error.WriteLine($"error: `{path}` expects a subcommand: {list}; see `{path} --help`.");
                    return 2;
                }
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

    /// <summary>
    /// The command line in its current spelling: the old top-level commands <c>bench-methods</c> and <c>train-resnet18</c>
    /// become <c>bench methods</c> and <c>train resnet18-head</c>; <c>bench</c> alone or followed by an option (the record
    /// suite, e.g. <c>bench --json F --markdown</c>) becomes <c>bench run …</c>; <c>train</c> followed by an option
    /// (<c>train --model NAME …</c>) becomes <c>train classifier …</c>. Help requests (<c>bench --help</c>) and everything
    /// else are returned unchanged.
    /// </summary>
    public static string[] Canonical(string[] args)
    {
        if (args.Length == 0) return args;
        static bool IsOption(string a) => a.StartsWith('-') && a is not ("-h" or "--help" or "-?" or "/?" or "/h");
        return args[0] switch
        {
            "bench-methods" => ["bench", "methods", .. args[1..]],
            "train-resnet18" => ["train", "resnet18-head", .. args[1..]],
            "bench" when args.Length == 1 || IsOption(args[1]) => ["bench", "run", .. args[1..]],
            "train" when args.Length > 1 && IsOption(args[1]) => ["train", "classifier", .. args[1..]],
            _ => args,
        };
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

    /// <summary>
    /// Runs <paramref name="body"/> and returns its exit code; a user-facing exception (bad input, missing file, cancelled)
    /// becomes one "error: …" line and exit code 2, any other exception one "internal error: …" line and exit code 1
    /// (the stack trace only with <c>XAILAB_DEBUG=1</c>).
    /// </summary>
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
