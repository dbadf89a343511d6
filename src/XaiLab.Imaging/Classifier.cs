using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Imaging;

/// <summary>How logits become the score F(x) of a class (thesis §1.1, Eq 1.3).</summary>
public enum OutputActivation
{
    /// <summary>One label per image: softmax over classes.</summary>
    Softmax,
    /// <summary>Multi-label (VOC/COCO style): an independent sigmoid per class.</summary>
    Sigmoid,
}

/// <summary>
/// An image classifier in image space: it takes images <c>[N,C,H,W]</c> in [0,1] and applies the normalisation
/// (mean/std) itself, so that masks, baselines and blurs all live in image space (SPEC, "Conventions").
/// </summary>
public sealed class Classifier : IDisposable
{
    readonly float[] _mean, _std;
    Tensor? _meanT, _stdT;

    /// <param name="network">Any module mapping normalised images <c>[N,C,H,W]</c> to logits <c>[N,K]</c>.</param>
    /// <param name="classNames">The K class names, in logit order.</param>
    /// <param name="activation">Softmax (single label) or sigmoid (multi-label).</param>
    /// <param name="channels">Input channels the network expects.</param>
    /// <param name="inputSize">The (H,W) the network was trained at, or null for any size.</param>
    /// <param name="mean">Per-channel mean subtracted inside the wrapper (default 0).</param>
    /// <param name="std">Per-channel std divided inside the wrapper (default 1).</param>
    /// <param name="name">Display and registry name, used in messages and result files.</param>
    public Classifier(nn.Module<Tensor, Tensor> network, IReadOnlyList<string> classNames, OutputActivation activation,
        int channels = 3, (int H, int W)? inputSize = null, float[]? mean = null, float[]? std = null, string name = "classifier")
    {
        Devices.EnsureNativeLoaded();
        Network = network;
        ClassNames = classNames;
        Activation = activation;
        Channels = channels;
        InputSize = inputSize;
        Name = name;
        _mean = mean ?? new float[channels];
        _std = std ?? Enumerable.Repeat(1f, channels).ToArray();
        if (_mean.Length != channels || _std.Length != channels)
            throw new ArgumentException($"mean/std must have {channels} entries (one per input channel).");
        Network.eval();
    }

    /// <summary>Display and registry name of the model (e.g. <c>fashion-cnn</c>), used in messages and result files.</summary>
    public string Name { get; }
    /// <summary>The wrapped network: normalised images <c>[N,C,H,W]</c> → logits <c>[N,K]</c>, kept in eval mode.</summary>
    public nn.Module<Tensor, Tensor> Network { get; }
    /// <summary>The class names in logit order (index k names logit k).</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Number of classes K = <see cref="ClassNames"/>.Count, the width of the logits.</summary>
    public int NumClasses => ClassNames.Count;
    /// <summary>How logits become class scores: softmax (single-label) or sigmoid (multi-label).</summary>
    public OutputActivation Activation { get; }
    /// <summary>Input channels C the network expects (3 for RGB models).</summary>
    public int Channels { get; }
    /// <summary>The (H, W) the network expects, or null where any size works (inputs of another size are rejected, see <see cref="Resize"/>).</summary>
    public (int H, int W)? InputSize { get; }
    /// <summary>The per-channel mean subtracted before the network: the image-space colour that normalises to zero.</summary>
    public IReadOnlyList<float> Mean => _mean;
    /// <summary>The per-channel standard deviation divided before the network.</summary>
    public IReadOnlyList<float> Std => _std;
    /// <summary>The device the network and the normalisation constants live on; changed by <c>To</c>.</summary>
    public Device Device { get; private set; } = CPU;

    /// <summary>Moves the network to <paramref name="device"/>.</summary>
    public Classifier To(Device device)
    {
        Network.to(device);
        Device = device;
        _meanT?.Dispose(); _stdT?.Dispose(); _meanT = _stdT = null;
        return this;
    }

    /// <summary>Logits <c>[N,K]</c> for images <c>[N,C,H,W]</c> (or one image <c>[C,H,W]</c>, giving <c>[1,K]</c>) in [0,1].</summary>
    /// <exception cref="ArgumentException">The input's rank, channel count or size does not fit the model.</exception>
    public Tensor Logits(Tensor images)
    {
        var x = images.dim() == 3 ? images.unsqueeze(0) : images;
        CheckInput(x);
        _meanT ??= tensor(_mean, new long[] { 1, Channels, 1, 1 }, device: Device).DetachFromDisposeScope();
        _stdT ??= tensor(_std, new long[] { 1, Channels, 1, 1 }, device: Device).DetachFromDisposeScope();
        var normalised = (x.to(Device) - _meanT) / _stdT;
        return Network.call(normalised);
    }

    /// <summary>Activated scores F <c>[N,K]</c> (softmax or sigmoid of the logits).</summary>
    public Tensor Scores(Tensor images)
    {
        var logits = Logits(images);
        return Activation == OutputActivation.Softmax ? logits.softmax(-1) : logits.sigmoid();
    }

    /// <summary>Top class index and its score for one image <c>[C,H,W]</c>.</summary>
    public (int Class, float Score) Predict(Tensor image)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var s = Scores(image)[0];
        var idx = (int)s.argmax().item<long>();
        return (idx, s[idx].item<float>());
    }

    /// <summary>Checks a class index against the model, naming the valid range.</summary>
    public void CheckClass(int classIndex)
    {
        if (classIndex < 0 || classIndex >= NumClasses)
            throw new ArgumentOutOfRangeException(nameof(classIndex),
                $"Class index {classIndex} is out of range: model '{Name}' has {NumClasses} classes (0..{NumClasses - 1}).");
    }

    void CheckInput(Tensor x)
    {
        if (x.dim() != 4)
            throw new ArgumentException($"Model '{Name}' expects images [N,{Channels},H,W] or [{Channels},H,W]; got [{string.Join(",", x.shape)}].");
        if (x.shape[1] != Channels)
            throw new ArgumentException($"Model '{Name}' expects {Channels} channel(s); got an input of shape [{string.Join(",", x.shape)}].");
        if (InputSize is { } s && (x.shape[2] != s.H || x.shape[3] != s.W))
            throw new ArgumentException($"Model '{Name}' expects {s.H}×{s.W} images; got {x.shape[2]}×{x.shape[3]}. Resize the image first (Imaging.Resize).");
    }

    /// <summary>Disposes the network and the normalisation tensors.</summary>
    public void Dispose()
    {
        _meanT?.Dispose(); _stdT?.Dispose();
        Network.Dispose();
    }
}
