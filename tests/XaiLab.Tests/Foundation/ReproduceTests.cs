using System.Text.Json;

namespace XaiLab.Tests.Foundation;

[Collection("cli")]
[Trait("Category", "Integration")]
public class ReproduceTests
{
    [Fact]
    public void QuickstartRunsAndWritesNotebookAndOfflineHtml()
    {
        var outDir = Repo.TempDir();
        var (code, stdout, stderr) = Repo.RunCli("reproduce", Path.Combine(Repo.Root, "notebooks", "00-quickstart.ipynb"), "--out", outDir);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("00-quickstart", stdout);

        var nb = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "00-quickstart.ipynb"))).RootElement;
        var codeCells = nb.GetProperty("cells").EnumerateArray().Where(c => c.GetProperty("cell_type").GetString() == "code").ToList();
        Assert.True(codeCells.Count >= 4);
        foreach (var c in codeCells)
        {
            var outputs = c.GetProperty("outputs").EnumerateArray().ToList();
            Assert.NotEmpty(outputs);
            Assert.DoesNotContain(outputs, o => o.GetProperty("output_type").GetString() == "error");
        }

        var html = File.ReadAllText(Path.Combine(outDir, "00-quickstart.html"));
        Assert.Contains("data:image/png;base64,", html);             // images inline
        Assert.Contains("data-xailab-plotly", html);                 // plotly.js embedded …
        Assert.Contains("Plotly.newPlot", html);                     // … and a chart drawn with it
        Assert.DoesNotMatch("<script[^>]+src=", html);               // no external script (CDN) at all
        Assert.DoesNotContain("<script src=\"http", html);
    }

    [Fact]
    public void MissingNotebookIsAOneLineError()
    {
        var (code, _, stderr) = Repo.RunCli("reproduce", "no/such/notebook.ipynb", "--out", Repo.TempDir());
        Assert.Equal(2, code);
        Assert.Contains("notebook not found", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void MalformedNotebookNamesTheFile()
    {
        var dir = Repo.TempDir();
        var bad = Path.Combine(dir, "broken.ipynb");
        File.WriteAllText(bad, "{ \"cells\": [ this is not json");
        var (code, _, stderr) = Repo.RunCli("reproduce", bad, "--out", dir);
        Assert.Equal(2, code);
        Assert.Contains("broken.ipynb", stderr);
        Assert.Contains("not a valid .ipynb", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void FailingCellIsReportedWithNotebookAndCellAndLaterCellsDoNotRun()
    {
        var dir = Repo.TempDir();
        var nb = Path.Combine(dir, "throws.ipynb");
        File.WriteAllText(nb, NotebookJson("1 + 1", "throw new System.InvalidOperationException(\"boom in cell two\");", "System.IO.File.WriteAllText(\"ran3.txt\", \"x\");"));
        var (code, stdout, stderr) = Repo.RunCli("reproduce", nb, "--out", Path.Combine(dir, "out"));
        Assert.Equal(1, code);
        Assert.Contains("notebook throws, cell 2: boom in cell two", stderr);
        Assert.False(File.Exists(Path.Combine(dir, "ran3.txt")));
        Assert.True(File.Exists(Path.Combine(dir, "out", "throws.html")));   // the partial result is still written
        Assert.Contains("cell 2/3", stdout);
        Assert.DoesNotContain("cell 3/3", stdout);
    }

    [Fact]
    public void ScaleReachesTheNotebookAndUnknownScaleOrDeviceIsRejected()
    {
        var dir = Repo.TempDir();
        var nb = Path.Combine(dir, "scale.ipynb");
        File.WriteAllText(nb, NotebookJson("System.IO.File.WriteAllText(\"scale.txt\", System.Environment.GetEnvironmentVariable(\"XAILAB_SCALE\"));"));
        Assert.Equal(0, Repo.RunCli("reproduce", nb, "--scale", "full", "--out", dir).Code);
        Assert.Equal("full", File.ReadAllText(Path.Combine(dir, "scale.txt")));

        var (c1, _, e1) = Repo.RunCli("reproduce", nb, "--scale", "huge", "--out", dir);
        Assert.Equal(2, c1);
        Assert.Contains("expected 'demo' or 'full'", e1);
        var (c2, _, e2) = Repo.RunCli("reproduce", nb, "--device", "tpu", "--out", dir);
        Assert.Equal(2, c2);
        Assert.Contains("expected 'cpu', 'cuda' or 'cuda:N'", e2);
    }

    [Fact]
    public void ProgressIsUpdatedInPlaceAndEndsWithTheFinalLine()
    {
        var dir = Repo.TempDir();
        var nb = Path.Combine(dir, "progress.ipynb");
        var lib = Path.Combine(Repo.Root, "artifacts", "xailab", "XaiLab.Interactive.dll").Replace("\\", "/");
        File.WriteAllText(nb, NotebookJson(
            $"#r \"{lib}\"\nXaiLab.Interactive.Lab.Start();",
            "var p = XaiLab.Interactive.NotebookProgress.Create<int>(\"work\", i => $\"step {i}\");\nfor (int i = 0; i < 3; i++) { p.Report(i); System.Threading.Thread.Sleep(300); }\np.Complete(\"all three steps finished\");"));
        var (code, stdout, stderr) = Repo.RunCli("reproduce", nb, "--out", dir);
        Assert.True(code == 0, stdout + stderr);
        var outNb = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "progress.ipynb"))).RootElement;
        var outputs = outNb.GetProperty("cells")[1].GetProperty("outputs").EnumerateArray().ToList();
        var displays = outputs.Where(o => o.GetProperty("output_type").GetString() == "display_data").ToList();
        Assert.Single(displays);                                                     // one line, updated in place
        var html = string.Concat(displays[0].GetProperty("data").GetProperty("text/html").EnumerateArray().Select(x => x.GetString()));
        Assert.Contains("all three steps finished", html);
        Assert.DoesNotContain("starting", html);
    }

    static string NotebookJson(params string[] cells) => JsonSerializer.Serialize(new
    {
        cells = cells.Select((c, i) => new Dictionary<string, object?>
        {
            ["cell_type"] = "code", ["execution_count"] = null, ["id"] = $"c{i}",
            ["metadata"] = new Dictionary<string, object>(), ["outputs"] = Array.Empty<object>(), ["source"] = c,
        }),
        metadata = new Dictionary<string, object>
        {
            ["kernelspec"] = new Dictionary<string, string> { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
        },
        nbformat = 4,
        nbformat_minor = 5,
    });
}
