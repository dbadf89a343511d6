using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using XaiLab.Imaging;

namespace XaiLab.Tests.Foundation;

/// <summary>
/// XaiLab as NuGet packages: the feed every build writes, the kernel extension inside XaiLab.Interactive, a notebook
/// outside the repository that loads it with one #r line, and libtorch found from our own files.
/// </summary>
[Collection("cli")]
[Trait("Category", "Integration")]
public class PackagingTests
{
    static string Version =>
        Regex.Match(File.ReadAllText(Path.Combine(Repo.Root, "Directory.Build.props")), @"<XaiLabVersion[^>]*>([^<]+)<").Groups[1].Value;

    static string Feed => Path.Combine(Repo.Root, "artifacts", "feed");

    [Theory]
    [InlineData("XaiLab.Imaging")]
    [InlineData("XaiLab.Saliency")]
    [InlineData("XaiLab.Denoising")]
    [InlineData("XaiLab.Interactive")]
    public void EveryLibraryIsPackedIntoTheFeed(string id)
    {
        var nupkg = Path.Combine(Feed, $"{id}.{Version}.nupkg");
        Assert.True(File.Exists(nupkg), $"{nupkg} missing: the build packs the libraries (GeneratePackageOnBuild)");
        using var zip = ZipFile.OpenRead(nupkg);
        Assert.Contains(zip.Entries, e => e.FullName == $"lib/net10.0/{id}.dll");
    }

    [Fact]
    public void InteractivePackageCarriesItsKernelExtensionAndNotTheHostsPackages()
    {
        using var zip = ZipFile.OpenRead(Path.Combine(Feed, $"XaiLab.Interactive.{Version}.nupkg"));
        Assert.Contains(zip.Entries, e => e.FullName == "interactive-extensions/dotnet/XaiLab.Interactive.dll");
        using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec")).Open());
        var text = nuspec.ReadToEnd();
        Assert.Contains("id=\"XaiLab.Saliency\"", text);
        Assert.Contains("id=\"Plotly.NET\"", text);
        Assert.DoesNotContain("id=\"Microsoft.DotNet.Interactive", text); // the notebook host provides these
    }

    [Fact]
    public void ImagingPackageCarriesTheEmbeddedAssets()
    {
        using var zip = ZipFile.OpenRead(Path.Combine(Feed, $"XaiLab.Imaging.{Version}.nupkg"));
        Assert.Contains(zip.Entries, e => e.FullName == "assets/README.md");
        Assert.Contains(zip.Entries, e => e.FullName.StartsWith("assets/models/", StringComparison.Ordinal));
    }

    [Fact]
    public void RepositoryNotebooksLoadThePackageOfThisVersion()
    {
        foreach (var nb in Directory.GetFiles(Path.Combine(Repo.Root, "notebooks"), "*.ipynb"))
        {
            var cells = JsonDocument.Parse(File.ReadAllText(nb)).RootElement.GetProperty("cells").EnumerateArray();
            var first = cells.First(c => c.GetProperty("cell_type").GetString() == "code");
            var source = string.Concat(first.GetProperty("source").EnumerateArray().Select(l => l.GetString()));
            Assert.StartsWith($"#r \"nuget: XaiLab.Interactive, {Version}\"", source);
            Assert.DoesNotContain("Lab.Start", source);
            Assert.DoesNotContain("artifacts/xailab", source);
        }
    }

    [Fact]
    public void NotebookOutsideTheRepositoryLoadsThePackageWithOneReferenceAndRendersSaliencySiftAndDenoising()
    {
        var dir = Repo.TempDir();
        Assert.False(dir.StartsWith(Repo.Root, StringComparison.Ordinal));
        var nb = Path.Combine(dir, "outside.ipynb");
        File.WriteAllText(nb, Notebook(
            $"#i \"nuget: {Feed}\"\n#r \"nuget: XaiLab.Interactive, {Version}\"",
            // no Lab.Start(): the package's kernel extension registered the formatters
            "var map = TorchSharp.torch.linspace(0, 1, 24 * 24).reshape(24, 24);\nnew XaiLab.Saliency.SaliencyMap(map, \"test-method\", 3)",
            // a SIFT decomposition of an embedded photo and a denoiser triptych, both through the package's formatters
            "var photo = XaiLab.Imaging.ImageIO.Load(XaiLab.Imaging.Assets.File(\"photos/chelsea.png\"));\n" +
            "var small = XaiLab.Imaging.Resize.Bilinear(photo, 64, 64);\n" +
            "XaiLab.Saliency.SiftCells.SiftFeatureBasis.Build(small)",
            "var g = new TorchSharp.torch.Generator(7);\nvar clean = TorchSharp.torch.rand(new long[] { 2, 1, 32, 32 }, generator: g);\n" +
            "var noisy = clean + 0.2 * TorchSharp.torch.randn(new long[] { 2, 1, 32, 32 }, generator: g);\n" +
            "new XaiLab.Interactive.DenoisingComparison(noisy, new Dictionary<string, TorchSharp.torch.Tensor> { [\"identity\"] = noisy }, clean, \"triptych\")"));
        var outDir = Path.Combine(dir, "out");
        var (code, stdout, stderr) = Repo.RunCli("reproduce", nb, "--out", outDir);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        var html = File.ReadAllText(Path.Combine(outDir, "outside.html"));
        Assert.Contains("data:image/png;base64,", html);
        Assert.Contains("test-method", html);
        Assert.DoesNotContain("SaliencyMap {", html);                // not a property dump
        Assert.Contains("SIFT feature basis: K =", html);
        Assert.DoesNotContain("SiftFeatureBasis {", html);
        Assert.Contains("triptych", html);
        Assert.Contains("PSNR", html);
        Assert.DoesNotMatch("<script[^>]+src=", html);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LibTorchIsFoundInThePackagesFolderWithOrWithoutTrailingSlash(bool slash)
    {
        var root = Repo.TempDir();
        var native = Path.Combine(root, "libtorch-cpu-linux-x64", TorchNatives.LibTorchVersion, "runtimes", "linux-x64", "native");
        Directory.CreateDirectory(native);
        File.WriteAllBytes(Path.Combine(native, "libtorch_cpu.so"), new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' });
        var app = Repo.TempDir(); // an application folder without libtorch, as in a notebook kernel
        var found = TorchNatives.FindLibTorchFolder(null, app, new[] { slash ? root + "/" : root });
        Assert.Equal(Path.GetFullPath(native).TrimEnd('/'), found?.TrimEnd('/'));
    }

    [Fact]
    public void ALibTorchOnlyOnTheLibraryPathNeverWinsOverOurs()
    {
        // The search has no LD_LIBRARY_PATH/system step at all: the application's own copy wins, then the package's;
        // only an explicit XAILAB_LIBTORCH_DIR (the PyTorch-wheel route) overrides them.
        var app = Repo.TempDir();
        var own = Path.Combine(app, "runtimes", "linux-x64", "native");
        Directory.CreateDirectory(own);
        File.WriteAllText(Path.Combine(own, "libtorch_cpu.so"), "ours");
        var foreign = Repo.TempDir();
        File.WriteAllText(Path.Combine(foreign, "libtorch_cpu.so"), "foreign");
        Assert.Equal(Path.GetFullPath(own), TorchNatives.FindLibTorchFolder(null, app, Array.Empty<string>()));
        Assert.Equal(Path.GetFullPath(foreign), TorchNatives.FindLibTorchFolder(foreign, app, Array.Empty<string>()));
        var e = Assert.Throws<DirectoryNotFoundException>(() => TorchNatives.FindLibTorchFolder(Repo.TempDir(), app, Array.Empty<string>()));
        Assert.Contains(TorchNatives.DirectoryVariable, e.Message);
    }

    [Fact]
    public void ThisProcessRunsOnTheLibTorchOfItsPackage()
    {
        Devices.EnsureNativeLoaded();
        var mapped = TorchNatives.LoadedLibraries().Where(l => Path.GetFileName(l).StartsWith("libtorch_cpu.so", StringComparison.Ordinal)).ToList();
        Assert.Single(mapped);
        Assert.DoesNotContain("/usr/lib", mapped[0]);              // never Debian's python3-torch copy
        Assert.Equal("libtorch_cpu.so", Path.GetFileName(mapped[0]));
    }

    static string Notebook(params string[] cells) => JsonSerializer.Serialize(new
    {
        cells = cells.Select((c, i) => new { cell_type = "code", id = $"c{i}", metadata = new { }, source = c, outputs = Array.Empty<object>(), execution_count = (int?)null }),
        metadata = new { kernelspec = new { display_name = ".NET (C#)", language = "C#", name = ".net-csharp" } },
        nbformat = 4,
        nbformat_minor = 5,
    });
}
