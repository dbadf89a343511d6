using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models.Onnx;

/// <summary>ONNX <c>TensorProto.DataType</c> codes (onnx.proto).</summary>
public enum OnnxDataType
{
    /// <summary>No type set (an invalid tensor).</summary>
    Undefined = 0,
    /// <summary>32-bit IEEE float.</summary>
    Float = 1,
    /// <summary>Unsigned 8-bit integer.</summary>
    UInt8 = 2,
    /// <summary>Signed 8-bit integer.</summary>
    Int8 = 3,
    /// <summary>Unsigned 16-bit integer.</summary>
    UInt16 = 4,
    /// <summary>Signed 16-bit integer.</summary>
    Int16 = 5,
    /// <summary>Signed 32-bit integer.</summary>
    Int32 = 6,
    /// <summary>Signed 64-bit integer (shapes, indices).</summary>
    Int64 = 7,
    /// <summary>UTF-8 strings (not loaded as numbers).</summary>
    String = 8,
    /// <summary>Booleans, one byte each.</summary>
    Bool = 9,
    /// <summary>16-bit IEEE half float.</summary>
    Float16 = 10,
    /// <summary>64-bit IEEE float.</summary>
    Double = 11,
    /// <summary>Unsigned 32-bit integer.</summary>
    UInt32 = 12,
    /// <summary>Unsigned 64-bit integer.</summary>
    UInt64 = 13,
    /// <summary>Complex of two 32-bit floats.</summary>
    Complex64 = 14,
    /// <summary>Complex of two 64-bit floats.</summary>
    Complex128 = 15,
    /// <summary>bfloat16 (8 exponent bits, 7 mantissa bits).</summary>
    BFloat16 = 16,
}

/// <summary>
/// An initializer (a constant tensor) of an ONNX graph. Floating-point data (float, double) are held as
/// <see cref="Floats"/>; integer and bool data as <see cref="Integers"/>. Exactly one of the two is non-null.
/// </summary>
/// <param name="Name">The graph-wide name nodes refer to.</param>
/// <param name="DataType">The element type stored in the file.</param>
/// <param name="Dims">The shape (row-major); empty for a scalar.</param>
/// <param name="Floats">The data of float and double tensors (as float32), else null.</param>
/// <param name="Integers">The data of integer and bool tensors (as int64), else null.</param>
public sealed record OnnxTensor(string Name, OnnxDataType DataType, long[] Dims, float[]? Floats, long[]? Integers)
{
    /// <summary>Number of elements (product of <see cref="Dims"/>).</summary>
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as <c>[d0,d1,…]</c>, for messages.</summary>
    public string ShapeText => "[" + string.Join(",", Dims) + "]";

    /// <summary>The data as a float32 torch tensor of shape <see cref="Dims"/> (integers are converted).</summary>
    public Tensor ToTensor()
    {
        Devices.EnsureNativeLoaded();
        var data = Floats ?? Integers!.Select(v => (float)v).ToArray();
        return tensor(data, Dims);
    }
}

/// <summary>A node attribute; the field that <see cref="Type"/> names carries the value.</summary>
public sealed record OnnxAttribute(string Name, int Type, long Int, float Float, string String, long[] Ints, float[] Floats)
{
    /// <summary>Attribute type code 1: <see cref="Float"/> holds the value (<c>AttributeProto.FLOAT</c>).</summary>
    public const int TypeFloat = 1;
    /// <summary>Attribute type code 2: <see cref="Int"/> holds the value (<c>INT</c>).</summary>
    public const int TypeInt = 2;
    /// <summary>Attribute type code 3: <see cref="String"/> holds the value (<c>STRING</c>).</summary>
    public const int TypeString = 3;
    /// <summary>Attribute type code 4: A tensor value (<c>TENSOR</c>; not read by this loader).</summary>
    public const int TypeTensor = 4;
    /// <summary>Attribute type code 5: A sub-graph value (<c>GRAPH</c>; not read by this loader).</summary>
    public const int TypeGraph = 5;
    /// <summary>Attribute type code 6: <see cref="Floats"/> holds the values (<c>FLOATS</c>).</summary>
    public const int TypeFloats = 6;
    /// <summary>Attribute type code 7: <see cref="Ints"/> holds the values (<c>INTS</c>, e.g. kernel shapes, pads, strides).</summary>
    public const int TypeInts = 7;
    /// <summary>Attribute type code 8: A list of strings (<c>STRINGS</c>; not read by this loader).</summary>
    public const int TypeStrings = 8;
}

/// <summary>One operator of the graph (<c>NodeProto</c>).</summary>
public sealed record OnnxNode(string Name, string OpType, string Domain, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, OnnxAttribute> Attributes)
{
    /// <summary>The int list attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public long[] Ints(string name, long[] fallback) => Attributes.TryGetValue(name, out var a) ? a.Ints : fallback;

    /// <summary>The float attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public float Float(string name, float fallback) => Attributes.TryGetValue(name, out var a) ? a.Float : fallback;
}

/// <summary>A graph input or output: name and static shape (−1 for a symbolic or unknown dimension).</summary>
public sealed record OnnxValueInfo(string Name, OnnxDataType ElementType, long[] Shape);

/// <summary>The computation graph (<c>GraphProto</c>): nodes in topological order, initializers by name, inputs and outputs.</summary>
public sealed record OnnxGraph(string Name, IReadOnlyList<OnnxNode> Nodes, IReadOnlyDictionary<string, OnnxTensor> Initializers,
    IReadOnlyList<OnnxValueInfo> Inputs, IReadOnlyList<OnnxValueInfo> Outputs)
{
    /// <summary>Inputs that are not initializers: the values the caller feeds.</summary>
    public IReadOnlyList<OnnxValueInfo> DataInputs => Inputs.Where(i => !Initializers.ContainsKey(i.Name)).ToArray();
}

/// <summary>An ONNX model file (<c>ModelProto</c>): header fields and the graph.</summary>
public sealed record OnnxModel(string Source, long IrVersion, string ProducerName, string ProducerVersion,
    IReadOnlyDictionary<string, long> OpsetImports, OnnxGraph Graph);
