namespace XaiLab.Denoising;

/// <summary>Rotations of 3-D space (row-major 3×3 matrices acting on column vectors).</summary>
public static class Rotations
{
    /// <summary>
    /// A uniformly random rotation of SO(3) (Haar measure), from a uniform unit quaternion
    /// (Shoemake's subgroup algorithm: q = (√(1−u₁) sin 2πu₂, √(1−u₁) cos 2πu₂, √u₁ sin 2πu₃, √u₁ cos 2πu₃)).
    /// </summary>
    public static double[,] UniformRandom(Random rng)
    {
        double u1 = rng.NextDouble(), u2 = rng.NextDouble(), u3 = rng.NextDouble();
        double a = Math.Sqrt(1 - u1), b = Math.Sqrt(u1);
        return FromQuaternion(b * Math.Cos(2 * Math.PI * u3), a * Math.Sin(2 * Math.PI * u2), a * Math.Cos(2 * Math.PI * u2), b * Math.Sin(2 * Math.PI * u3));
    }

    /// <summary>The rotation matrix of the unit quaternion w + xi + yj + zk (normalised first).</summary>
    public static double[,] FromQuaternion(double w, double x, double y, double z)
    {
        double n = Math.Sqrt(w * w + x * x + y * y + z * z);
        if (!(n > 0)) throw new ArgumentException("Quaternion must be non-zero.");
        w /= n; x /= n; y /= n; z /= n;
        return new[,]
        {
            { 1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y) },
            { 2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x) },
            { 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y) },
        };
    }

    /// <summary>The in-plane rotation by θ about the z axis (counter-clockwise in x, y).</summary>
    public static double[,] AboutZ(double theta) => new[,]
    {
        { Math.Cos(theta), -Math.Sin(theta), 0 },
        { Math.Sin(theta), Math.Cos(theta), 0 },
        { 0, 0, 1 },
    };

    /// <summary>R·p.</summary>
    public static double[] Apply(double[,] r, double[] p) =>
    [
        r[0, 0] * p[0] + r[0, 1] * p[1] + r[0, 2] * p[2],
        r[1, 0] * p[0] + r[1, 1] * p[1] + r[1, 2] * p[2],
        r[2, 0] * p[0] + r[2, 1] * p[1] + r[2, 2] * p[2],
    ];

    /// <summary>The molecule with every atom centre rotated about the origin.</summary>
    public static Molecule Rotate(Molecule m, double[,] r) => m with { Positions = m.Positions.Select(p => Apply(r, p)).ToArray() };
}
