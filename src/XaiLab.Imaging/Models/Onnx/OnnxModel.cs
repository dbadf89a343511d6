using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models.Onnx;

/// <summary>ONNX <c>TensorProto.DataType</c> codes (onnx.proto).</summary>
public enum OnnxDataType
{
    Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9,
    Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, Complex64 = 14, Complex128 = 15, BFloat16 = 16,
}

/// <summary>
/// An initializer (a constant tensor) of an ONNX graph. Floating-point data (float, double) are held as
/// <see cref="Floats"/>; integer and bool data as <see cref="Integers"/>. Exactly one of the two is non-null.
/// </summary>
/// <param name="Name">The graph-wide name nodes refer to.</param>
/// <param name="DataType">The element type stored in the file.</param>
/// <param name="Dims">The shape (row-major); empty for a scalar.</param>
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
    public const int TypeFloat = 1, TypeInt = 2, TypeString = 3, TypeTensor = 4, TypeGraph = 5, TypeFloats = 6, TypeInts = 7, TypeStrings = 8;
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
