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
}
