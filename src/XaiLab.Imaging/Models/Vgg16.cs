using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models;

/// <summary>
/// VGG16 (Simonyan and Zisserman 2015) with TorchVision's layout and state-dict names: <c>features.{0,2,5,7,10,12,14,17,19,21,24,26,28}</c>
/// are the 3×3 convolutions (each followed by a ReLU, max pools at 4, 9, 16, 23, 30), <c>avgpool</c> pools adaptively to 7×7,
/// and <c>classifier.{0,3,6}</c> are the linear layers (ReLU and dropout 0.5 between). Takes normalised images
/// <c>[N,3,H,W]</c>, gives logits <c>[N,K]</c>. Grad-CAM's usual layer is <c>features.29</c> (the ReLU before the last max pool, 14×14 at 224 px; TorchRay's benchmark).
/// Every submodule is run with <c>call</c>, so forward hooks on any named module fire.
/// </summary>
public sealed class Vgg16 : nn.Module<Tensor, Tensor>
{
    static readonly int[] Config = { 64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0 };

    readonly Sequential features, classifier;
    readonly AdaptiveAvgPool2d avgpool;

    /// <param name="numClasses">Outputs of the last layer (1000 ImageNet, 20 VOC, 80 COCO).</param>
    /// <param name="caffeMaxPool">Max pools round up (<c>ceil_mode</c>), as the Caffe originals of TorchRay's VOC/COCO models do;
    /// identical to TorchVision's at sizes divisible by 32, such as 224.</param>
    /// <param name="channelDivisor">Divides every width (convolutions and the 4096-wide hidden layers); 1 is VGG16. Larger values
    /// give the same architecture in miniature, for tests of the weight-loading paths.</param>
    public Vgg16(int numClasses = 1000, bool caffeMaxPool = false, int channelDivisor = 1) : base("VGG16")
    {
        Devices.EnsureNativeLoaded();
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), $"numClasses must be ≥ 1; got {numClasses}.");
        if (channelDivisor < 1 || 64 % channelDivisor != 0) throw new ArgumentOutOfRangeException(nameof(channelDivisor), $"channelDivisor must divide 64; got {channelDivisor}.");
        NumClasses = numClasses;
        CaffeMaxPool = caffeMaxPool;
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        int inC = 3, i = 0;
        foreach (var c in Config)
        {
            if (c == 0) { layers.Add(((i++).ToString(), nn.MaxPool2d(2, stride: 2, ceil_mode: caffeMaxPool))); continue; }
            int outC = c / channelDivisor;
            layers.Add(((i++).ToString(), nn.Conv2d(inC, outC, 3, padding: 1)));
            layers.Add(((i++).ToString(), nn.ReLU()));
            inC = outC;
        }
        features = nn.Sequential(layers.ToArray());
        avgpool = nn.AdaptiveAvgPool2d(new long[] { 7, 7 });
        int hidden = 4096 / channelDivisor;
        classifier = nn.Sequential(
            ("0", nn.Linear(inC * 49, hidden)), ("1", nn.ReLU()), ("2", nn.Dropout(0.5)),
            ("3", nn.Linear(hidden, hidden)), ("4", nn.ReLU()), ("5", nn.Dropout(0.5)),
            ("6", nn.Linear(hidden, numClasses)));
        register_module("features", features);
        register_module("avgpool", avgpool);
        register_module("classifier", classifier);
    }

    /// <summary>Outputs of the last linear layer (1000 ImageNet, 20 VOC, 80 COCO).</summary>
    public int NumClasses { get; }
    /// <summary>True where the max pools round up (Caffe's ceil mode), as in the Caffe-converted weights.</summary>
    public bool CaffeMaxPool { get; }

    /// <summary>Logits <c>[N,NumClasses]</c> of normalised images <c>[N,3,H,W]</c>: 13 convs + 5 max pools, 7×7 adaptive average pool, three linear layers.</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != 3)
            throw new ArgumentException($"VGG16 expects normalised images [N,3,H,W]; got [{string.Join(",", x.shape)}].");
        using var scope = NewDisposeScope();
        // call(), not forward(): the hooks of every submodule fire (Grad-CAM reads `features.29`, TorchRay's layer).
        var h = avgpool.call(features.call(x)).flatten(1);
        return classifier.call(h).MoveToOuterDisposeScope();
    }
}
