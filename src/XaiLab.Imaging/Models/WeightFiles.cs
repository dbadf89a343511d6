using static TorchSharp.torch;

namespace XaiLab.Imaging.Models;

/// <summary>Helpers for reading TorchSharp <c>Module.save</c> files, shared by the weight-file validators.</summary>
internal static class WeightFiles
{
    /// <summary>Reads one unsigned LEB128 integer (the encoding of counts, dtypes, ranks and sizes in the file).</summary>
    /// <exception cref="InvalidDataException">More than 63 bits.</exception>
    /// <exception cref="EndOfStreamException">The file ends inside the number.</exception>
    public static long ReadLeb128(BinaryReader r)
    {
        long result = 0; int shift = 0;
        while (true)
        {
            byte b = r.ReadByte();
            result |= (long)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
            shift += 7;
            if (shift > 63) throw new InvalidDataException("bad LEB128 integer");
        }
    }

    /// <summary>
    /// Reads the header of every tensor in a TorchSharp weights file (name, dtype, shape) and compares them with the
    /// network's state dict before any weight is read, so that a file of another architecture or class count fails
    /// naming the tensor that differs, a truncated file fails before anything is overwritten, and a file that is no
    /// weights file at all says so. Format (TorchSharp <c>Module.save</c>): LEB128 count, then per tensor a
    /// length-prefixed UTF-8 name, LEB128 dtype, LEB128 rank, LEB128 sizes and the raw element bytes.
    /// </summary>
    /// <param name="expected">The network's state dict.</param>
    /// <param name="storedAs">The dtype each tensor must have in the file (its own, or fp16 for half-precision storage).</param>
    /// <param name="shapeHint">Extra words when a tensor's shape differs (e.g. the class counts), or null.</param>
    /// <param name="retrainHint">How to make the file again, appended to truncation errors, or null.</param>
    /// <exception cref="InvalidDataException">The file does not fit the network; the message names the file and what differs.</exception>
    /// <param name="path">The weights file, named in messages.</param>
    /// <param name="model">The model's name, in messages.</param>
    public static void CheckHeaders(IReadOnlyDictionary<string, Tensor> expected, string path, string model, Func<Tensor, ScalarType> storedAs,
        Func<string, long[], Tensor, string>? shapeHint = null, string? retrainHint = null)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        long length = r.BaseStream.Length;
        var retrain = retrainHint is null ? "" : $" Retrain with {retrainHint}.";
        try
        {
            long count = ReadLeb128(r);
            if (count != expected.Count)
            {
                if (!StartsWithTensorName(r, count))
                    throw new InvalidDataException($"Weights file '{path}' is not a TorchSharp weights file (Module.save): its header is not a tensor count and name.{retrain}");
                throw new InvalidDataException($"Weights file '{path}' holds {count} tensors; model '{model}' has {expected.Count}: it belongs to another architecture or width.");
            }
            for (long i = 0; i < count; i++)
            {
                var name = r.ReadString();
                var dtype = (ScalarType)ReadLeb128(r);
                long rank = ReadLeb128(r);
                if (rank < 0 || rank > 8) throw new InvalidDataException($"Weights file '{path}' is corrupt: tensor '{name}' has rank {rank}.");
                var shape = new long[rank];
                for (int d = 0; d < rank; d++) shape[d] = ReadLeb128(r);
                if (!expected.TryGetValue(name, out var t))
                    throw new InvalidDataException($"Weights file '{path}' has a tensor '{name}' that model '{model}' does not have: it belongs to another architecture.");
                if (!t.shape.SequenceEqual(shape))
                    throw new InvalidDataException($"Weights file '{path}': tensor '{name}' has shape [{string.Join(",", shape)}] but model '{model}' expects [{string.Join(",", t.shape)}]{shapeHint?.Invoke(name, shape, t)}.");
                var want = storedAs(t);
                if (dtype != want)
                    throw new InvalidDataException($"Weights file '{path}': tensor '{name}' is {dtype}, expected {want}{(want != t.dtype ? $" ({(want == ScalarType.Float16 ? "fp16" : want.ToString())} storage)" : "")}.");
                long bytes = shape.Aggregate(1L, (a, b) => a * b) * (want == t.dtype ? t.ElementSize : ElementSize(want));
                if (r.BaseStream.Position + bytes > length)
                    throw new InvalidDataException($"Weights file '{path}' is truncated: tensor '{name}' needs {bytes} bytes, the file ends {length - r.BaseStream.Position} bytes later.{retrain}");
                r.BaseStream.Seek(bytes, SeekOrigin.Current);
            }
            if (r.BaseStream.Position != length)
                throw new InvalidDataException($"Weights file '{path}' has {length - r.BaseStream.Position} unexpected trailing bytes.");
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"Weights file '{path}' is truncated (ends inside the header of a tensor).{retrain}");
        }
    }

    /// <summary>Whether a plausible count is followed by a printable tensor name (what every Module.save file starts with).</summary>
    static bool StartsWithTensorName(BinaryReader r, long count)
    {
        if (count <= 0 || count > 100_000) return false;
        try
        {
            var name = r.ReadString();
            return name.Length is > 0 and < 1000 && name.All(c => !char.IsControl(c) && c != '\uFFFD');
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException) { return false; }
    }

    static long ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float64 or ScalarType.Int64 => 8,
        _ => 1,
    };
}
