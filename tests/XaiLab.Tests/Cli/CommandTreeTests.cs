using System.CommandLine;
using XaiLab.Cli;
using XaiLab.Tests.Evaluation;

namespace XaiLab.Tests.Cli;

/// <summary>
/// The layout of the command line: the groups and their subcommands, the old spellings that still work, the shared
/// options (one declaration of <c>--device</c>, <c>--model</c>, <c>--out</c>, <c>--threads</c> in <see cref="CliOptions"/>)
/// and their one-line errors. Only parsing is exercised: nothing here trains or benchmarks anything.
/// </summary>
[Collection("console")]
public class CommandTreeTests
{
    static CommandTreeTests() => CliFixtures.Register();

    static IEnumerable<(string Path, Command Command)> Walk(Command c, string path)
    {
        yield return (path, c);
        foreach (var s in c.Subcommands)
            foreach (var x in Walk(s, path + " " + s.Name)) yield return x;
    }

    static Command Find(string path) =>
        Walk(CliApp.CreateRoot(), "xailab").Single(x => x.Path == "xailab " + path).Command;

    [Theory]
    [InlineData("bench", "run", "methods", "ablation-path", "table")]
    [InlineData("train", "classifier", "resnet18-head")]
    [InlineData("denoise", "train", "bench")]
    [InlineData("sift", "decompose", "bench")]
    [InlineData("models", "list", "eval")]
    [InlineData("data", "list", "export")]
    public void GroupsHaveTheirSubcommandsAndNoOptionsOfTheirOwn(string group, params string[] subcommands)
    {
        var g = Find(group);
        Assert.Equal(subcommands.OrderBy(s => s), g.Subcommands.Select(s => s.Name).OrderBy(s => s));
        Assert.Empty(g.Options.Where(o => o.Name != "--help" && o is not System.CommandLine.Help.HelpOption));
        var (code, help, _) = CliFixtures.Run(group, "--help");
        Assert.Equal(0, code);
        foreach (var s in subcommands) Assert.Contains("  " + s + " ", help.Replace("\r", ""));
    }

    [Fact]
    public void TheFormerTopLevelCommandsAreGoneFromTheTree()
    {
        var top = CliApp.CreateRoot().Subcommands.Select(c => c.Name).ToArray();
        Assert.DoesNotContain("bench-methods", top);
        Assert.DoesNotContain("train-resnet18", top);
        Assert.Contains("bench", top);
        Assert.Contains("train", top);
    }

    [Theory]
    [InlineData("bench-methods --model m", "bench methods --model m")]
    [InlineData("train-resnet18 --scenes 5", "train resnet18-head --scenes 5")]
    [InlineData("bench", "bench run")]
    [InlineData("bench --json f.json --markdown", "bench run --json f.json --markdown")]
    [InlineData("train --model fashion-cnn --device cuda", "train classifier --model fashion-cnn --device cuda")]
    [InlineData("bench --help", "bench --help")]
    [InlineData("bench -h", "bench -h")]
    [InlineData("train", "train")]
    [InlineData("bench table a.json", "bench table a.json")]
    [InlineData("bench ablation-path --steps 3", "bench ablation-path --steps 3")]
    [InlineData("denoise train --out d", "denoise train --out d")]
    [InlineData("explain --model train", "explain --model train")]
    public void OldSpellingsAreReadAsTheCurrentOnes(string given, string canonical)
    {
        Assert.Equal(canonical.Split(' '), CliApp.Canonical(given.Split(' ')));
    }

    [Theory]
    [InlineData("bench-methods", "bench methods")]
    [InlineData("train-resnet18", "train resnet18-head")]
    public void AnOldSpellingShowsTheHelpOfTheCurrentCommand(string old, string current)
    {
        var (c1, h1, _) = CliFixtures.Run(old.Split(' ').Append("--help").ToArray());
        var (c2, h2, _) = CliFixtures.Run(current.Split(' ').Append("--help").ToArray());
        Assert.Equal(0, c1);
        Assert.Equal(0, c2);
        Assert.Contains("Usage:", h1);
        Assert.Equal(h2, h1);
    }

    [Fact]
    public void SharedOptionsAreTheOnesOfCliOptions()
    {
        // Every --device of the tree rejects a malformed value while parsing (CliOptions.Device's parser), and every
        // --threads likewise: no command declares its own.
        var all = Walk(CliApp.CreateRoot(), "xailab").SelectMany(x => x.Command.Options.Select(o => (x.Path, Option: o))).ToList();
        var devices = all.Where(x => x.Option.Name == "--device").ToList();
        Assert.Equal(new[] { "bench ablation-path", "bench methods", "bench run", "denoise bench", "denoise train", "explain", "info",
                             "pointing-game", "reproduce", "train classifier" },
                     devices.Select(x => x.Path["xailab ".Length..]).OrderBy(p => p, StringComparer.Ordinal));
        var expected = CliOptions.Device();
        foreach (var (path, o) in devices)
        {
            var typed = Assert.IsType<Option<string?>>(o);
            Assert.True(typed.CustomParser is not null, $"{path}: --device without CliOptions.Device's parser");
            Assert.Equal(expected.Description, o.Description);
        }
        foreach (var (path, o) in all.Where(x => x.Option.Name == "--threads"))
            Assert.True(Assert.IsType<Option<int?>>(o).CustomParser is not null, $"{path}: --threads without CliOptions.Threads's parser");
        Assert.Equal(2, all.Count(x => x.Option.Name == "--threads"));
    }

    [Theory]
    [InlineData("info")]
    [InlineData("reproduce", "x.ipynb")]
    [InlineData("bench", "run")]
    [InlineData("bench")] // the old spelling: the record suite
    [InlineData("bench", "methods", "--model", "random-cnn")]
    [InlineData("bench-methods", "--model", "random-cnn")]
    [InlineData("bench", "ablation-path")]
    [InlineData("train", "classifier", "--model", "fashion-cnn")]
    [InlineData("train", "--model", "fashion-cnn")]
    [InlineData("denoise", "train", "--out", "d")]
    [InlineData("denoise", "bench")]
    [InlineData("explain", "--image", "i.png", "--model", "m", "--out", "d")]
    [InlineData("pointing-game", "--dataset", "d", "--model", "m", "--methods", "centre", "--out", "d")]
    public void AMalformedDeviceIsOneLineBeforeAnyWork(params string[] args)
    {
        var (code, output, err) = CliFixtures.Run(args.Append("--device").Append("tpu").ToArray());
        Assert.Equal(2, code);
        Assert.Equal("", output);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: --device 'tpu': expected 'cpu', 'cuda' or 'cuda:N'", line);
    }

    [Theory]
    [InlineData("--mask-size 'abc': expected a positive whole number", "bench", "ablation-path", "--mask-size", "abc")]
    [InlineData("--steps '0': expected a positive whole number", "bench", "ablation-path", "--steps", "0")]
    [InlineData("--saturation '-0.5': expected a number ≥ 0", "bench", "ablation-path", "--saturation", "-0.5")]
    [InlineData("--rise-masks 'many': expected a positive number of masks", "bench", "run", "--rise-masks", "many")]
    [InlineData("--images '0': expected a positive number of images", "bench", "methods", "--model", "random-cnn", "--images", "0")]
    [InlineData("--threads 'two': expected a positive number of threads", "train", "classifier", "--model", "fashion-cnn", "--threads", "two")]
    [InlineData("--threads '0': expected a positive number of threads", "train", "resnet18-head", "--threads", "0")]
    [InlineData("--seed '-3': expected a whole number ≥ 0", "train", "--model", "fashion-cnn", "--seed", "-3")]
    [InlineData("--lr '-1': expected a number > 0", "denoise", "train", "--lr", "-1", "--out", "d")]
    [InlineData("--size '4': expected a whole number of pixels ≥ 8", "denoise", "bench", "--size", "4")]
    [InlineData("--epochs '1.5': expected a whole number ≥ 0", "denoise", "train", "--epochs", "1.5", "--out", "d")]
    [InlineData("--limit '0': expected a positive number of scenes", "models", "eval", "--model", "m", "--dataset", "d", "--limit", "0")]
    public void AMalformedValueIsOneLineNamingWhatWasExpected(string message, params string[] args)
    {
        var (code, output, err) = CliFixtures.Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: " + message, line);
    }

    [Fact]
    public void TrainWithoutASubcommandSaysWhichOnesThereAre()
    {
        var (code, _, err) = CliFixtures.Run("train");
        Assert.Equal(2, code);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("error: `xailab train` expects a subcommand: classifier or resnet18-head; see `xailab train --help`.", line);
    }
}
