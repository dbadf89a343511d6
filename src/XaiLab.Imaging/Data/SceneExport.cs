using System.Text.Json;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Data;

/// <summary>One exported object in <c>annotations.json</c>. Box is inclusive pixel coordinates [x0,y0,x1,y1].</summary>
public sealed record ExportedObject(
    [property: JsonPropertyName("class")] int ClassIndex,
    [property: JsonPropertyName("className")] string ClassName,
    [property: JsonPropertyName("box")] int[] Box,
    [property: JsonPropertyName("difficult")] bool Difficult,
    [property: JsonPropertyName("mask")] string? Mask);

/// <summary>One exported scene: its image file and objects; <c>marker</c> is the planted marker's box (biased Fashion scenes) or null.</summary>
public sealed record ExportedScene(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("width")] int Width,
    [property: JsonPropertyName("height")] int Height,
    [property: JsonPropertyName("objects")] IReadOnlyList<ExportedObject> Objects,
    [property: JsonPropertyName("marker")] int[]? Marker);

/// <summary>The whole <c>annotations.json</c>.</summary>
public sealed record ExportedAnnotations(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("split")] string Split,
    [property: JsonPropertyName("multiLabel")] bool MultiLabel,
    [property: JsonPropertyName("classes")] IReadOnlyList<string> Classes,
    [property: JsonPropertyName("scenes")] IReadOnlyList<ExportedScene> Scenes);

/// <summary>
/// Writes scenes as files: <c>NNNNN.png</c> (the image), <c>NNNNN_objK.png</c> (object K's mask, white = object) and one
/// <c>annotations.json</c> (<see cref="ExportedAnnotations"/>). Everything is written into a temporary sibling folder that
/// is renamed to the target at the end, so an interrupted export leaves no half-written folder.
/// </summary>
public static class SceneExport
{
    /// <summary>Exports scenes 0..count−1 of <paramref name="dataset"/> to <paramref name="outDir"/>.</summary>
    /// <param name="split">Recorded in the JSON.</param>
    /// <param name="overwrite">Replace an existing <paramref name="outDir"/>; otherwise an existing folder is an error.</param>
    /// <exception cref="IOException"><paramref name="outDir"/> exists and <paramref name="overwrite"/> is false.</exception>
    /// <param name="dataset">The dataset to export from (an opened split).</param>
    /// <param name="count">Number of scenes, from index 0 (at most the dataset's count).</param>
    /// <param name="outDir">Folder written: scene PNGs, one mask PNG per object, <c>annotations.json</c>.</param>
    public static ExportedAnnotations Export(ISceneDataset dataset, string split, int count, string outDir, bool overwrite = false)
    {
        if (count < 1) throw new ArgumentException($"count must be ≥ 1; got {count}.");
        count = Math.Min(count, dataset.Count);
        var target = Path.GetFullPath(outDir);
        if (Directory.Exists(target) && !overwrite) throw new IOException($"Output folder '{target}' already exists (pass --overwrite to replace it).");
        var parent = Path.GetDirectoryName(target.TrimEnd(Path.DirectorySeparatorChar)) ?? ".";
        Directory.CreateDirectory(parent);
        var tmp = Path.Combine(parent, $".{Path.GetFileName(target.TrimEnd(Path.DirectorySeparatorChar))}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        try
        {
            var scenes = new List<ExportedScene>();
            for (int i = 0; i < count; i++)
            {
                using var scope = NewDisposeScope();
                using var scene = dataset.Get(i);
                var stem = i.ToString("D5");
                ImageIO.SavePng(scene.Image, Path.Combine(tmp, stem + ".png"));
                var objs = new List<ExportedObject>();
                for (int k = 0; k < scene.Objects.Count; k++)
                {
                    var o = scene.Objects[k];
                    string? maskFile = null;
                    if (scene.ObjectMasks is not null)
                    {
                        maskFile = $"{stem}_obj{k}.png";
                        ImageIO.SavePng(scene.ObjectMasks[k].to_type(ScalarType.Float32), Path.Combine(tmp, maskFile));
                    }
                    objs.Add(new ExportedObject(o.ClassIndex, dataset.ClassNames[o.ClassIndex], new[] { o.Box.X0, o.Box.Y0, o.Box.X1, o.Box.Y1 }, o.Difficult, maskFile));
                }
                int[]? marker = dataset is FashionScenes fs && fs.Layout(i).Marker is { } m ? new[] { m.X0, m.Y0, m.X1, m.Y1 } : null;
                scenes.Add(new ExportedScene(scene.Id, stem + ".png", scene.Width, scene.Height, objs, marker));
            }
            var ann = new ExportedAnnotations(dataset.Name, split, dataset.MultiLabel, dataset.ClassNames, scenes);
            File.WriteAllText(Path.Combine(tmp, "annotations.json"), JsonSerializer.Serialize(ann, new JsonSerializerOptions { WriteIndented = true }));
            if (Directory.Exists(target)) Directory.Delete(target, true);
            Directory.Move(tmp, target);
            return ann;
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
            throw;
        }
    }
}
