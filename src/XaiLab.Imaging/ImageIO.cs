using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging;

/// <summary>
/// Reads and writes images as float32 tensors <c>[C,H,W]</c> with values in [0,1] (sRGB), the convention of
/// the whole toolkit (SPEC, "Conventions"). PNG and JPEG through SkiaSharp.
/// </summary>
public static class ImageIO
{
    static ImageIO() => NativeLibraries.EnsureSkia();

    /// <summary>Loads a PNG/JPEG/BMP/WebP file as <c>[3,H,W]</c> float32 in [0,1] (alpha is dropped).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an image SkiaSharp can decode.</exception>
    public static Tensor Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Image file not found: {path}", path);
        using var bitmap = SKBitmap.Decode(path)
            ?? throw new InvalidDataException($"'{path}' is not a readable image (expected PNG, JPEG, BMP or WebP).");
        return FromBitmap(bitmap);
    }

    /// <summary>Decodes image bytes (PNG/JPEG/…) into <c>[3,H,W]</c> float32 in [0,1].</summary>
    public static Tensor Decode(byte[] bytes, string what = "image bytes")
    {
        using var bitmap = SKBitmap.Decode(bytes)
            ?? throw new InvalidDataException($"{what}: not a readable image (expected PNG, JPEG, BMP or WebP).");
        return FromBitmap(bitmap);
    }

    static Tensor FromBitmap(SKBitmap source)
    {
        Devices.EnsureNativeLoaded();
        using var bitmap = source.ColorType == SKColorType.Rgba8888 ? source.Copy() : source.Copy(SKColorType.Rgba8888);
        int w = bitmap.Width, h = bitmap.Height;
        var bytes = bitmap.Bytes; // RGBA, row-major
        var data = new float[3 * h * w];
        int plane = h * w;
        for (int i = 0; i < plane; i++)
        {
            data[i] = bytes[4 * i] / 255f;
            data[plane + i] = bytes[4 * i + 1] / 255f;
            data[2 * plane + i] = bytes[4 * i + 2] / 255f;
        }
        return tensor(data, new long[] { 3, h, w });
    }

    /// <summary>Encodes <c>[C,H,W]</c> (C = 1 or 3) or <c>[H,W]</c> values in [0,1] as PNG bytes. Values are clamped.</summary>
    /// <exception cref="ArgumentException">The tensor is not an image of that shape.</exception>
    public static byte[] EncodePng(Tensor image)
    {
        var (c, h, w, data) = ToBytes(image);
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var px = new byte[4 * h * w];
        int plane = h * w;
        for (int i = 0; i < plane; i++)
        {
            byte r = data[i], g = c == 3 ? data[plane + i] : r, b = c == 3 ? data[2 * plane + i] : r;
            px[4 * i] = r; px[4 * i + 1] = g; px[4 * i + 2] = b; px[4 * i + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(px, 0, bitmap.GetPixels(), px.Length);
        using var img = SKImage.FromBitmap(bitmap);
        using var encoded = img.Encode(SKEncodedImageFormat.Png, 100);
        return encoded.ToArray();
    }

    /// <summary>Writes <paramref name="image"/> as a PNG file (to a temporary file first, then renamed).</summary>
    public static void SavePng(Tensor image, string path)
    {
        var bytes = EncodePng(image);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }

    static (int c, int h, int w, byte[] data) ToBytes(Tensor image)
    {
        using var scope = NewDisposeScope();
        var t = image.detach().to(CPU).to_type(ScalarType.Float32);
        if (t.dim() == 2) t = t.unsqueeze(0);
        if (t.dim() != 3 || (t.shape[0] != 1 && t.shape[0] != 3))
            throw new ArgumentException($"Expected an image tensor [C,H,W] with C = 1 or 3, or [H,W]; got [{string.Join(",", image.shape)}].");
        int c = (int)t.shape[0], h = (int)t.shape[1], w = (int)t.shape[2];
        var f = t.clamp(0, 1).mul(255).round().contiguous().data<float>().ToArray();
        var b = new byte[f.Length];
        for (int i = 0; i < f.Length; i++) b[i] = (byte)f[i];
        return (c, h, w, b);
    }
}
