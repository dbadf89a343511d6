using System.Text;

namespace XaiLab.Imaging.Models.Onnx;

/// <summary>Protocol-buffer wire types (encoding spec: varint 0, 64-bit 1, length-delimited 2, 32-bit 5).</summary>
public enum WireType
{
    /// <summary>A base-128 varint (int32/64, uint, bool, enum).</summary>
    Varint = 0,
    /// <summary>8 little-endian bytes (fixed64, double).</summary>
    Fixed64 = 1,
    /// <summary>A varint length, then that many bytes (strings, bytes, sub-messages, packed repeated scalars).</summary>
    LengthDelimited = 2,
    /// <summary>Start of a group (deprecated in proto3; ONNX does not use it).</summary>
    StartGroup = 3,
    /// <summary>End of a group (deprecated).</summary>
    EndGroup = 4,
    /// <summary>4 little-endian bytes (fixed32, float).</summary>
    Fixed32 = 5,
}

/// <summary>
/// A minimal reader of the protocol-buffer wire format, enough for ONNX files: tags, varints, fixed 32/64-bit
/// values and length-delimited fields (sub-messages, strings, packed repeated scalars). It never allocates for
/// sub-messages: a nested message is read by a new reader over a slice of the same buffer.
/// Errors throw <see cref="InvalidDataException"/> naming <c>what</c> (the file) and the byte offset.
/// </summary>
public ref struct ProtoReader
{
    readonly ReadOnlySpan<byte> _data;
    readonly int _base;
    readonly string _what;
    int _pos;

    /// <param name="data">The message bytes.</param>
    /// <param name="what">Names the source in error messages (usually the file path).</param>
    /// <param name="baseOffset">Offset of <paramref name="data"/> inside the file, for error messages.</param>
    public ProtoReader(ReadOnlySpan<byte> data, string what, int baseOffset = 0)
    {
        _data = data; _what = what; _base = baseOffset; _pos = 0;
    }

    /// <summary>Whether every byte of the message has been read.</summary>
    public bool End => _pos >= _data.Length;
    /// <summary>The read position as a byte offset in the file (base offset + position in this slice).</summary>
    public int Position => _base + _pos;

    /// <summary>Reads the next field key: field number and wire type.</summary>
    public (int Field, WireType Wire) ReadTag()
    {
        int at = Position;
        ulong key = ReadVarint();
        int field = (int)(key >> 3);
        var wire = (WireType)(key & 7);
        if (field <= 0) throw Error($"invalid field number {field}", at);
        if (wire is WireType.StartGroup or WireType.EndGroup || (int)wire > 5)
            throw Error($"unsupported wire type {(int)wire} for field {field}", at);
        return (field, wire);
    }

    /// <summary>Reads a base-128 varint (at most 10 bytes).</summary>
    public ulong ReadVarint()
    {
        ulong result = 0;
        int at = Position;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= _data.Length) throw Error("truncated varint", at);
            byte b = _data[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw Error("varint longer than 10 bytes", at);
    }

    /// <summary>Reads a varint as a signed 64-bit integer (two's complement; int32/int64 fields, not zig-zag sint).</summary>
    public long ReadInt64() => (long)ReadVarint();

    /// <summary>Reads 4 bytes as a little-endian unsigned 32-bit integer (wire type 5).</summary>
    public uint ReadFixed32()
    {
        var s = Take(4);
        return BitConverter.ToUInt32(s);
    }

    /// <summary>Reads 8 bytes as a little-endian unsigned 64-bit integer (wire type 1).</summary>
    public ulong ReadFixed64()
    {
        var s = Take(8);
        return BitConverter.ToUInt64(s);
    }

    /// <summary>Reads a 32-bit IEEE float (wire type 5).</summary>
    public float ReadFloat() => BitConverter.Int32BitsToSingle((int)ReadFixed32());

    /// <summary>Reads a length-delimited field's bytes; <paramref name="offset"/> is their position in the file.</summary>
    public ReadOnlySpan<byte> ReadBytes(out int offset)
    {
        int at = Position;
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos)) throw Error($"length-delimited field of {len} bytes runs past the end", at);
        offset = Position;
        return Take((int)len);
    }

    /// <summary>Reads a length-delimited field's bytes (a view of the buffer, no copy).</summary>
    public ReadOnlySpan<byte> ReadBytes() => ReadBytes(out _);

    /// <summary>Reads a length-delimited field as UTF-8 text.</summary>
    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    /// <summary>A reader over the next length-delimited field (a sub-message).</summary>
    public ProtoReader ReadMessage()
    {
        var bytes = ReadBytes(out int offset);
        return new ProtoReader(bytes, _what, offset);
    }

    /// <summary>Skips a field's value of the given wire type.</summary>
    public void Skip(WireType wire)
    {
        switch (wire)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: Take(8); break;
            case WireType.Fixed32: Take(4); break;
            case WireType.LengthDelimited: ReadBytes(); break;
            default: throw Error($"cannot skip wire type {(int)wire}", Position);
        }
    }

    /// <summary>Appends a repeated int64 field that may be packed (length-delimited) or not (one varint).</summary>
    public void ReadRepeatedInt64(WireType wire, List<long> into)
    {
        if (wire == WireType.Varint) { into.Add(ReadInt64()); return; }
        Expect(wire, WireType.LengthDelimited);
        var inner = ReadMessage();
        while (!inner.End) into.Add(inner.ReadInt64());
    }

    /// <summary>Appends a repeated float field, packed or not.</summary>
    public void ReadRepeatedFloat(WireType wire, List<float> into)
    {
        if (wire == WireType.Fixed32) { into.Add(ReadFloat()); return; }
        Expect(wire, WireType.LengthDelimited);
        var bytes = ReadBytes(out int offset);
        if (bytes.Length % 4 != 0) throw Error($"packed float field of {bytes.Length} bytes (not a multiple of 4)", offset);
        for (int i = 0; i < bytes.Length; i += 4) into.Add(BitConverter.ToSingle(bytes.Slice(i, 4)));
    }

    /// <summary>Appends a repeated double field, packed or not.</summary>
    public void ReadRepeatedDouble(WireType wire, List<double> into)
    {
        if (wire == WireType.Fixed64) { into.Add(BitConverter.Int64BitsToDouble((long)ReadFixed64())); return; }
        Expect(wire, WireType.LengthDelimited);
        var bytes = ReadBytes(out int offset);
        if (bytes.Length % 8 != 0) throw Error($"packed double field of {bytes.Length} bytes (not a multiple of 8)", offset);
        for (int i = 0; i < bytes.Length; i += 8) into.Add(BitConverter.ToDouble(bytes.Slice(i, 8)));
    }

    /// <summary>Throws unless the field has the wire type its schema requires.</summary>
    public void Expect(WireType actual, WireType expected)
    {
        if (actual != expected) throw Error($"wire type {actual} where {expected} was expected", Position);
    }

    ReadOnlySpan<byte> Take(int n)
    {
        if (n > _data.Length - _pos) throw Error($"truncated: {n} bytes needed, {_data.Length - _pos} left", Position);
        var s = _data.Slice(_pos, n);
        _pos += n;
        return s;
    }

    /// <summary>The exception for malformed input: "SOURCE: malformed protobuf at byte OFFSET: MESSAGE.".</summary>
    public InvalidDataException Error(string message, int offset) =>
        new($"{_what}: malformed protobuf at byte {offset}: {message}.");
}
