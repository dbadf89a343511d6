using XaiLab.Saliency.AblationPaths;

namespace XaiLab.Tests.AblationPaths;

[Trait("Category", "Unit")]
public class MonotonisationStepsTests
{
    [Fact]
    public void TheLiteralIntervalFormAgreesWithTheKernelOnRandomSequences()
    {
        // 20,000 sequences of length 1–24: continuous values and values on a coarse grid (many ties, many touching runs).
        var rng = new Random(11);
        int merges = 0;
        for (int s = 0; s < 20_000; s++)
        {
            int n = 1 + rng.Next(24);
            var p = new double[n];
            for (int i = 0; i < n; i++) p[i] = s % 2 == 0 ? rng.NextDouble() : rng.Next(5) / 4.0;
            var trace = MonotonisationSteps.Trace(p);
            var q = (double[])p.Clone();
            PathRepair.MonotoniseSequences<double>(q, n);
            for (int i = 0; i < n; i++) Assert.Equal(q[i], trace.Output[i]);
            for (int i = 1; i < n; i++) Assert.True(trace.Output[i] >= trace.Output[i - 1]);
            // Lemma 6: the distance is half the largest drop.
            double halfDrop = 0;
            for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) halfDrop = Math.Max(halfDrop, (p[i] - p[j]) / 2);
            Assert.Equal(halfDrop, trace.Distance, 12);
            merges += trace.MergeRounds;
        }
        Assert.True(merges > 1000, $"only {merges} merges: the sample does not exercise stage (d)");
    }

    [Fact]
    public void StagesOfAHandWorkedExample()
    {
        // p: rise, a drop 0.6 → 0.3 (centre 0.45), rise, a drop 0.7 → 0.2 (centre 0.45), rise.
        var p = new[] { 0.1, 0.6, 0.3, 0.5, 0.7, 0.2, 0.8 };
        var t = MonotonisationSteps.Trace(p);
        Assert.Equal(new[] { new MonotonisationInterval(1, 2, 0.45), new MonotonisationInterval(4, 5, 0.45) }, t.Decreasing.Select(Round));
        // Growing: the first drop's centre 0.45 is met by 0.5 on its right and 0.1 on its left, so it stays [1,2]; the second
        // grows left over 0.5 (> 0.45) to [3,5] and touches the first at equal centres: no merge is needed.
        Assert.Equal(new[] { new MonotonisationInterval(1, 2, 0.45), new MonotonisationInterval(3, 5, 0.45) }, t.Grown.Select(Round));
        Assert.Equal(0, t.MergeRounds);
        Assert.Equal(new[] { 0.1, 0.45, 0.45, 0.45, 0.45, 0.45, 0.8 }, t.Output.Select(v => Math.Round(v, 12)));
        // A drop nested in a larger one merges: 0.9 → 0.5, rise to 0.6, drop to 0.1: the grown intervals overlap.
        var m = MonotonisationSteps.Trace(new[] { 0.0, 0.9, 0.5, 0.6, 0.1, 1.0 });
        Assert.Equal(1, m.MergeRounds);
        Assert.Equal(new[] { new MonotonisationInterval(1, 4, 0.5) }, m.Merged.Select(Round));
        Assert.Throws<ArgumentException>(() => MonotonisationSteps.Trace(Array.Empty<double>()));
        Assert.Throws<ArgumentException>(() => MonotonisationSteps.Trace(new[] { 0.1, double.NaN }));
    }

    static MonotonisationInterval Round(MonotonisationInterval iv) => iv with { Centre = Math.Round(iv.Centre, 12) };
}
