using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models;

/// <summary>
/// ResNet "bottleneck" block (1×1 → 3×3 → 1×1, expansion 4) with TorchVision's child names
/// <c>conv1..3, bn1..3, downsample.0, downsample.1</c>. TorchVision (ResNet v1.5) strides the 3×3 convolution;
/// the original Caffe ResNet50 strides the first 1×1 convolution.
/// </summary>
public sealed class ResNetBottleneck : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv1, conv2, conv3;
    readonly BatchNorm2d bn1, bn2, bn3;
    readonly Sequential? downsample;

    /// <summary>A block from <paramref name="inChannels"/> to 4·<paramref name="width"/> channels (3×3 conv at <paramref name="width"/>); <paramref name="stride"/> 2 halves the size, on the first 1×1 conv when <paramref name="strideOnFirstConv"/> (Caffe), else on the 3×3 conv (TorchVision v1.5).</summary>
    public ResNetBottleneck(int inChannels, int width, int stride, bool strideOnFirstConv) : base("Bottleneck")
    {
        int outC = width * 4;
        conv1 = nn.Conv2d(inChannels, width, 1, stride: strideOnFirstConv ? stride : 1, bias: false);
        bn1 = nn.BatchNorm2d(width);
        conv2 = nn.Conv2d(width, width, 3, stride: strideOnFirstConv ? 1 : stride, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(width);
        conv3 = nn.Conv2d(width, outC, 1, bias: false);
        bn3 = nn.BatchNorm2d(outC);
        register_module("conv1", conv1); register_module("bn1", bn1);
        register_module("conv2", conv2); register_module("bn2", bn2);
        register_module("conv3", conv3); register_module("bn3", bn3);
        if (stride != 1 || inChannels != outC)
        {
            downsample = nn.Sequential(("0", nn.Conv2d(inChannels, outC, 1, stride: stride, bias: false)), ("1", nn.BatchNorm2d(outC)));
            register_module("downsample", downsample);
        }
    }

    /// <summary><c>[N,in,H,W]</c> → <c>[N,4·width,H/stride,W/stride]</c>: ReLU(bottleneck(x) + shortcut(x)).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // call(), not forward(): every submodule runs its forward hooks (Grad-CAM and the sanity checks hook by name).
        var h = nn.functional.relu(bn1.call(conv1.call(x)));
        h = nn.functional.relu(bn2.call(conv2.call(h)));
        h = bn3.call(conv3.call(h));
        var shortcut = downsample is null ? x : downsample.call(x);
        return nn.functional.relu(h + shortcut).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// ResNet50 (He et al. 2016) with TorchVision's layout and state-dict names (<c>conv1, bn1, layer1..4, fc</c>; blocks
/// [3,4,6,3]); normalised images <c>[N,3,H,W]</c> → logits <c>[N,K]</c>. Grad-CAM's usual layer is <c>layer4</c> (TorchRay's benchmark). Every submodule is run with <c>call</c>, so forward hooks on any named module fire.
/// <para>With <c>caffe: true</c> it is the original Caffe ResNet50 that TorchRay's VOC/COCO models were converted from:
/// the stem convolution has a bias, the max pool has no padding and rounds up (ceil mode), and the first block of
/// stages 2–4 strides its first 1×1 convolution instead of the 3×3 one.</para>
/// </summary>
public sealed class ResNet50 : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv1;
    readonly BatchNorm2d bn1;
    readonly MaxPool2d maxpool;
    readonly Sequential layer1, layer2, layer3, layer4;
    readonly Linear fc;

    /// <param name="numClasses">Outputs of <c>fc</c> (1000 ImageNet, 20 VOC, 80 COCO).</param>
    /// <param name="caffe">The Caffe variant (see the class summary) instead of TorchVision's.</param>
    public ResNet50(int numClasses = 1000, bool caffe = false) : base("ResNet50")
    {
        Devices.EnsureNativeLoaded();
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), $"numClasses must be ≥ 1; got {numClasses}.");
        NumClasses = numClasses;
        Caffe = caffe;
        conv1 = nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: caffe);
        bn1 = nn.BatchNorm2d(64);
        maxpool = caffe ? nn.MaxPool2d(3, stride: 2, padding: 0, ceil_mode: true) : nn.MaxPool2d(3, stride: 2, padding: 1);
        int inC = 64;
        Sequential Stage(int blocks, int width, int stride)
        {
            var list = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int b = 0; b < blocks; b++)
            {
                list.Add((b.ToString(), new ResNetBottleneck(inC, width, b == 0 ? stride : 1, caffe)));
                inC = width * 4;
            }
            return nn.Sequential(list.ToArray());
        }
        layer1 = Stage(3, 64, 1); layer2 = Stage(4, 128, 2); layer3 = Stage(6, 256, 2); layer4 = Stage(3, 512, 2);
        fc = nn.Linear(2048, numClasses);
        register_module("conv1", conv1); register_module("bn1", bn1); register_module("maxpool", maxpool);
        register_module("layer1", layer1); register_module("layer2", layer2); register_module("layer3", layer3); register_module("layer4", layer4);
        register_module("fc", fc);
    }

    /// <summary>Outputs of <c>fc</c> (1000 ImageNet, 20 VOC, 80 COCO).</summary>
    public int NumClasses { get; }
    /// <summary>True for the Caffe variant (stride on the first 1×1 conv, biased stem conv, ceil-mode max pool without padding).</summary>
    public bool Caffe { get; }

    /// <summary>Logits <c>[N,NumClasses]</c> of normalised images <c>[N,3,H,W]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != 3)
            throw new ArgumentException($"ResNet50 expects normalised images [N,3,H,W]; got [{string.Join(",", x.shape)}].");
        using var scope = NewDisposeScope();
        // call(), not forward(): the hooks of every submodule fire, so that Grad-CAM can read `layer4` (TorchRay's layer).
        var h = maxpool.call(nn.functional.relu(bn1.call(conv1.call(x))));
        h = layer4.call(layer3.call(layer2.call(layer1.call(h))));
        return fc.call(h.mean(new long[] { 2, 3 })).MoveToOuterDisposeScope();
    }
}
