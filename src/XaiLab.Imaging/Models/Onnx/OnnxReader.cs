using System.Runtime.InteropServices;

namespace XaiLab.Imaging.Models.Onnx;

/// <summary>
/// Reads ONNX model files (the <c>onnx.proto</c> schema) with a hand-written protobuf parser: model header,
/// opset imports, graph nodes with their attributes, graph inputs/outputs with static shapes, and initializers
/// with <c>raw_data</c> or the typed <c>float_data</c>/<c>double_data</c>/<c>int32_data</c>/<c>int64_data</c> fields.
/// Unknown fields are skipped, as protobuf requires. Tensors stored outside the file (<c>data_location = EXTERNAL</c>)
/// and sparse initializers are reported as unsupported. Assumes a little-endian machine (as ONNX's <c>raw_data</c> is).
/// </summary>
public static class OnnxReader
{
    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a well-formed ONNX model; the message names the file and byte offset.</exception>
    public static OnnxModel Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model file not found: {path}", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses ONNX model bytes; <paramref name="source"/> names them in error messages.</summary>
    public static OnnxModel Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length == 0) throw new InvalidDataException($"{source}: empty file, not an ONNX model.");
        var r = new ProtoReader(bytes, source);
        long ir = 0; string producer = "", producerVersion = "";
        var opsets = new Dictionary<string, long>();
        OnnxGraph? graph = null;
        while (!r.End)
        {
            var (f, w) = r.ReadTag();
            switch (f)
            {
                case 1: r.Expect(w, WireType.Varint); ir = r.ReadInt64(); break;
                case 2: r.Expect(w, WireType.LengthDelimited); producer = r.ReadString(); break;
                case 3: r.Expect(w, WireType.LengthDelimited); producerVersion = r.ReadString(); break;
                case 7: r.Expect(w, WireType.LengthDelimited); var g = r.ReadMessage(); graph = ReadGraph(ref g); break;
                case 8:
                    r.Expect(w, WireType.LengthDelimited);
                    var o = r.ReadMessage();
                    string domain = ""; long version = 0;
                    while (!o.End)
                    {
                        var (of, ow) = o.ReadTag();
                        if (of == 1 && ow == WireType.LengthDelimited) domain = o.ReadString();
                        else if (of == 2 && ow == WireType.Varint) version = o.ReadInt64();
                        else o.Skip(ow);
                    }
                    opsets[domain] = version;
                    break;
                default: r.Skip(w); break;
            }
        }
        if (graph is null) throw new InvalidDataException($"{source}: no graph in the file (ModelProto field 7 missing): not an ONNX model.");
        if (ir <= 0) throw new InvalidDataException($"{source}: ir_version missing: not an ONNX model.");
        return new OnnxModel(source, ir, producer, producerVersion, opsets, graph);
    }

    static OnnxGraph ReadGraph(ref ProtoReader r)
    {
        string name = "";
        var nodes = new List<OnnxNode>();
        var inits = new Dictionary<string, OnnxTensor>();
        var inputs = new List<OnnxValueInfo>();
        var outputs = new List<OnnxValueInfo>();
        while (!r.End)
        {
            var (f, w) = r.ReadTag();
            switch (f)
            {
                case 1: r.Expect(w, WireType.LengthDelimited); { var m = r.ReadMessage(); nodes.Add(ReadNode(ref m)); } break;
                case 2: r.Expect(w, WireType.LengthDelimited); name = r.ReadString(); break;
                case 5:
                    {
                        r.Expect(w, WireType.LengthDelimited);
                        int at = r.Position;
                        var m = r.ReadMessage();
                        var t = ReadTensor(ref m);
                        if (!inits.TryAdd(t.Name, t)) throw r.Error($"initializer '{t.Name}' defined twice", at);
                        break;
                    }
                case 11: r.Expect(w, WireType.LengthDelimited); { var m = r.ReadMessage(); inputs.Add(ReadValueInfo(ref m)); } break;
                case 12: r.Expect(w, WireType.LengthDelimited); { var m = r.ReadMessage(); outputs.Add(ReadValueInfo(ref m)); } break;
                case 15: throw r.Error("sparse initializers are not supported", r.Position);
                default: r.Skip(w); break;
            }
        }
        return new OnnxGraph(name, nodes, inits, inputs, outputs);
    }

    static OnnxNode ReadNode(ref ProtoReader r)
    {
        string name = "", op = "", domain = "";
        var ins = new List<string>(); var outs = new List<string>();
        var attrs = new Dictionary<string, OnnxAttribute>();
        while (!r.End)
        {
            var (f, w) = r.ReadTag();
            switch (f)
            {
                case 1: r.Expect(w, WireType.LengthDelimited); ins.Add(r.ReadString()); break;
                case 2: r.Expect(w, WireType.LengthDelimited); outs.Add(r.ReadString()); break;
                case 3: r.Expect(w, WireType.LengthDelimited); name = r.ReadString(); break;
                case 4: r.Expect(w, WireType.LengthDelimited); op = r.ReadString(); break;
                case 7: r.Expect(w, WireType.LengthDelimited); domain = r.ReadString(); break;
                case 5: r.Expect(w, WireType.LengthDelimited); { var m = r.ReadMessage(); var a = ReadAttribute(ref m); attrs[a.Name] = a; } break;
                default: r.Skip(w); break;
            }
        }
        return new OnnxNode(name, op, domain, ins, outs, attrs);
    }

    static OnnxAttribute ReadAttribute(ref ProtoReader r)
    {
        string name = "", s = ""; int type = 0; long i = 0; float fl = 0;
        var ints = new List<long>(); var floats = new List<float>();
        while (!r.End)
        {
            var (f, w) = r.ReadTag();
            switch (f)
            {
                case 1: r.Expect(w, WireType.LengthDelimited); name = r.ReadString(); break;
                case 2: r.Expect(w, WireType.Fixed32); fl = r.ReadFloat(); break;
                case 3: r.Expect(w, WireType.Varint); i = r.ReadInt64(); break;
                case 4: r.Expect(w, WireType.LengthDelimited); s = r.ReadString(); break;
                case 7: r.ReadRepeatedFloat(w, floats); break;
                case 8: r.ReadRepeatedInt64(w, ints); break;
                case 20: r.Expect(w, WireType.Varint); type = (int)r.ReadInt64(); break;
                default: r.Skip(w); break;
            }
        }
        return new OnnxAttribute(name, type, i, fl, s, ints.ToArray(), floats.ToArray());
    }

    static OnnxValueInfo ReadValueInfo(ref ProtoReader r)
    {
        string name = ""; var elem = OnnxDataType.Undefined; var shape = new List<long>();
        while (!r.End)
        {
            var (f, w) = r.ReadTag();
            if (f == 1 && w == WireType.LengthDelimited) name = r.ReadString();
            else if (f == 2 && w == WireType.LengthDelimited)
            {
                var type = r.ReadMessage();
                while (!type.End)
                {
                    var (tf, tw) = type.ReadTag();
                    if (tf != 1 || tw != WireType.LengthDelimited) { type.Skip(tw); continue; } // tensor_type only
                    var tt = type.ReadMessage();
                    while (!tt.End)
                    {
                        var (xf, xw) = tt.ReadTag();
                        if (xf == 1 && xw == WireType.Varint) elem = (OnnxDataType)tt.ReadInt64();
                        else if (xf == 2 && xw == WireType.LengthDelimited)
                        {
                            var sh = tt.ReadMessage();
                            while (!sh.End)
                            {
                                var (sf, sw) = sh.ReadTag();
                                if (sf != 1 || sw != WireType.LengthDelimited) { sh.Skip(sw); continue; }
                                var dim = sh.ReadMessage();
                                long value = -1;
                                while (!dim.End)
                                {
                                    var (df, dw) = dim.ReadTag();
                                    if (df == 1 && dw == WireType.Varint) value = dim.ReadInt64();
                                    else dim.Skip(dw); // dim_param: symbolic, stays −1
                                }
                                shape.Add(value);
                            }
                        }
                        else tt.Skip(xw);
                    }
                }
            }
            else r.Skip(w);
        }
        return new OnnxValueInfo(name, elem, shape.ToArray());
    }

    static OnnxTensor ReadTensor(ref ProtoReader r)
    {
        int start = r.Position;
        string name = ""; var type = OnnxDataType.Undefined;
        var dims = new List<long>(); var floats = new List<float>(); var doubles = new List<double>();
        var ints = new List<long>(); byte[]? raw = null; bool external = false;
        while (!r.End)
        {
            var (f, w) = r.ReadTag();
            switch (f)
            {
                case 1: r.ReadRepeatedInt64(w, dims); break;
                case 2: r.Expect(w, WireType.Varint); type = (OnnxDataType)r.ReadInt64(); break;
                case 4: r.ReadRepeatedFloat(w, floats); break;
                case 5: r.ReadRepeatedInt64(w, ints); break;   // int32_data (also carries int8/16, uint8/16, bool, float16 bits)
                case 7: r.ReadRepeatedInt64(w, ints); break;   // int64_data
                case 8: r.Expect(w, WireType.LengthDelimited); name = r.ReadString(); break;
                case 9: r.Expect(w, WireType.LengthDelimited); raw = r.ReadBytes().ToArray(); break;
                case 10: r.ReadRepeatedDouble(w, doubles); break;
                case 11: r.ReadRepeatedInt64(w, ints); break;  // uint64_data
                case 14: r.Expect(w, WireType.Varint); external = r.ReadInt64() == 1; break;
                default: r.Skip(w); break;
            }
        }
        string what = $"initializer '{name}'";
        if (external) throw r.Error($"{what} keeps its data in an external file, which is not supported", start);
        long count = dims.Aggregate(1L, (a, b) => a * b);
        if (dims.Any(d => d < 0)) throw r.Error($"{what} has a negative dimension [{string.Join(",", dims)}]", start);

        float[]? fdata = null; long[]? idata = null;
        switch (type)
        {
            case OnnxDataType.Float:
                fdata = raw is not null ? MemoryMarshal.Cast<byte, float>(Checked(raw, 4)).ToArray() : floats.ToArray();
                break;
            case OnnxDataType.Double:
                fdata = (raw is not null ? MemoryMarshal.Cast<byte, double>(Checked(raw, 8)).ToArray() : doubles.ToArray())
                    .Select(d => (float)d).ToArray();
                break;
            case OnnxDataType.Int64:
                idata = raw is not null ? MemoryMarshal.Cast<byte, long>(Checked(raw, 8)).ToArray() : ints.ToArray();
                break;
            case OnnxDataType.Int32:
                idata = raw is not null ? MemoryMarshal.Cast<byte, int>(Checked(raw, 4)).ToArray().Select(v => (long)v).ToArray() : ints.ToArray();
                break;
            case OnnxDataType.UInt8:
            case OnnxDataType.Bool:
                idata = raw is not null ? raw.Select(v => (long)v).ToArray() : ints.ToArray();
                break;
            case OnnxDataType.Int8:
                idata = raw is not null ? raw.Select(v => (long)(sbyte)v).ToArray() : ints.ToArray();
                break;
            default:
                throw r.Error($"{what} has data type {type}, which this reader does not convert (float, double, int8/32/64, uint8 and bool are supported)", start);
        }
        long have = fdata?.LongLength ?? idata!.LongLength;
        if (have != count)
            throw r.Error($"{what} has shape [{string.Join(",", dims)}] ({count} elements) but holds {have} values", start);
        return new OnnxTensor(name, type, dims.ToArray(), fdata, idata);

        byte[] Checked(byte[] bytes, int size) => bytes.Length % size == 0 ? bytes
            : throw new InvalidDataException($"{what}: raw_data of {bytes.Length} bytes is not a multiple of the element size {size}.");
    }
}
