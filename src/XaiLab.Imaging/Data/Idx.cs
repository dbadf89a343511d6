using System.Buffers.Binary;
using System.IO.Compression;

namespace XaiLab.Imaging.Data;

/// <summary>Images of an idx3 file: <see cref="Count"/> images of <see cref="Rows"/>×<see cref="Cols"/> bytes, row-major, one after the other.</summary>
public sealed record IdxImages(int Count, int Rows, int Cols, byte[] Pixels)
{
    /// <summary>The pixels of image <paramref name="index"/> (Rows·Cols bytes, row-major; 0 = black).</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), $"Image index {index} is out of range 0..{Count - 1}.");
        return Pixels.AsSpan(index * Rows * Cols, Rows * Cols);
    }
}

/// <summary>
/// Reader (and writer) of the idx format of MNIST / Fashion-MNIST (LeCun et al.): a big-endian header
/// <c>00 00 type ndim</c>, then <c>ndim</c> big-endian int32 sizes, then the data. Only unsigned bytes (type 0x08) occur
/// in these datasets and only those are read. Files ending in <c>.gz</c> are decompressed on the fly.
/// </summary>
public static class Idx
{
    /// <summary>Reads an idx3 image file (<c>[N,rows,cols]</c> bytes).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Bad magic, wrong rank, or the file is truncated (the message names the file).</exception>
    public static IdxImages ReadImages(string path)
    {
        var (dims, data) = Read(path, expectedRank: 3);
        return new IdxImages(dims[0], dims[1], dims[2], data);
    }

    /// <summary>Reads an idx1 label file (<c>[N]</c> bytes).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Bad magic, wrong rank, or the file is truncated (the message names the file).</exception>
    public static byte[] ReadLabels(string path) => Read(path, expectedRank: 1).data;

    static (int[] dims, byte[] data) Read(string path, int expectedRank)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"idx file not found: {path}", path);
        try
        {
            using var file = File.OpenRead(path);
            using Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            Span<byte> head = stackalloc byte[4];
            ReadExactly(s, head, path, "the 4-byte magic number");
            if (head[0] != 0 || head[1] != 0)
                throw new InvalidDataException($"'{path}' is not an idx file: magic number must start with two zero bytes, got {head[0]:X2} {head[1]:X2}.");
            if (head[2] != 0x08)
                throw new InvalidDataException($"'{path}': idx element type 0x{head[2]:X2} is not supported (expected 0x08, unsigned byte).");
            if (head[3] != expectedRank)
                throw new InvalidDataException($"'{path}': expected an idx file of rank {expectedRank} ({(expectedRank == 3 ? "images" : "labels")}), got rank {head[3]}.");
            var dims = new int[expectedRank];
            Span<byte> d = stackalloc byte[4];
            long total = 1;
            for (int i = 0; i < expectedRank; i++)
            {
                ReadExactly(s, d, path, $"size {i} of the header");
                dims[i] = BinaryPrimitives.ReadInt32BigEndian(d);
                if (dims[i] < 0) throw new InvalidDataException($"'{path}': negative size {dims[i]} in the header.");
                total *= dims[i];
            }
            if (total > int.MaxValue) throw new InvalidDataException($"'{path}': {total} elements is too many for one array.");
            var data = new byte[total];
            ReadExactly(s, data, path, $"{total} data bytes ([{string.Join(",", dims)}])");
            return (dims, data);
        }
        catch (InvalidDataException e) when (!e.Message.Contains(path))
        {
            // GZipStream reports a damaged stream without naming the file.
            throw new InvalidDataException($"'{path}' is corrupt: {e.Message}", e);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"'{path}' is truncated: {e.Message}", e);
        }
    }

    static void ReadExactly(Stream s, Span<byte> buffer, string path, string what)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = s.Read(buffer[got..]);
            if (n == 0) throw new InvalidDataException($"'{path}' is truncated: it ended after {got} of the {buffer.Length} bytes of {what}.");
            got += n;
        }
    }

    /// <summary>Writes an idx3 image file (gzip-compressed when the name ends in <c>.gz</c>); used to build the embedded subset and test fixtures.</summary>
    public static void WriteImages(string path, IdxImages images)
    {
        if (images.Pixels.Length != images.Count * images.Rows * images.Cols)
            throw new ArgumentException($"Pixels has {images.Pixels.Length} bytes; expected Count·Rows·Cols = {images.Count * images.Rows * images.Cols}.");
        Write(path, new[] { images.Count, images.Rows, images.Cols }, images.Pixels);
    }

    /// <summary>Writes an idx1 label file (gzip-compressed when the name ends in <c>.gz</c>).</summary>
    public static void WriteLabels(string path, byte[] labels) => Write(path, new[] { labels.Length }, labels);

    static void Write(string path, int[] dims, byte[] data)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp";
        using (var file = File.Create(tmp))
        using (Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionLevel.SmallestSize) : file)
        {
            s.Write(new byte[] { 0, 0, 0x08, (byte)dims.Length });
            Span<byte> d = stackalloc byte[4];
            foreach (var n in dims) { BinaryPrimitives.WriteInt32BigEndian(d, n); s.Write(d); }
            s.Write(data);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
