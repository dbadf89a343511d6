using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Data;

/// <summary>An axis-aligned box in pixel coordinates, inclusive on both ends (VOC convention, 0-based here).</summary>
public readonly record struct BoundingBox(int X0, int Y0, int X1, int Y1)
{
    /// <summary>Width in pixels, X1 − X0 + 1 (the box is inclusive).</summary>
    public int Width => X1 - X0 + 1;
    /// <summary>Height in pixels, Y1 − Y0 + 1.</summary>
    public int Height => Y1 - Y0 + 1;
    /// <summary>Area in pixels, 0 for an empty (inverted) box.</summary>
    public int Area => Math.Max(0, Width) * Math.Max(0, Height);
}

/// <summary>One annotated object of a scene.</summary>
/// <param name="ClassIndex">Index into the dataset's class list.</param>
/// <param name="Box">Bounding box, inclusive pixel coordinates.</param>
/// <param name="Difficult">VOC's "difficult" flag (pointing game skips classes whose boxes are all difficult).</param>
public sealed record SceneObject(int ClassIndex, BoundingBox Box, bool Difficult = false);

/// <summary>
/// An image with its annotations: the common record of Fashion scenes, VOC07 and COCO14.
/// </summary>
public sealed class Scene : IDisposable
{
    /// <param name="id">Stable identifier (file stem for VOC/COCO, "split/index" for generated scenes).</param>
    /// <param name="image">float32 <c>[3,H,W]</c> in [0,1].</param>
    /// <param name="objects">The annotated objects.</param>
    /// <param name="objectMasks">Optional exact pixel masks <c>[n,H,W]</c> (bool), one per object in order; null where only boxes are known.</param>
    public Scene(string id, Tensor image, IReadOnlyList<SceneObject> objects, Tensor? objectMasks = null)
    {
        if (image.dim() != 3) throw new ArgumentException($"Scene '{id}': image must be [C,H,W]; got [{string.Join(",", image.shape)}].");
        if (objectMasks is not null && (objectMasks.dim() != 3 || objectMasks.shape[0] != objects.Count
                                        || objectMasks.shape[1] != image.shape[1] || objectMasks.shape[2] != image.shape[2]))
            throw new ArgumentException($"Scene '{id}': object masks must be [{objects.Count},{image.shape[1]},{image.shape[2]}]; got [{string.Join(",", objectMasks.shape)}].");
        Id = id; Image = image; Objects = objects; ObjectMasks = objectMasks;
    }

    /// <summary>Stable identifier: file stem for VOC/COCO, "split/index" for generated scenes.</summary>
    public string Id { get; }
    /// <summary>The image, float32 <c>[3,H,W]</c> in [0,1]; owned by the scene.</summary>
    public Tensor Image { get; }
    /// <summary>The annotated objects (class, box, difficult flag).</summary>
    public IReadOnlyList<SceneObject> Objects { get; }
    /// <summary>Exact pixel masks <c>[n,H,W]</c> (bool), one per object of <see cref="Objects"/>, or null where only boxes are known.</summary>
    public Tensor? ObjectMasks { get; }
    /// <summary>Image height H in pixels.</summary>
    public int Height => (int)Image.shape[1];
    /// <summary>Image width W in pixels.</summary>
    public int Width => (int)Image.shape[2];

    /// <summary>The distinct classes present, ascending.</summary>
    public IReadOnlyList<int> Classes => Objects.Select(o => o.ClassIndex).Distinct().OrderBy(c => c).ToArray();

    /// <summary>
    /// Ground-truth pixels of class <paramref name="classIndex"/> as bool <c>[H,W]</c>: the union of the exact masks where
    /// known, else of the boxes (TorchRay: boxes for VOC, segmentation masks for COCO). With <paramref name="includeDifficult"/>
    /// false, difficult objects are left out.
    /// </summary>
    public Tensor ClassMask(int classIndex, bool includeDifficult = true)
    {
        using var scope = NewDisposeScope();
        var m = zeros(new long[] { Height, Width }, ScalarType.Bool);
        for (int i = 0; i < Objects.Count; i++)
        {
            var o = Objects[i];
            if (o.ClassIndex != classIndex || (!includeDifficult && o.Difficult)) continue;
            if (ObjectMasks is not null) m = m.logical_or(ObjectMasks[i]);
            else
            {
                int x0 = Math.Clamp(o.Box.X0, 0, Width - 1), x1 = Math.Clamp(o.Box.X1, 0, Width - 1);
                int y0 = Math.Clamp(o.Box.Y0, 0, Height - 1), y1 = Math.Clamp(o.Box.Y1, 0, Height - 1);
                m[TensorIndex.Slice(y0, y1 + 1), TensorIndex.Slice(x0, x1 + 1)] = true;
            }
        }
        return m.MoveToOuterDisposeScope();
    }

    /// <summary>Disposes the image and the masks.</summary>
    public void Dispose() { Image.Dispose(); ObjectMasks?.Dispose(); }
}

/// <summary>A dataset of annotated scenes (Fashion scenes, VOC07 test, COCO14 val …), random access by index.</summary>
public interface ISceneDataset
{
    /// <summary>Registry name of the dataset and split, e.g. <c>voc07-test</c>.</summary>
    string Name { get; }
    /// <summary>The class names; <see cref="SceneObject.ClassIndex"/> indexes this list.</summary>
    IReadOnlyList<string> ClassNames { get; }
    /// <summary>True where images carry several labels (sigmoid models, VOC/COCO); false for one label per image.</summary>
    bool MultiLabel { get; }
    /// <summary>Number of scenes; valid indices are 0..Count−1.</summary>
    int Count { get; }
    /// <summary>Loads scene <paramref name="index"/> (0 ≤ index &lt; Count). The caller disposes it.</summary>
    Scene Get(int index);
}
