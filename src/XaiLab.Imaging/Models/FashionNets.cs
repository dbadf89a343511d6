using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace XaiLab.Imaging.Models;

/// <summary>
/// A small plain CNN for the 128×128 Fashion scenes: input <c>[N,3,128,128]</c> (normalised; any even size ≥ 32 works, the
/// head is global max pooling, which learns much faster than average pooling when a small object sits in clutter), logits <c>[N,K]</c>. A 2×2 average pool first brings the scene to 64×64, where the
/// items (48–80 px in the scene) have about Fashion-MNIST's own resolution; that quarters the cost on the 2-core CPUs
/// the models are trained on. Then conv3×3 (3→w) → pool → conv3×3 (w→4w/3) → pool → conv3×3 (→8w/3) → pool →
/// conv3×3 (→16w/3) → global max pool → linear; every conv is followed by batch norm and ReLU.
/// Feature maps: 64², 32², 16², 8². Default width 24 (channels 24, 32, 64, 128): about 101k parameters, 19M MACs per image.
/// <see cref="Features"/> is the convolutional trunk (its last block is Grad-CAM's layer).
/// </summary>
public sealed class FashionCnn : Module<Tensor, Tensor>
{
    readonly Sequential features;
    readonly Linear head;

    /// <summary>A FashionCnn with <paramref name="numClasses"/> logits and base width <paramref name="width"/> (channels w, 4w/3, 8w/3, 16w/3).</summary>
    public FashionCnn(int numClasses, int width = 24) : base("FashionCnn")
    {
        if (numClasses < 1) throw new ArgumentException($"numClasses must be ≥ 1; got {numClasses}.");
        int c1 = width, c2 = 4 * width / 3, c3 = 8 * width / 3, c4 = 16 * width / 3;
        features = Sequential(
            ("down", AvgPool2d(2)),
            ("b1", Block(3, c1)), ("p1", MaxPool2d(2)),
            ("b2", Block(c1, c2)), ("p2", MaxPool2d(2)),
            ("b3", Block(c2, c3)), ("p3", MaxPool2d(2)),
            ("b4", Block(c3, c4)));
        head = Linear(c4, numClasses);
        RegisterComponents();
    }

    /// <summary>The convolutional trunk, <c>[N,3,H,W] → [N,16w/3,H/16,W/16]</c>.</summary>
    public Module<Tensor, Tensor> Features => features;

    static Sequential Block(int cin, int cout) => Sequential(
        ("conv", Conv2d(cin, cout, 3, padding: 1, bias: false)), ("bn", BatchNorm2d(cout)), ("relu", ReLU()));

    /// <summary>Logits <c>[N,K]</c> of normalised images <c>[N,3,H,W]</c>: trunk, global max pool, linear head.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var f = features.call(x);
        return head.call(f.amax(new long[] { 2, 3 })).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Residual basic block (He et al. 2016): conv3×3/s → BN → ReLU → conv3×3 → BN, plus the identity or a 1×1/s projection
/// shortcut, then ReLU.
/// </summary>
public sealed class ResidualBlock : Module<Tensor, Tensor>
{
    readonly Conv2d conv1, conv2;
    readonly BatchNorm2d bn1, bn2;
    readonly Sequential? shortcut;

    /// <summary>A block from <paramref name="cin"/> to <paramref name="cout"/> channels; <paramref name="stride"/> 2 halves the spatial size (the shortcut is then a 1×1/2 projection).</summary>
    public ResidualBlock(int cin, int cout, int stride) : base("ResidualBlock")
    {
        conv1 = Conv2d(cin, cout, 3, stride: stride, padding: 1, bias: false);
        bn1 = BatchNorm2d(cout);
        conv2 = Conv2d(cout, cout, 3, padding: 1, bias: false);
        bn2 = BatchNorm2d(cout);
        if (stride != 1 || cin != cout)
            shortcut = Sequential(("conv", Conv2d(cin, cout, 1, stride: stride, bias: false)), ("bn", BatchNorm2d(cout)));
        RegisterComponents();
    }

    /// <summary><c>[N,cin,H,W]</c> → <c>[N,cout,H/stride,W/stride]</c>: ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = functional.relu(bn1.call(conv1.call(x)));
        y = bn2.call(conv2.call(y));
        var s = shortcut is null ? x : shortcut.call(x);
        return functional.relu(y + s).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A small ResNet for the Fashion scenes: 2×2 average pool (128² → 64², as in <see cref="FashionCnn"/>), stem conv3×3
/// (3→w) + BN + ReLU, max pool, residual blocks (w→2w, /2), (2w→4w, /2), (4w→6w), global max pooling, linear (6w→K).
/// Input <c>[N,3,128,128]</c> → feature maps 64², 32², 16², 8², 8²; logits <c>[N,K]</c>. Default width 16: about 216k
/// parameters, 18M MACs per image.
/// </summary>
public sealed class FashionResNet : Module<Tensor, Tensor>
{
    readonly Sequential stem, features;
    readonly Linear head;

    /// <summary>A FashionResNet with <paramref name="numClasses"/> logits and base width <paramref name="width"/> (channels w, 2w, 4w, 6w).</summary>
    public FashionResNet(int numClasses, int width = 16) : base("FashionResNet")
    {
        if (numClasses < 1) throw new ArgumentException($"numClasses must be ≥ 1; got {numClasses}.");
        int w = width;
        stem = Sequential(("down", AvgPool2d(2)), ("conv", Conv2d(3, w, 3, padding: 1, bias: false)), ("bn", BatchNorm2d(w)), ("relu", ReLU()), ("pool", MaxPool2d(2)));
        features = Sequential(
            ("r1", new ResidualBlock(w, 2 * w, 2)),
            ("r2", new ResidualBlock(2 * w, 4 * w, 2)),
            ("r3", new ResidualBlock(4 * w, 6 * w, 1)));
        head = Linear(6 * w, numClasses);
        RegisterComponents();
    }

    /// <summary>The residual trunk after the stem, <c>[N,w,H/4,W/4] → [N,6w,H/16,W/16]</c>.</summary>
    public Module<Tensor, Tensor> Features => features;

    /// <summary>Logits <c>[N,K]</c> of normalised images <c>[N,3,H,W]</c>: stem, residual trunk, global max pool, linear head.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var f = features.call(stem.call(x));
        return head.call(f.amax(new long[] { 2, 3 })).MoveToOuterDisposeScope();
    }
}
