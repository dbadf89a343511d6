namespace XaiLab.Imaging.Data;

/// <summary>
/// SplitMix64 (Steele, Lea &amp; Flood 2014): a tiny, fully specified 64-bit generator. The Fashion-scene generator uses it
/// instead of <see cref="System.Random"/>, whose algorithm .NET does not promise to keep, so that a seed names the same
/// scene on every machine and runtime version.
/// </summary>
public sealed class SplitMix64
{
    ulong _state;

    /// <summary>A generator whose state starts at <paramref name="seed"/>.</summary>
    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>A generator whose seed mixes several keys (e.g. dataset seed, split, scene index), so that nearby keys give unrelated streams.</summary>
    public static SplitMix64 ForKeys(params ulong[] keys)
    {
        ulong s = 0x6A09E667F3BCC909UL;
        foreach (var k in keys) s = Mix(s ^ Mix(k + 0x9E3779B97F4A7C15UL));
        return new SplitMix64(s);
    }

    /// <summary>The SplitMix64 output function (a bijective 64-bit finaliser).</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits: advances the state by the golden-ratio increment 0x9E3779B97F4A7C15 and mixes it.</summary>
    public ulong NextUInt64() => Mix(_state += 0x9E3779B97F4A7C15UL);

    /// <summary>Uniform in [0,1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [lo,hi).</summary>
    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    /// <summary>Uniform integer in [lo,hi) (hi &gt; lo), by rejection so there is no modulo bias.</summary>
    public int Next(int lo, int hi)
    {
        if (hi <= lo) throw new ArgumentOutOfRangeException(nameof(hi), $"Empty range [{lo},{hi}).");
        ulong range = (ulong)((long)hi - lo);
        ulong limit = ulong.MaxValue - ulong.MaxValue % range;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return lo + (int)(r % range);
    }

    /// <summary>True with probability <paramref name="p"/>.</summary>
    public bool Bernoulli(double p) => NextDouble() < p;

    /// <summary>Standard normal (Box–Muller).</summary>
    public double Normal()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Fisher–Yates shuffle of <paramref name="items"/> in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(0, i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
