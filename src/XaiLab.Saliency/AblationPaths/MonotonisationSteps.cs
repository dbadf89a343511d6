namespace XaiLab.Saliency.AblationPaths;

/// <summary>One interval of Algorithm 1: indices <c>[Left, Right]</c> (inclusive) of a sequence and the plateau value over it.</summary>
/// <param name="Left">First index of the interval.</param>
/// <param name="Right">Last index of the interval.</param>
/// <param name="Centre">The centre value m (half-way between the largest and the smallest original value it covers).</param>
public sealed record MonotonisationInterval(int Left, int Right, double Centre);

/// <summary>
/// Algorithm 1 (§2.6.2B) on one sequence, stage by stage as Fig 2.5 draws it: (a) <see cref="Input"/>; (b) the decreasing
/// runs, <see cref="Decreasing"/>; (c) each run's centre line grown until it meets the sequence non-decreasingly (within the
/// gaps to its neighbours), <see cref="Grown"/>; (d) meeting or touching intervals whose centres are out of order merged and
/// re-grown from their new centre,
/// <see cref="Merged"/> after <see cref="MergeRounds"/> merges; (e) the sequence with every interval replaced by its centre,
/// <see cref="Output"/>.
/// </summary>
/// <param name="Input">The sequence p (a).</param>
/// <param name="Decreasing">Maximal runs where p strictly decreases, centre (p(l) + p(r))/2 (b).</param>
/// <param name="Grown">Each run grown within the gaps to its neighbouring runs (c).</param>
/// <param name="Merged">The final, disjoint intervals (d).</param>
/// <param name="MergeRounds">How many pairwise merges (d) took.</param>
/// <param name="Output">The monotone result (e).</param>
public sealed record MonotonisationTrace(IReadOnlyList<double> Input, IReadOnlyList<MonotonisationInterval> Decreasing,
    IReadOnlyList<MonotonisationInterval> Grown, IReadOnlyList<MonotonisationInterval> Merged, int MergeRounds, IReadOnlyList<double> Output)
{
    /// <summary>L∞ distance of <see cref="Output"/> to <see cref="Input"/>.</summary>
    public double Distance => Input.Zip(Output, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max();
}

/// <summary>
/// A literal, interval-by-interval implementation of Algorithm 1 that records its stages, for Fig 2.5 and as an independent
/// check of the production kernel (<see cref="PathRepair.MonotoniseSequences{T}"/>, a block-merging sweep that never forms
/// the intervals): the two agree on every sequence (tested). O(n²) in the worst case; for drawing and testing, not for paths.
/// </summary>
public static class MonotonisationSteps
{
    /// <summary>Runs Algorithm 1 on <paramref name="p"/>, keeping every stage.</summary>
    /// <exception cref="ArgumentException">An empty sequence or a non-finite value.</exception>
    public static MonotonisationTrace Trace(IReadOnlyList<double> p)
    {
        int n = p.Count;
        if (n == 0) throw new ArgumentException("Algorithm 1 needs a non-empty sequence.", nameof(p));
        if (p.Any(v => !double.IsFinite(v))) throw new ArgumentException("Algorithm 1 needs finite values.", nameof(p));

        // (b) maximal strictly decreasing runs [l, r]: p(l) is the run's largest value, p(r) its smallest.
        var runs = new List<MonotonisationInterval>();
        for (int k = 0; k + 1 < n;)
        {
            if (!(p[k + 1] < p[k])) { k++; continue; }
            int r = k + 1;
            while (r + 1 < n && p[r + 1] < p[r]) r++;
            runs.Add(new MonotonisationInterval(k, r, (p[k] + p[r]) / 2));
            k = r;
        }

        // (c) grow each centre line until it meets the sequence — leftwards while p lies above m, rightwards while below — but,
        // as in the thesis' Algorithm 1, only within the gap to the neighbouring runs: l ∈ [r_{i−1}, l_i], r ∈ [r_i, l_{i+1}].
        MonotonisationInterval Grow(int l, int r, double m, int leftBound, int rightBound)
        {
            while (l > leftBound && p[l - 1] > m) l--;
            while (r < rightBound && p[r + 1] < m) r++;
            return new MonotonisationInterval(l, r, m);
        }
        var grown = runs.Select((iv, i) => Grow(iv.Left, iv.Right, iv.Centre, i > 0 ? runs[i - 1].Right : 0,
            i + 1 < runs.Count ? runs[i + 1].Left : n - 1)).ToList();

        // (d) neighbours that now meet or touch with the right one lower would break monotonicity: merge them into one interval
        // whose centre is the mid-range of the original values it covers, re-grow it within its new neighbours; repeat.
        var merged = new List<MonotonisationInterval>(grown);
        int rounds = 0;
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int i = 0; i + 1 < merged.Count; i++)
            {
                var a = merged[i]; var b = merged[i + 1];
                if (b.Left > a.Right + 1 || !(b.Centre < a.Centre)) continue;
                int l = Math.Min(a.Left, b.Left), r = Math.Max(a.Right, b.Right);
                double hi = double.NegativeInfinity, lo = double.PositiveInfinity;
                for (int k = l; k <= r; k++) { hi = Math.Max(hi, p[k]); lo = Math.Min(lo, p[k]); }
                merged[i] = Grow(l, r, (hi + lo) / 2, i > 0 ? merged[i - 1].Right : 0, i + 2 < merged.Count ? merged[i + 2].Left : n - 1);
                merged.RemoveAt(i + 1);
                rounds++; changed = true;
                break;
            }
        }

        // (e) replace the sequence on each interval by its centre.
        var output = p.ToArray();
        foreach (var iv in merged) for (int k = iv.Left; k <= iv.Right; k++) output[k] = iv.Centre;
        return new MonotonisationTrace(p.ToArray(), runs, grown, merged, rounds, output);
    }
}
