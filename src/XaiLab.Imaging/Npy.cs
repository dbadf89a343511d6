using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging;

/// <summary>
/// NumPy <c>.npy</c> format version 1.0 for little-endian float32 arrays in C order: magic <c>\x93NUMPY</c>,
/// version bytes 1 0, a uint16 little-endian header length, then an ASCII Python-dict header
/// (<c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (14, 64, 64), }</c>) padded with spaces and ending in
/// a newline so that the data start at a multiple of 64 bytes, then the raw values.
/// Readable with <c>numpy.load</c>.
/// </summary>
public static class Npy
{
    static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>The v1.0 header (magic, version, length, dict) for a float32 array of <paramref name="shape"/>.</summary>
    public static byte[] Header(IReadOnlyList<long> shape)
    {
        if (shape.Any(d => d < 0)) throw new ArgumentException($"Array dimensions must be ≥ 0; got ({string.Join(", ", shape)}).");
        var dims = shape.Count switch
        {
            0 => "()",
            1 => $"({shape[0]},)",
            _ => "(" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        var dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}";
        int unpadded = Magic.Length + 2 + 2 + dict.Length + 1; // + trailing '\n'
        int total = (unpadded + 63) / 64 * 64;
        int headerLen = total - Magic.Length - 4;
        if (headerLen > ushort.MaxValue) throw new ArgumentException("Shape too long for an .npy v1.0 header.");
        var text = dict.PadRight(headerLen - 1) + "\n";
        var bytes = new byte[total];
        Magic.CopyTo(bytes, 0);
        bytes[6] = 1; bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)headerLen);
        Encoding.ASCII.GetBytes(text).CopyTo(bytes, 10);
        return bytes;
    }

    /// <summary>Writes <paramref name="data"/> (C order) with <paramref name="shape"/> as float32 .npy.</summary>
    /// <exception cref="ArgumentException">The shape does not match the number of values.</exception>
    public static void Write(string path, ReadOnlySpan<float> data, IReadOnlyList<long> shape)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        if (n != data.Length) throw new ArgumentException($"Shape ({string.Join(", ", shape)}) holds {n} values; got {data.Length}.");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        using var f = File.Create(path);
        f.Write(Header(shape));
        var buf = new byte[data.Length * 4];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(4 * i), data[i]);
        f.Write(buf);
    }

    /// <summary>Writes a tensor (any dtype, any device) as float32 .npy with its shape.</summary>
    public static void Write(string path, Tensor t)
    {
        using var scope = NewDisposeScope();
        var a = t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        Write(path, a, t.shape);
    }

    /// <summary>Reads a float32 little-endian C-order .npy v1.0/v2.0 file.</summary>
    /// <exception cref="InvalidDataException">Not an .npy file, or not float32 C order.</exception>
    public static (float[] Data, long[] Shape) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($".npy file not found: {path}", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"'{path}' is not an .npy file (bad magic).");
        int major = bytes[6];
        int headerLen, offset;
        if (major == 1) { headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)); offset = 10; }
        else if (major is 2 or 3) { headerLen = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)); offset = 12; }
        else throw new InvalidDataException($"'{path}': unsupported .npy version {major}.{bytes[7]}.");
        if (offset + headerLen > bytes.Length) throw new InvalidDataException($"'{path}': truncated .npy header.");
        var header = Encoding.ASCII.GetString(bytes, offset, headerLen);
        if (!Regex.IsMatch(header, @"'descr':\s*'<f4'")) throw new InvalidDataException($"'{path}': expected dtype '<f4' (float32 little-endian); header {header.Trim()}");
        if (!Regex.IsMatch(header, @"'fortran_order':\s*False")) throw new InvalidDataException($"'{path}': expected C order (fortran_order False).");
        var m = Regex.Match(header, @"'shape':\s*\(([^)]*)\)");
        if (!m.Success) throw new InvalidDataException($"'{path}': no shape in the .npy header.");
        var shape = m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        long n = shape.Aggregate(1L, (a, b) => a * b);
        int start = offset + headerLen;
        if (bytes.Length - start != n * 4) throw new InvalidDataException($"'{path}': {bytes.Length - start} data bytes for shape ({string.Join(", ", shape)}), expected {n * 4}.");
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(start + 4 * i));
        return (data, shape);
    }

    /// <summary>Reads a float32 .npy file as a CPU tensor.</summary>
    public static Tensor ReadTensor(string path)
    {
        var (data, shape) = Read(path);
        return tensor(data, shape);
    }
}
