using System.Text.Json;
using XaiLab.Cli;
using XaiLab.Imaging;
using XaiLab.Imaging.Visual;
using XaiLab.Saliency.Methods;
using XaiLab.Tests.Evaluation;
using static TorchSharp.torch;

namespace XaiLab.Tests.Cli;

[Trait("Category", "Unit")]
public class ExplainCliTests
{
    static ExplainCliTests() => CliFixtures.Register();

    static string TempDir() => Path.Combine(Path.GetTempPath(), "xailab-explaincli-" + Guid.NewGuid().ToString("N"));

    /// <summary>A seeded random 24×24 RGB PNG (the tiny model's input size).</summary>
    static string Image(string dir)
    {
        Directory.CreateDirectory(dir);
        using var gen = new TorchSharp.torch.Generator(5, CPU);
        using var img = rand(new long[] { 3, 24, 24 }, generator: gen);
        var path = Path.Combine(dir, "in.png");
        ImageIO.SavePng(img, path);
        return path;
    }

    static string[] Explain(string image, string outDir, params string[] more) =>
        new[] { "explain", "--image", image, "--model", "tiny-model-test", "--out", outDir }.Concat(more).ToArray();

    [Theory]
    [InlineData("gradient")]
    [InlineData("ig")]
    [InlineData("centre")]
    [InlineData("grad-cam", "--method-option", "layer=conv2")]
    [InlineData("rise", "--method-option", "masks=16", "--method-option", "cells=3", "--method-option", "batch-size=8")]
    [InlineData("mp", "--method-option", "iterations=2")]
    [InlineData("extremal-perturbation", "--method-option", "iterations=2", "--method-option", "areas=0.1;0.2")]
    public void ExplainTakesEveryMethodOfTheRegistry(string method, params string[] options)
    {
        var dir = TempDir();
        try
        {
            var image = Image(dir);
            var outDir = Path.Combine(dir, "out");
            var (code, output, err) = CliFixtures.Run(Explain(image, outDir, new[] { "--method", method, "--class", "1" }.Concat(options).ToArray()));
            Assert.True(code == 0, err);
            var canonical = SaliencyMethods.Find(method).Name;
            Assert.StartsWith(canonical + ": class 1", output);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "result.json")));
            Assert.Equal(canonical, json.RootElement.GetProperty("method").GetString());
            Assert.Equal(1, json.RootElement.GetProperty("class").GetInt32());
            foreach (var o in options.Where(o => o.Contains('=')))
            {
                // every --method-option reached the method: its value is in the recorded parameters
                var value = o[(o.IndexOf('=') + 1)..];
                Assert.Contains(value.Contains(';') ? "[" + value + "]" : "=" + value, json.RootElement.GetProperty("parameters").GetString());
            }
            var (data, shape) = Npy.Read(Path.Combine(outDir, "saliency.npy"));
            Assert.Equal(2, shape.Length);
            Assert.All(data, v => Assert.True(float.IsFinite(v)));
            using var png = ImageIO.Load(Path.Combine(outDir, "saliency.png"));
            Assert.Equal(new long[] { 3, 24, 24 }, png.shape);
            Assert.True(File.Exists(Path.Combine(outDir, "overlay.png")));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void ExplainRunsANamedAblationPathReduction()
    {
        var dir = TempDir();
        try
        {
            var image = Image(dir);
            var outDir = Path.Combine(dir, "out");
            var (code, output, err) = CliFixtures.Run(Explain(image, outDir, "--method", "ablation-path-influence-window", "--mask-size", "6", "--steps", "3",
                "--method-option", "min-iterations=2", "--method-option", "max-iterations=2", "--class", "0"));
            Assert.True(code == 0, err);
            Assert.StartsWith("ablation-path-influence-window: Retaining score", output);
            Assert.Equal(new long[] { 3, 6, 6 }, Npy.Read(Path.Combine(outDir, "path.npy")).Shape);
            Assert.Equal(new long[] { 6, 6 }, Npy.Read(Path.Combine(outDir, "saliency.npy")).Shape);
            foreach (var f in new[] { "saliency.png", "overlay.png", "saliency-influence.png", "explorer.html", "result.json" })
                Assert.True(File.Exists(Path.Combine(outDir, f)), f);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "result.json")));
            Assert.Equal(2, json.RootElement.GetProperty("options").GetProperty("maxIterations").GetInt32());
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void ExplainOverAFolderBatchesThePathsResumesAndAgreesWithSingleImages()
    {
        var dir = TempDir();
        try
        {
            var images = Path.Combine(dir, "images");
            Directory.CreateDirectory(images);
            for (int i = 0; i < 3; i++)
            {
                using var gen = new TorchSharp.torch.Generator((ulong)(20 + i), CPU);
                using var img = rand(new long[] { 3, 24, 24 }, generator: gen);
                ImageIO.SavePng(img, Path.Combine(images, $"scene{i}.png"));
            }
            File.WriteAllText(Path.Combine(images, "notes.txt"), "not an image");
            var outDir = Path.Combine(dir, "out");
            string[] pathFlags = { "--mask-size", "6", "--steps", "3", "--method-option", "min-iterations=2", "--method-option", "max-iterations=3", "--class", "1" };
            var (code, output, err) = CliFixtures.Run(Explain(images, outDir, new[] { "--batch-images", "2" }.Concat(pathFlags).ToArray()));
            Assert.True(code == 0, err);
            Assert.Contains("ablation-path-clt: 3 images in", output);
            Assert.Contains("per image in a batch of 2", output);
            var rows = File.ReadAllLines(Path.Combine(outDir, "summary.csv"));
            Assert.Equal(4, rows.Length);
            Assert.StartsWith("scene0.png,1,", rows[1]);
            for (int i = 0; i < 3; i++)
                Assert.True(File.Exists(Path.Combine(outDir, $"scene{i}", "explorer.html")));
            // The batched path of scene2 equals a single-image run.
            var single = Path.Combine(dir, "single");
            (code, _, err) = CliFixtures.Run(Explain(Path.Combine(images, "scene2.png"), single, pathFlags));
            Assert.True(code == 0, err);
            var (a, sa) = Npy.Read(Path.Combine(outDir, "scene2", "path.npy"));
            var (b, sb) = Npy.Read(Path.Combine(single, "path.npy"));
            Assert.Equal(sb, sa);
            Assert.True(a.Zip(b).Max(t => Math.Abs(t.First - t.Second)) < 1e-4);
            // Rerun: nothing recomputed, the same summary; a removed image folder is recomputed alone.
            var before = File.ReadAllText(Path.Combine(outDir, "summary.csv"));
            (code, output, err) = CliFixtures.Run(Explain(images, outDir, pathFlags));
            Assert.True(code == 0, err);
            Assert.Contains("3 of 3 images already done", output);
            Directory.Delete(Path.Combine(outDir, "scene1"), true);
            (code, output, err) = CliFixtures.Run(Explain(images, outDir, pathFlags));
            Assert.True(code == 0, err);
            Assert.Contains("2 of 3 images already done", output);
            Assert.Equal(before, File.ReadAllText(Path.Combine(outDir, "summary.csv")));
            // --batch-images without a folder is a one-line error.
            (code, _, err) = CliFixtures.Run(Explain(Path.Combine(images, "scene0.png"), Path.Combine(dir, "x"), "--batch-images", "2"));
            Assert.NotEqual(0, code);
            Assert.Contains("--batch-images applies to a folder given as --image only.", err);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("--sigma abc", "--sigma 'abc': expected a number of pixels ≥ 0; see `xailab explain --help`.")]
    [InlineData("--mask-size 0", "--mask-size '0': expected a positive whole number")]
    [InlineData("--class x", "--class 'x': expected a class index ≥ 0")]
    [InlineData("--class 7", "--class 7: model 'smallconv' has classes 0…2.")]
    [InlineData("--colormap jet", "--colormap 'jet': expected one of viridis, inferno, diverging, gray.")]
    [InlineData("--score max", "--score 'max': expected retain, dissipate, contrastive or straddle.")]
    [InlineData("--method lime", "Unknown saliency method 'lime'. Known methods: gradient")]
    [InlineData("--method rise --sigma 3", "--sigma applies to the ablation-path methods only; for 'rise' use --method-option NAME=VALUE (its options: Masks, Cells")]
    [InlineData("--method rise --method-option masks=many", "rise option Masks: expected a whole number; got 'many'.")]
    [InlineData("--method rise --method-option baseline=1", "Option 'Baseline' of 'rise' is a Tensor and cannot be set from text")]
    [InlineData("--method rise --method-option grad-cam:layer=x", "--method-option 'grad-cam:layer=x' names another method than --method rise.")]
    [InlineData("--method-option max-iterations=1", "AblationPathOptions.MaxIterations: must be ≥ MinIterations (6); got 1.")]
    [InlineData("--out /proc/xailab-cannot", "--out '/proc/xailab-cannot': cannot create or write to this folder")]
    [InlineData("--image /nonexistent.png", "--image '/nonexistent.png': no such file or folder.")]
    public void MalformedValuesAreOneLineErrors(string extra, string message)
    {
        var dir = TempDir();
        try
        {
            var more = extra.Split(' ');
            var image = more[0] == "--image" ? more[1] : Image(dir);
            var outDir = more[0] == "--out" ? more[1] : Path.Combine(dir, "out");
            var args = Explain(image, outDir, more[0] is "--image" or "--out" ? Array.Empty<string>() : more);
            var (code, _, err) = CliFixtures.Run(args);
            Assert.Equal(2, code);
            Assert.Contains(message, err);
            Assert.DoesNotContain("(Parameter", err);
            Assert.Single(err.Trim().Split('\n'));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void HelpTextsMatchWhatIsAccepted()
    {
        var (code, help, _) = CliFixtures.Run("explain", "--help");
        Assert.Equal(0, code);
        foreach (var c in CliOptions.Colormaps)
        {
            Assert.Contains(c, help);
            Assert.NotNull(Colormap.ByName(c)); // every advertised colour map is accepted
        }
        Assert.DoesNotContain("jet", help);
        foreach (var name in SaliencyMethods.Names) Assert.Contains(name, help);
        var (_, pgHelp, _) = CliFixtures.Run("pointing-game", "--help");
        foreach (var name in SaliencyMethods.Names) Assert.Contains(name, pgHelp);
        Assert.Contains("merge", pgHelp);
        var (mc, list, _) = CliFixtures.Run("methods");
        Assert.Equal(0, mc);
        foreach (var e in SaliencyMethods.All) Assert.Contains(e.Name, list);
        Assert.Contains("Layer=null", list);
    }
}
