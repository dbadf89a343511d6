using System.Text.Json;
using TorchSharp;
using XaiLab.Cli;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using static TorchSharp.torch;

namespace XaiLab.Tests.Data;

[Trait("Category", "Unit")]
public class DataCliTests
{
    static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"xailab-cli-{Guid.NewGuid():N}-{name}");

    [Fact]
    public void DataExportWritesTheScenesMasksAndAnnotationsItReports()
    {
        var dir = Temp("export");
        Assert.Equal(0, CliApp.Run(new[] { "data", "export", "--dataset", "fashion-scenes-multi", "--count", "4", "--out", dir }));
        var ann = JsonSerializer.Deserialize<ExportedAnnotations>(File.ReadAllText(Path.Combine(dir, "annotations.json")))!;
        Assert.Equal("fashion-scenes-multi", ann.Dataset);
        Assert.Equal("test", ann.Split);
        Assert.True(ann.MultiLabel);
        Assert.Equal(FashionItems.ClassNames, ann.Classes);
        Assert.Equal(4, ann.Scenes.Count);
        var ds = new FashionScenes(FashionSceneKind.MultiLabel, "test");
        for (int i = 0; i < 4; i++)
        {
            using var scene = ds.Get(i);
            var e = ann.Scenes[i];
            Assert.Equal(scene.Id, e.Id);
            using var png = ImageIO.Load(Path.Combine(dir, e.File));
            // PNG holds 8-bit values: within half a grey level of the float image
            Assert.True((png - scene.Image).abs().max().item<float>() <= 0.5f / 255 + 1e-6f);
            Assert.Equal(scene.Objects.Count, e.Objects.Count);
            for (int k = 0; k < e.Objects.Count; k++)
            {
                var o = scene.Objects[k];
                Assert.Equal(o.ClassIndex, e.Objects[k].ClassIndex);
                Assert.Equal(FashionItems.ClassNames[o.ClassIndex], e.Objects[k].ClassName);
                Assert.Equal(new[] { o.Box.X0, o.Box.Y0, o.Box.X1, o.Box.Y1 }, e.Objects[k].Box);
                Assert.Equal(o.Difficult, e.Objects[k].Difficult);
                using var mask = ImageIO.Load(Path.Combine(dir, e.Objects[k].Mask!));
                Assert.Equal(scene.ObjectMasks![k].data<bool>().ToArray(), mask[0].gt(0.5).contiguous().data<bool>().ToArray());
            }
            Assert.Null(e.Marker);
        }
        // no temporary folder is left behind, and an existing folder is not overwritten by accident
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(dir)!, $".{Path.GetFileName(dir)}.tmp-*"));
        Assert.Equal(2, CliApp.Run(new[] { "data", "export", "--dataset", "fashion-scenes-multi", "--count", "1", "--out", dir }));
        Assert.Equal(0, CliApp.Run(new[] { "data", "export", "--dataset", "fashion-scenes-biased", "--count", "30", "--out", dir, "--overwrite" }));
        var biased = JsonSerializer.Deserialize<ExportedAnnotations>(File.ReadAllText(Path.Combine(dir, "annotations.json")))!;
        Assert.Equal(30, biased.Scenes.Count);
        var bds = new FashionScenes(FashionSceneKind.Biased, "test");
        for (int i = 0; i < 30; i++)
            Assert.Equal(bds.Layout(i).Marker is { } m ? new[] { m.X0, m.Y0, m.X1, m.Y1 } : null, biased.Scenes[i].Marker);
        Assert.Equal(2, CliApp.Run(new[] { "data", "export", "--dataset", "no-such-set", "--out", Temp("x") }));
    }

    [Fact]
    public void ModelsEvalWritesTheMetricAsJson()
    {
        var json = Temp("eval.json");
        Assert.Equal(0, CliApp.Run(new[] { "models", "eval", "--model", "fashion-cnn-multi", "--dataset", "fashion-scenes-multi", "--limit", "30", "--json", json }));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal("mAP", doc.RootElement.GetProperty("Metric").GetString());
        Assert.Equal(30, doc.RootElement.GetProperty("Images").GetInt32());
        Assert.InRange(doc.RootElement.GetProperty("Value").GetDouble(), 0, 1);
        Assert.Equal(2, CliApp.Run(new[] { "models", "eval", "--model", "no-such-model", "--dataset", "fashion-scenes" }));
    }
}
