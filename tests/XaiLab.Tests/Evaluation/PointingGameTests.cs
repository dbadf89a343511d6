using TorchSharp;
using XaiLab.Imaging.Data;
using XaiLab.Saliency;
using XaiLab.Saliency.Evaluation;
using static TorchSharp.torch;

namespace XaiLab.Tests.Evaluation;

[Trait("Category", "Unit")]
public class PointingGameTests
{
    static Tensor SinglePixel(int h, int w, int x, int y)
    {
        var m = zeros(new long[] { h, w }, ScalarType.Bool);
        m[y, x] = true;
        return m;
    }

    [Fact]
    public void HitIsStrictlyWithinFifteenPixels()
    {
        using var scope = NewDisposeScope();
        var gt = SinglePixel(64, 64, 40, 40);
        // distance √221 ≈ 14.87 (the closest an integer grid gets below 15): hit
        Assert.True(PointingGame.IsHit(gt, (40 - 10, 40 - 11)));
        // distance 15.0 exactly, axis-aligned and diagonal (9² + 12² = 15²): miss
        Assert.False(PointingGame.IsHit(gt, (25, 40)));
        Assert.False(PointingGame.IsHit(gt, (40 + 9, 40 + 12)));
        // a fractional tolerance: 14.9 px still hits at √221, 14.8 does not
        Assert.True(PointingGame.IsHit(gt, (30, 29), 14.9));
        Assert.False(PointingGame.IsHit(gt, (30, 29), 14.8));
        // inside the region
        Assert.True(PointingGame.IsHit(gt, (40, 40)));
    }

    [Fact]
    public void PointIsTheArgmaxOfTheResizedMap()
    {
        using var scope = NewDisposeScope();
        var map = zeros(4, 4);
        map[1, 3] = 1; // row 1, column 3 of a 4×4 map
        using var s = new SaliencyMap(map, "test", 0);
        var p = PointingGame.Point(s, 4, 4);
        Assert.Equal((3, 1), p);
        var big = PointingGame.Point(s, 40, 40); // bilinear upsampling ×10: the peak is at the cell centre 10·(3,1) + 4.5
        Assert.InRange(big.X, 34, 35); Assert.InRange(big.Y, 14, 15);
        var tie = zeros(3, 3); tie[2, 0] = 1; tie[0, 2] = 1;
        Assert.Equal((2, 0), PointingGame.Point(tie)); // first maximum in row-major order
    }

    static Scene MakeScene(string id, int h, int w, params SceneObject[] objects) => new(id, zeros(3, h, w), objects);

    [Fact]
    public void DifficultObjectsAndTheDifficultSubset()
    {
        using var scope = NewDisposeScope();
        // 40×40 image (1600 px). Class 0: a 10×10 box (100 px < 400); class 1: a 20×20 box (exactly 400 px = 1/4);
        // class 2: only a difficult box; class 3 not present.
        using var scene = MakeScene("s", 40, 40,
            new SceneObject(0, new BoundingBox(0, 0, 9, 9)),
            new SceneObject(1, new BoundingBox(20, 20, 39, 39)),
            new SceneObject(2, new BoundingBox(12, 0, 14, 2), Difficult: true),
            new SceneObject(0, new BoundingBox(30, 0, 32, 2), Difficult: true));
        Assert.True(PointingGame.InDifficultSubset(scene, 0));   // 100 + 9 px < 400 and other classes present
        Assert.False(PointingGame.InDifficultSubset(scene, 1));  // 400 px is not < 1/4
        Assert.True(PointingGame.AllObjectsDifficult(scene, 2));
        Assert.False(PointingGame.AllObjectsDifficult(scene, 0)); // one difficult box of two
        Assert.Equal(PointingOutcome.Skip, PointingGame.Evaluate(scene, 2, (13, 1)));
        // class 0's difficult box still counts as ground truth (TorchRay's voc_as_mask takes every box of the class)
        Assert.Equal(PointingOutcome.Hit, PointingGame.Evaluate(scene, 0, (31, 1)));
        Assert.Equal(PointingOutcome.Miss, PointingGame.Evaluate(scene, 1, (0, 39)));
        Assert.Throws<ArgumentException>(() => PointingGame.Evaluate(scene, 3, (0, 0)));
        // a class alone in its image is never "difficult", however small
        using var alone = MakeScene("a", 40, 40, new SceneObject(5, new BoundingBox(0, 0, 1, 1)));
        Assert.False(PointingGame.InDifficultSubset(alone, 5));
    }

    [Fact]
    public void BothAveragingRules()
    {
        var s = new PointingGameScore(4);
        s.Add(0, PointingOutcome.Hit); s.Add(0, PointingOutcome.Miss);              // 50 %
        s.Add(1, PointingOutcome.Hit);                                               // 100 %
        s.Add(2, PointingOutcome.Miss); s.Add(2, PointingOutcome.Miss); s.Add(2, PointingOutcome.Hit); // 33.3 %
        s.Add(3, PointingOutcome.Skip);                                              // absent: no trials
        Assert.Equal((0.5 + 1 + 1.0 / 3 + 0) / 4, s.TorchRayAccuracy, 12);
        Assert.Equal((0.5 + 1 + 1.0 / 3) / 3, s.PresentClassAccuracy, 12);
        Assert.Equal(3, s.PresentClasses);
        Assert.Equal(6, s.Trials);
        Assert.Equal(new[] { 0.5, 1, 1.0 / 3, 0 }, s.ClassAccuracies);
    }
}
