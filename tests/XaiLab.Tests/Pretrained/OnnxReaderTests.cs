using System.Text;
using XaiLab.Imaging.Models.Onnx;

namespace XaiLab.Tests.Pretrained;

/// <summary>The hand-written protobuf/ONNX reader on small messages built byte by byte.</summary>
[Trait("Category", "Unit")]
public class OnnxReaderTests
{
    /// <summary>A tiny protobuf encoder for building test messages.</summary>
    sealed class W
    {
        readonly List<byte> _b = new();
        public byte[] Bytes => _b.ToArray();
        public W Varint(ulong v) { do { byte b = (byte)(v & 0x7F); v >>= 7; _b.Add(v != 0 ? (byte)(b | 0x80) : b); } while (v != 0); return this; }
        public W Tag(int field, int wire) => Varint((ulong)(field << 3 | wire));
        public W Int(int field, long v) => Tag(field, 0).Varint((ulong)v);
        public W Bytes_(int field, byte[] data) { Tag(field, 2).Varint((ulong)data.Length); _b.AddRange(data); return this; }
        public W Str(int field, string s) => Bytes_(field, Encoding.UTF8.GetBytes(s));
        public W Msg(int field, W m) => Bytes_(field, m.Bytes);
        public W Fixed32(int field, float f) { Tag(field, 5); _b.AddRange(BitConverter.GetBytes(f)); return this; }
        public W PackedFloats(int field, params float[] fs) => Bytes_(field, fs.SelectMany(BitConverter.GetBytes).ToArray());
        public W PackedInts(int field, params long[] vs) { var inner = new W(); foreach (var v in vs) inner.Varint((ulong)v); return Bytes_(field, inner.Bytes); }
    }

    static byte[] TinyModel()
    {
        // Initializer 'w': 2×2 float in raw_data, dims unpacked; 'b': 2 floats in packed float_data, dims packed; 'k': int64.
        var w = new W().Int(1, 2).Int(1, 2).Int(2, 1).Str(8, "w").Bytes_(9, new[] { 1f, -2f, 3.5f, 4f }.SelectMany(BitConverter.GetBytes).ToArray());
        var b = new W().PackedInts(1, 2).Int(2, 1).Str(8, "b").PackedFloats(4, 0.25f, -0.5f);
        var k = new W().PackedInts(1, 3).Int(2, 7).Str(8, "k").PackedInts(7, 5, -1, 300);
        var attrPads = new W().Str(1, "pads").PackedInts(8, 1, 1, 0, 0).Int(20, 7);
        var attrEps = new W().Str(1, "epsilon").Fixed32(2, 1e-5f).Int(20, 1);
        var node = new W().Str(1, "x").Str(1, "w").Str(2, "y").Str(3, "gemm0").Str(4, "Gemm").Msg(5, attrPads).Msg(5, attrEps).Int(99, 12345);
        var dim = new W().Int(1, 1); var dimSym = new W().Str(2, "N");
        var shape = new W().Msg(1, dimSym).Msg(1, new W().Int(1, 2));
        var input = new W().Str(1, "x").Msg(2, new W().Msg(1, new W().Int(1, 1).Msg(2, shape)));
        var output = new W().Str(1, "y").Msg(2, new W().Msg(1, new W().Int(1, 1).Msg(2, new W().Msg(1, dim))));
        var graph = new W().Msg(1, node).Str(2, "g").Msg(5, w).Msg(5, b).Msg(5, k).Msg(11, input).Msg(12, output);
        var opset = new W().Str(1, "").Int(2, 13);
        return new W().Int(1, 8).Str(2, "test").Str(3, "1.0").Msg(8, opset).Msg(7, graph).Bytes;
    }

    [Fact]
    public void Parses_header_nodes_attributes_shapes_and_all_initializer_encodings()
    {
        var m = OnnxReader.Parse(TinyModel(), "tiny.onnx");
        Assert.Equal(8, m.IrVersion);
        Assert.Equal("test", m.ProducerName);
        Assert.Equal(13, m.OpsetImports[""]);
        var node = Assert.Single(m.Graph.Nodes);
        Assert.Equal("Gemm", node.OpType);
        Assert.Equal(new[] { "x", "w" }, node.Inputs);
        Assert.Equal(new long[] { 1, 1, 0, 0 }, node.Ints("pads", Array.Empty<long>()));
        Assert.Equal(1e-5f, node.Float("epsilon", 0));
        Assert.Equal(new long[] { -1, 2 }, m.Graph.Inputs[0].Shape);
        Assert.Equal(OnnxDataType.Float, m.Graph.Inputs[0].ElementType);
        Assert.Equal(new long[] { 1 }, m.Graph.Outputs[0].Shape);

        var w = m.Graph.Initializers["w"];
        Assert.Equal(new long[] { 2, 2 }, w.Dims);
        Assert.Equal(new[] { 1f, -2f, 3.5f, 4f }, w.Floats);
        Assert.Equal(new[] { 0.25f, -0.5f }, m.Graph.Initializers["b"].Floats);
        Assert.Equal(new long[] { 5, -1, 300 }, m.Graph.Initializers["k"].Integers);
        using var t = w.ToTensor();
        Assert.Equal(new long[] { 2, 2 }, t.shape);
        Assert.Equal(3.5f, t[1, 0].item<float>());
        // Initializers are not data inputs.
        Assert.Equal("x", Assert.Single(m.Graph.DataInputs).Name);
    }

    [Fact]
    public void Truncated_or_garbage_bytes_give_an_error_naming_the_source()
    {
        var bytes = TinyModel();
        var e = Assert.Throws<InvalidDataException>(() => OnnxReader.Parse(bytes.AsSpan(0, bytes.Length - 7), "cut.onnx"));
        Assert.Contains("cut.onnx", e.Message);
        var e2 = Assert.Throws<InvalidDataException>(() => OnnxReader.Parse(Encoding.ASCII.GetBytes("hello, world"), "text.onnx"));
        Assert.Contains("text.onnx", e2.Message);
        var e3 = Assert.Throws<InvalidDataException>(() => OnnxReader.Parse(Array.Empty<byte>(), "empty.onnx"));
        Assert.Contains("empty", e3.Message);
        Assert.Throws<FileNotFoundException>(() => OnnxReader.Read("/nonexistent/model.onnx"));
    }

    [Fact]
    public void Element_count_must_match_the_shape()
    {
        var bad = new W().Int(1, 3).Int(2, 1).Str(8, "short").PackedFloats(4, 1f, 2f);
        var graph = new W().Msg(5, bad);
        var bytes = new W().Int(1, 7).Msg(7, graph).Bytes;
        var e = Assert.Throws<InvalidDataException>(() => OnnxReader.Parse(bytes, "bad.onnx"));
        Assert.Contains("'short'", e.Message);
        Assert.Contains("3 elements", e.Message);
    }

    [Fact]
    public void Varints_of_every_length_round_trip()
    {
        foreach (var v in new ulong[] { 0, 1, 127, 128, 300, 16384, uint.MaxValue, ulong.MaxValue })
        {
            var bytes = new W().Varint(v).Bytes;
            var r = new ProtoReader(bytes, "v");
            Assert.Equal(v, r.ReadVarint());
            Assert.True(r.End);
        }
    }
}
