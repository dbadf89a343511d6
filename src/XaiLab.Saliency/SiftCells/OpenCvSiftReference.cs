using System.Globalization;
using System.Security.Cryptography;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Saliency.SiftCells;

/// <summary>
/// OpenCV's SIFT keypoints computed once, offline, by <c>data-scripts/make-sift-reference.sh</c> (Debian's
/// python3-opencv) and committed as CSV, so that the detector check (§4.1.2) needs no OpenCV at run time.
/// The CSV header records the grey image's size and the SHA-256 of its bytes; <see cref="Luma8"/> recomputes those bytes
/// from the same lossless PNG, so both detectors provably see byte-identical input.
/// </summary>
/// <param name="Height">Height of the grey image the reference was computed on.</param>
/// <param name="Width">Width of that image.</param>
/// <param name="GraySha256">Lower-case hex SHA-256 of the row-major 8-bit grey bytes.</param>
/// <param name="Keypoints">OpenCV's keypoints as <see cref="SiftKeypoint"/> (σ = size/2; Layer = the angle in degrees, which OpenCV uses for its per-orientation copies).</param>
/// <param name="OpenCvVersion">The OpenCV version named in the header (empty if absent).</param>
public sealed record OpenCvSiftReference(int Height, int Width, string GraySha256, IReadOnlyList<SiftKeypoint> Keypoints, string OpenCvVersion)
{
    /// <summary>
    /// The fixed-point BT.601 luma of OpenCV's scalar BGR2GRAY code for 8-bit input, (4899·R + 9617·G + 1868·B + 2¹³) ≫ 14,
    /// of an RGB image <c>[3,H,W]</c> in [0,1] that holds 8-bit values (as <c>ImageIO.Load</c> returns them). Row-major bytes.
    /// </summary>
    /// <exception cref="ArgumentException">Not a <c>[3,H,W]</c> tensor.</exception>
    public static byte[] Luma8(Tensor rgb)
    {
        if (rgb.dim() != 3 || rgb.shape[0] != 3)
            throw new ArgumentException($"Expected an RGB image [3,H,W]; got shape [{string.Join(",", rgb.shape)}].", nameof(rgb));
        int plane = (int)(rgb.shape[1] * rgb.shape[2]);
        using var f = rgb.detach().cpu().to(ScalarType.Float32).contiguous();
        var v = f.data<float>().ToArray();
        var gray = new byte[plane];
        for (int i = 0; i < plane; i++)
        {
            int r = Byte(v[i]), g = Byte(v[plane + i]), b = Byte(v[2 * plane + i]);
            gray[i] = (byte)((4899 * r + 9617 * g + 1868 * b + (1 << 13)) >> 14);
        }
        return gray;
    }

    static int Byte(float v) => (int)Math.Clamp(Math.Round(v * 255.0), 0, 255);

    /// <summary>SHA-256 of <paramref name="gray"/> as lower-case hex (what the CSV header stores).</summary>
    public static string Sha256(byte[] gray) => Convert.ToHexStringLower(SHA256.HashData(gray));

    /// <summary>
    /// Reads a reference CSV: <c>#</c> header lines with <c>height=H width=W gray_sha256=HEX</c> (and "OpenCV VERSION"),
    /// a column line <c>x,y,size,angle,response,octave</c>, then one OpenCV keypoint per line (one per orientation).
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The header or a row is malformed.</exception>
    public static OpenCvSiftReference Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"OpenCV SIFT reference not found: {path} (regenerate with data-scripts/make-sift-reference.sh).", path);
        int h = -1, w = -1; string sha = "", version = "";
        var kps = new List<SiftKeypoint>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (line.StartsWith('#'))
            {
                var words = line.TrimStart('#').Split(' ', StringSplitOptions.RemoveEmptyEntries);
                for (int i = 0; i < words.Length; i++)
                {
                    if (words[i] == "OpenCV" && i + 1 < words.Length) version = words[i + 1];
                    var kv = words[i].Split('=');
                    if (kv.Length != 2) continue;
                    if (kv[0] == "height") h = int.Parse(kv[1], CultureInfo.InvariantCulture);
                    else if (kv[0] == "width") w = int.Parse(kv[1], CultureInfo.InvariantCulture);
                    else if (kv[0] == "gray_sha256") sha = kv[1];
                }
                continue;
            }
            if (line.Length == 0 || line.StartsWith("x,", StringComparison.Ordinal)) continue;
            var f = line.Split(',');
            if (f.Length != 6 || !float.TryParse(f[0], CultureInfo.InvariantCulture, out var x) || !float.TryParse(f[1], CultureInfo.InvariantCulture, out var y)
                || !float.TryParse(f[2], CultureInfo.InvariantCulture, out var size) || !float.TryParse(f[3], CultureInfo.InvariantCulture, out var angle)
                || !float.TryParse(f[4], CultureInfo.InvariantCulture, out var response) || !int.TryParse(f[5], CultureInfo.InvariantCulture, out var octave))
                throw new InvalidDataException($"{path}:{lineNo}: expected x,y,size,angle,response,octave; got '{line}'.");
            kps.Add(new SiftKeypoint(x, y, size / 2, response, octave, angle));
        }
        if (h <= 0 || w <= 0 || sha.Length != 64) throw new InvalidDataException($"{path}: header lacks height=, width= or gray_sha256=.");
        return new OpenCvSiftReference(h, w, sha, kps, version);
    }

    /// <summary>OpenCV's keypoints with the per-orientation copies merged (one per distinct (x, y, σ)), strongest first.</summary>
    public IReadOnlyList<SiftKeypoint> Distinct() =>
        Keypoints.GroupBy(k => (k.X, k.Y, k.Sigma)).Select(g => g.First()).OrderByDescending(k => k.Response).ToList();
}
