using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models;

/// <summary>How stride-2 layers of a ResNet pad their input.</summary>
public enum ResNetPadding
{
    /// <summary>PyTorch/TorchVision: the same padding k/2 on all four sides.</summary>
    Symmetric,
    /// <summary>
    /// CNTK (the ONNX export in <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>): stride-2 layers pad k/2 on the top and left
    /// but one less on the bottom and right (stem 7×7 conv: 3/2, max pool and 3×3 convs: 1/0). For even input sizes this
    /// is identical to <see cref="Symmetric"/>; for odd sizes the output is one row/column smaller.
    /// </summary>
    Cntk,
}

/// <summary>
/// ResNet "basic block" (two 3×3 convolutions with batch norm, He et al. 2016) with TorchVision's child names
/// <c>conv1, bn1, conv2, bn2, downsample.0, downsample.1</c>.
/// </summary>
public sealed class ResNetBasicBlock : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv1, conv2;
    readonly BatchNorm2d bn1, bn2;
    readonly Sequential? downsample;
    readonly int _stride;
    readonly ResNetPadding _padding;

    /// <summary>A block from <paramref name="inChannels"/> to <paramref name="outChannels"/>; <paramref name="stride"/> 2 halves the spatial size (shortcut: 1×1/2 conv + BN); <paramref name="padding"/> picks the padding convention of stride-2 layers.</summary>
    public ResNetBasicBlock(int inChannels, int outChannels, int stride, ResNetPadding padding) : base("BasicBlock")
    {
        _stride = stride; _padding = padding;
        conv1 = nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(outChannels);
        conv2 = nn.Conv2d(outChannels, outChannels, 3, stride: 1, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(outChannels);
        register_module("conv1", conv1); register_module("bn1", bn1);
        register_module("conv2", conv2); register_module("bn2", bn2);
        if (stride != 1 || inChannels != outChannels)
        {
            downsample = nn.Sequential(("0", nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false)), ("1", nn.BatchNorm2d(outChannels)));
            register_module("downsample", downsample);
        }
    }

    /// <summary><c>[N,in,H,W]</c> → <c>[N,out,H/stride,W/stride]</c>: ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x)).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv1.call(x);
        if (_stride != 1 && _padding == ResNetPadding.Cntk) h = ResNetPaddingOps.Crop(h, x, 3, _stride, 1, 0);
        h = nn.functional.relu(bn1.call(h));
        h = bn2.call(conv2.call(h));
        var shortcut = downsample is null ? x : downsample.call(x);
        return nn.functional.relu(h + shortcut).MoveToOuterDisposeScope();
    }
}

static class ResNetPaddingOps
{
    /// <summary>
    /// Output size of a k×k, stride-s layer padded <paramref name="begin"/> before and <paramref name="end"/> after (end ≤ begin).
    /// A layer padded <paramref name="begin"/> on both sides computes the same values at the same positions, plus possibly one
    /// more row/column at the end: cropping it gives the asymmetric layer exactly (zero or −∞ padding alike).
    /// </summary>
    public static Tensor Crop(Tensor y, Tensor input, int k, int s, int begin, int end)
    {
        long ho = (input.shape[2] + begin + end - k) / s + 1, wo = (input.shape[3] + begin + end - k) / s + 1;
        return y.shape[2] == ho && y.shape[3] == wo ? y : y[.., .., ..(int)ho, ..(int)wo];
    }
}

/// <summary>
/// A ResNet feature extractor built from basic blocks (ResNet18/34 family) without its class head, mapping
/// normalised images <c>[N,3,H,W]</c> to features <c>[N,512]</c> by global average pooling over the last stage.
/// Child and state-dict names are TorchVision's (<c>conv1</c>, <c>bn1</c>, <c>layer1.0.conv1</c> …, <c>layer4</c>),
/// so Grad-CAM can name <c>layer4</c> and a TorchVision <c>resnet18</c> state dict (minus <c>fc.*</c>) loads into the
/// default layout. The pretrained network of the ONNX package (<see cref="Onnx.ResNet18Onnx.LoadBackbone"/>) has
/// three blocks in its last stage (<c>BlocksPerStage = {2,2,2,3}</c>) and CNTK padding.
/// </summary>
public sealed class ResNet18Backbone : nn.Module<Tensor, Tensor>
{
    /// <summary>Feature width of the last stage.</summary>
    public const int FeatureCount = 512;

    readonly Conv2d conv1;
    readonly BatchNorm2d bn1;
    readonly MaxPool2d maxpool;
    readonly Sequential[] _layers;

    /// <param name="blocksPerStage">Basic blocks in the four stages (64, 128, 256, 512 channels); TorchVision's resnet18 has {2,2,2,2}.</param>
    /// <param name="padding">Padding of the stride-2 layers.</param>
    public ResNet18Backbone(int[]? blocksPerStage = null, ResNetPadding padding = ResNetPadding.Symmetric) : base("ResNet18Backbone")
    {
        Devices.EnsureNativeLoaded();
        BlocksPerStage = blocksPerStage ?? new[] { 2, 2, 2, 2 };
        if (BlocksPerStage.Length != 4 || BlocksPerStage.Any(b => b < 1))
            throw new ArgumentException($"blocksPerStage must be four counts ≥ 1; got [{string.Join(",", BlocksPerStage)}].");
        Padding = padding;
        conv1 = nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(64);
        maxpool = nn.MaxPool2d(3, stride: 2, padding: 1);
        register_module("conv1", conv1); register_module("bn1", bn1); register_module("maxpool", maxpool);
        _layers = new Sequential[4];
        int inC = 64;
        for (int s = 0; s < 4; s++)
        {
            int outC = 64 << s;
            var blocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int b = 0; b < BlocksPerStage[s]; b++)
            {
                blocks.Add((b.ToString(), new ResNetBasicBlock(inC, outC, b == 0 && s > 0 ? 2 : 1, padding)));
                inC = outC;
            }
            _layers[s] = nn.Sequential(blocks.ToArray());
            register_module($"layer{s + 1}", _layers[s]);
        }
        InitialiseLikeTorchVision();
    }

    /// <summary>Blocks in each of the four stages.</summary>
    public int[] BlocksPerStage { get; }
    /// <summary>The padding convention of the stride-2 layers (PyTorch's symmetric one or CNTK's asymmetric one).</summary>
    public ResNetPadding Padding { get; }

    /// <param name="x">Normalised images <c>[N,3,H,W]</c> (H, W ≥ 32).</param>
    /// <returns>Features <c>[N,512]</c>.</returns>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != 3)
            throw new ArgumentException($"ResNet18Backbone expects normalised images [N,3,H,W]; got [{string.Join(",", x.shape)}].");
        using var scope = NewDisposeScope();
        var h = conv1.call(x);
        if (Padding == ResNetPadding.Cntk) h = ResNetPaddingOps.Crop(h, x, 7, 2, 3, 2);
        h = nn.functional.relu(bn1.call(h));
        var pooled = maxpool.call(h);
        if (Padding == ResNetPadding.Cntk) pooled = ResNetPaddingOps.Crop(pooled, h, 3, 2, 1, 0);
        h = pooled;
        foreach (var layer in _layers) h = layer.call(h);
        return h.mean(new long[] { 2, 3 }).MoveToOuterDisposeScope();
    }

    /// <summary>Kaiming-normal (fan-out, ReLU) convolutions and unit batch norm, as TorchVision initialises ResNets.</summary>
    void InitialiseLikeTorchVision()
    {
        using var _ = no_grad();
        foreach (var (_, m) in named_modules())
        {
            if (m is Conv2d c) nn.init.kaiming_normal_(c.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
            else if (m is BatchNorm2d bn) { bn.weight!.fill_(1); bn.bias!.zero_(); }
        }
    }
}

/// <summary>
/// A ResNet18 backbone with a linear head <c>features(512) → K logits</c>: an image classifier for
/// <see cref="Classifier"/>. The backbone can be frozen for fine-tuning only the head: its parameters then stop
/// requiring gradients and it stays in evaluation mode (batch-norm statistics fixed) even when <c>train()</c> is called.
/// Children: <c>backbone</c>, <c>head</c>.
/// </summary>
public sealed class ResNet18Classifier : nn.Module<Tensor, Tensor>
{
    readonly ResNet18Backbone backbone;
    readonly Linear head;

    /// <param name="backbone">The feature extractor (usually pretrained, <see cref="Onnx.ResNet18Onnx.LoadBackbone"/>).</param>
    /// <param name="head">A linear layer with 512 inputs.</param>
    public ResNet18Classifier(ResNet18Backbone backbone, Linear head) : base("ResNet18Classifier")
    {
        if (head.weight is null || head.weight.shape[1] != ResNet18Backbone.FeatureCount)
            throw new ArgumentException($"The head must be a Linear layer with {ResNet18Backbone.FeatureCount} inputs; got weight [{string.Join(",", head.weight?.shape ?? Array.Empty<long>())}].");
        this.backbone = backbone;
        this.head = head;
        register_module("backbone", backbone);
        register_module("head", head);
    }

    /// <summary>The ResNet18 trunk: normalised images <c>[N,3,H,W]</c> → features <c>[N,512]</c>.</summary>
    public ResNet18Backbone Backbone => backbone;
    /// <summary>The linear head, 512 features → <see cref="NumClasses"/> logits.</summary>
    public Linear Head => head;
    /// <summary>Number of classes, the head's output width.</summary>
    public int NumClasses => (int)head.weight!.shape[0];

    /// <summary>True while the backbone is frozen (see <see cref="FreezeBackbone"/>).</summary>
    public bool BackboneFrozen { get; private set; }

    /// <summary>Freezes (or unfreezes) the backbone: no gradients for its parameters, evaluation-mode batch norm.</summary>
    public ResNet18Classifier FreezeBackbone(bool frozen = true)
    {
        BackboneFrozen = frozen;
        foreach (var p in backbone.parameters()) p.requires_grad = !frozen;
        if (frozen) backbone.eval();
        else backbone.train(training);
        return this;
    }

    /// <summary>Sets training mode; a frozen backbone stays in evaluation mode.</summary>
    public override void train(bool train = true)
    {
        base.train(train);
        if (BackboneFrozen) backbone.eval();
    }

    /// <param name="x">Normalised images <c>[N,3,H,W]</c>.</param>
    /// <returns>Logits <c>[N,K]</c>.</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return head.call(backbone.call(x)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Attaches a fresh linear head <c>512 → numClasses</c> to <paramref name="backbone"/>, initialised like PyTorch's
    /// <c>nn.Linear</c> (weights and bias uniform in ±1/√512) from <paramref name="seed"/> (same seed, same head).
    /// </summary>
    public static ResNet18Classifier WithLinearHead(ResNet18Backbone backbone, int numClasses, long seed = 0)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), $"A head needs at least one class; got {numClasses}.");
        var head = nn.Linear(ResNet18Backbone.FeatureCount, numClasses);
        using var gen = new Generator((ulong)seed);
        double bound = 1.0 / Math.Sqrt(ResNet18Backbone.FeatureCount);
        using (no_grad())
        {
            using var w = rand(new long[] { numClasses, ResNet18Backbone.FeatureCount }, generator: gen) * (2 * bound) - bound;
            using var b = rand(new long[] { numClasses }, generator: gen) * (2 * bound) - bound;
            head.weight!.copy_(w);
            head.bias!.copy_(b);
        }
        return new ResNet18Classifier(backbone, head);
    }
}
