using System.Globalization;

namespace XaiLab.Denoising;

/// <summary>
/// A synthetic "molecule" as a 3-D density (thesis §6.1): a sum of isotropic Gaussian atoms
/// <c>ρ(p) = Σ_a A_a · exp(−|p − c_a|² / (2σ_a²))</c>. Coordinates are in units of the disc of interest
/// (radius 1, Eq 7.2); <see cref="Centred"/> moves the amplitude-weighted centre of mass to the origin.
/// </summary>
/// <param name="Positions">Atom centres <c>[A][3]</c> (x, y, z).</param>
/// <param name="Sigmas">Atom widths σ_a (&gt; 0), same length.</param>
/// <param name="Amplitudes">Atom peak densities A_a (≥ 0), same length.</param>
public sealed record Molecule(double[][] Positions, double[] Sigmas, double[] Amplitudes)
{
    /// <summary>Number of atoms A.</summary>
    public int AtomCount => Positions.Length;

    /// <summary>Checks lengths and ranges; throws <see cref="ArgumentException"/> naming what was expected.</summary>
    public Molecule Validated()
    {
        if (Positions.Length == 0) throw new ArgumentException("A molecule needs at least one atom.");
        if (Sigmas.Length != Positions.Length || Amplitudes.Length != Positions.Length)
            throw new ArgumentException($"Molecule arrays disagree: {Positions.Length} positions, {Sigmas.Length} sigmas, {Amplitudes.Length} amplitudes.");
        for (int a = 0; a < Positions.Length; a++)
        {
            if (Positions[a].Length != 3) throw new ArgumentException($"Atom {a}: expected 3 coordinates, got {Positions[a].Length}.");
            if (!(Sigmas[a] > 0)) throw new ArgumentException($"Atom {a}: sigma must be > 0, got {Sigmas[a]}.");
            if (!(Amplitudes[a] >= 0)) throw new ArgumentException($"Atom {a}: amplitude must be ≥ 0, got {Amplitudes[a]}.");
        }
        return this;
    }

    /// <summary>The amplitude-weighted centre of mass.</summary>
    public double[] CentreOfMass()
    {
        double w = 0, x = 0, y = 0, z = 0;
        for (int a = 0; a < AtomCount; a++)
        {
            // The mass of a 3-D Gaussian atom is A·(2π)^{3/2}·σ³.
            double m = Amplitudes[a] * Math.Pow(Sigmas[a], 3);
            w += m; x += m * Positions[a][0]; y += m * Positions[a][1]; z += m * Positions[a][2];
        }
        return w > 0 ? [x / w, y / w, z / w] : [0, 0, 0];
    }

    /// <summary>The molecule moved so that its centre of mass is the origin (thesis §7.1: the disc is centred on it).</summary>
    public Molecule Centred()
    {
        var c = CentreOfMass();
        return this with { Positions = Positions.Select(p => new[] { p[0] - c[0], p[1] - c[1], p[2] - c[2] }).ToArray() };
    }

    /// <summary>Largest distance of an atom centre from the origin.</summary>
    public double Radius => Positions.Max(p => Math.Sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]));

    /// <summary>Centres the molecule and scales positions (and σ) so that the atom centres lie within <paramref name="radius"/>.</summary>
    public Molecule FittedInto(double radius)
    {
        var c = Centred();
        double s = radius / Math.Max(c.Radius, 1e-12);
        return c with
        {
            Positions = c.Positions.Select(p => new[] { p[0] * s, p[1] * s, p[2] * s }).ToArray(),
        };
    }
}

/// <summary>Options for random molecules (<see cref="MoleculeFactory.Random"/>).</summary>
public sealed record MoleculeOptions
{
    /// <summary>Atoms per molecule (default 40).</summary>
    public int Atoms { get; init; } = 40;
    /// <summary>Atom centres are scaled into this radius of the unit disc (default 0.6, leaves room for the atoms' tails).</summary>
    public double Radius { get; init; } = 0.6;
    /// <summary>Atom widths are drawn uniformly from [SigmaMin, SigmaMax] (disc units; defaults 0.05…0.09).</summary>
    public double SigmaMin { get; init; } = 0.05;
    /// <summary>Upper end of the atom-width range (disc units; default 0.09).</summary>
    public double SigmaMax { get; init; } = 0.09;
    /// <summary>Step length of the random chain before scaling (default 0.15) — gives elongated, protein-like shapes.</summary>
    public double Step { get; init; } = 0.15;
}

/// <summary>Seeded random molecules and PDB import.</summary>
public static class MoleculeFactory
{
    /// <summary>
    /// A random molecule: atoms on a self-avoiding-ish random chain (steps of <see cref="MoleculeOptions.Step"/> in a
    /// direction that turns by at most ~70° per step), centred and scaled into <see cref="MoleculeOptions.Radius"/>;
    /// amplitudes uniform in [0.5, 1.5]. Deterministic for a given <paramref name="rng"/> state.
    /// </summary>
    public static Molecule Random(Random rng, MoleculeOptions? options = null)
    {
        var o = options ?? new MoleculeOptions();
        if (o.Atoms < 1) throw new ArgumentException($"Atoms must be ≥ 1, got {o.Atoms}.");
        if (!(o.SigmaMin > 0 && o.SigmaMax >= o.SigmaMin)) throw new ArgumentException($"Expected 0 < SigmaMin ≤ SigmaMax, got {o.SigmaMin}, {o.SigmaMax}.");
        var pos = new double[o.Atoms][];
        var dir = RandomUnit(rng);
        pos[0] = [0, 0, 0];
        for (int a = 1; a < o.Atoms; a++)
        {
            var turn = RandomUnit(rng);
            var d = new[] { dir[0] + 0.9 * turn[0], dir[1] + 0.9 * turn[1], dir[2] + 0.9 * turn[2] };
            double n = Math.Sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            dir = [d[0] / n, d[1] / n, d[2] / n];
            pos[a] = [pos[a - 1][0] + o.Step * dir[0], pos[a - 1][1] + o.Step * dir[1], pos[a - 1][2] + o.Step * dir[2]];
        }
        var sig = Enumerable.Range(0, o.Atoms).Select(_ => o.SigmaMin + (o.SigmaMax - o.SigmaMin) * rng.NextDouble()).ToArray();
        var amp = Enumerable.Range(0, o.Atoms).Select(_ => 0.5 + rng.NextDouble()).ToArray();
        return new Molecule(pos, sig, amp).FittedInto(o.Radius);
    }

    static double[] RandomUnit(Random rng)
    {
        var v = new[] { Gaussian(rng), Gaussian(rng), Gaussian(rng) };
        double n = Math.Sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        return [v[0] / n, v[1] / n, v[2] / n];
    }

    /// <summary>A standard normal draw (Box–Muller) from a System.Random — deterministic across platforms.</summary>
    public static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>
    /// Reads atom coordinates from the <c>ATOM</c>/<c>HETATM</c> records of a PDB file (fixed columns 31–38, 39–46,
    /// 47–54 for x, y, z in Å; other records are ignored; only the first MODEL is read). Every atom becomes a Gaussian
    /// of width <paramref name="sigmaAngstrom"/> and amplitude 1; the molecule is then centred and scaled so its atom
    /// centres fit in <paramref name="radius"/> (σ scaled alike).
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">A line is too short or a coordinate is not a number (the message names file, line and column), or no atoms.</exception>
    public static Molecule FromPdb(string path, double sigmaAngstrom = 2.0, double radius = 0.6)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"PDB file not found: {path}", path);
        return ParsePdb(File.ReadLines(path), path, sigmaAngstrom, radius);
    }

    /// <summary>As <see cref="FromPdb"/>, from lines; <paramref name="source"/> names them in errors.</summary>
    public static Molecule ParsePdb(IEnumerable<string> lines, string source, double sigmaAngstrom = 2.0, double radius = 0.6)
    {
        if (!(sigmaAngstrom > 0)) throw new ArgumentException($"sigmaAngstrom must be > 0, got {sigmaAngstrom}.");
        var pos = new List<double[]>();
        int lineNo = 0;
        foreach (var line in lines)
        {
            lineNo++;
            if (line.StartsWith("ENDMDL", StringComparison.Ordinal)) break;
            if (!line.StartsWith("ATOM  ", StringComparison.Ordinal) && !line.StartsWith("HETATM", StringComparison.Ordinal)) continue;
            if (line.Length < 54)
                throw new InvalidDataException($"{source}:{lineNo}: {line[..6].Trim()} record has {line.Length} characters; expected at least 54 (x, y, z in columns 31–54).");
            var xyz = new double[3];
            for (int k = 0; k < 3; k++)
            {
                var field = line.Substring(30 + 8 * k, 8);
                if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out xyz[k]) || !double.IsFinite(xyz[k]))
                    throw new InvalidDataException($"{source}:{lineNo}: column {31 + 8 * k}–{38 + 8 * k} ('{"xyz"[k]}'): expected a number, got '{field}'.");
            }
            pos.Add(xyz);
        }
        if (pos.Count == 0) throw new InvalidDataException($"{source}: no ATOM or HETATM records.");
        var m = new Molecule(pos.ToArray(), Enumerable.Repeat(sigmaAngstrom, pos.Count).ToArray(), Enumerable.Repeat(1.0, pos.Count).ToArray()).Centred();
        double s = radius / Math.Max(m.Radius, sigmaAngstrom);
        return new Molecule(m.Positions.Select(p => new[] { p[0] * s, p[1] * s, p[2] * s }).ToArray(),
            m.Sigmas.Select(x => x * s).ToArray(), m.Amplitudes).Validated();
    }
}
