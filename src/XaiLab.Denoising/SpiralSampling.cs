namespace XaiLab.Denoising;

/// <summary>
/// The Archimedean spiral sampling of the unit disc (thesis §7.3.1, Fig 7.3):
/// <c>r(t) = √(t/π)</c> (Eq 7.5, the solution of ∂r/∂t = 1/(2πr), Eq 7.4), <c>ϑ(t) = 2π·n_wind·r(t) = 2·n_wind·√(π t)</c>
/// (Eq 7.6) and <c>t_i = i·π/n_spls</c>, i = 0…n_spls−1 (Eq 7.7). Point i is <c>(x, y) = r_i·(cos ϑ_i, sin ϑ_i)</c>.
/// Consecutive windings are 1/n_wind apart radially; the arc length between consecutive samples is exactly
/// π·n_wind/n_spls to first order (r·dϑ/dt = n_wind everywhere), so n_spls = π·n_wind² makes both spacings equal.
/// An optional outer radius ρ scales the whole spiral (r(t) = ρ·√(t/π)); <see cref="ForImage"/> uses it so that the
/// spiral's convex hull contains every pixel centre of the unit disc (no disc pixel is extrapolated).
/// </summary>
public sealed class SpiralSampling
{
    /// <summary>Number of windings n_wind covering the disc.</summary>
    public int Windings { get; }
    /// <summary>Number of samples n_spls.</summary>
    public int Samples { get; }
    /// <summary>t_i, r_i, ϑ_i, x_i, y_i (length n_spls).</summary>
    public double[] T { get; }
    /// <summary>Radii r_i = ρ·√(t_i/π) (Eq 7.6), in units of the disc radius.</summary>
    public double[] R { get; }
    /// <summary>Angles ϑ_i = 2·n_wind·√(π·t_i) in radians (Eq 7.6).</summary>
    public double[] Theta { get; }
    /// <summary>x_i = r_i·cos ϑ_i.</summary>
    public double[] X { get; }
    /// <summary>y_i = r_i·sin ϑ_i.</summary>
    public double[] Y { get; }
    /// <summary>The radius ρ of the spiral's end point (1 = the unit disc, Eq 7.5).</summary>
    public double OuterRadius { get; }

    /// <param name="windings">n_wind ≥ 1.</param>
    /// <param name="samples">n_spls ≥ 2 (default: round(π·n_wind²), equal radial and angular spacing).</param>
    /// <param name="outerRadius">ρ &gt; 0 (default 1): every radius is multiplied by it.</param>
    public SpiralSampling(int windings, int? samples = null, double outerRadius = 1.0)
    {
        if (windings < 1) throw new ArgumentException($"windings must be ≥ 1, got {windings}.");
        if (!(outerRadius > 0)) throw new ArgumentException($"outerRadius must be > 0, got {outerRadius}.");
        OuterRadius = outerRadius;
        int n = samples ?? (int)Math.Round(Math.PI * windings * windings);
        if (n < 2) throw new ArgumentException($"samples must be ≥ 2, got {n}.");
        Windings = windings; Samples = n;
        T = new double[n]; R = new double[n]; Theta = new double[n]; X = new double[n]; Y = new double[n];
        for (int i = 0; i < n; i++)
        {
            T[i] = i * Math.PI / n;
            R[i] = outerRadius * Radius(T[i]);
            Theta[i] = Angle(T[i], windings);
            X[i] = R[i] * Math.Cos(Theta[i]);
            Y[i] = R[i] * Math.Sin(Theta[i]);
        }
    }

    /// <summary>
    /// The spiral suited to an n×n pixel grid on [−1,1]²: one winding per pixel of radius (spacing 2/n) and one winding
    /// beyond the unit disc, n_wind = n/2 + 1 and ρ = n_wind·2/n, so that the convex hull of the samples contains every
    /// pixel centre with r ≤ 1 (rim handling: disc pixels are interpolated, never extrapolated; only the corners
    /// outside the disc, which no loss or metric reads, are).
    /// </summary>
    public static SpiralSampling ForImage(int imageSize)
    {
        int w = Math.Max(1, imageSize / 2) + 1;
        return new SpiralSampling(w, outerRadius: 2.0 * w / imageSize);
    }

    /// <summary>Eq 7.5: r(t) = √(t/π).</summary>
    public static double Radius(double t) => Math.Sqrt(t / Math.PI);

    /// <summary>Eq 7.6: ϑ(t) = 2·n_wind·√(π·t).</summary>
    public static double Angle(double t, int windings) => 2 * windings * Math.Sqrt(Math.PI * t);

    /// <summary>Radial distance between neighbouring windings, ρ/n_wind (ϑ grows by 2π while r grows by ρ/n_wind).</summary>
    public double WindingSpacing => OuterRadius / Windings;

    /// <summary>
    /// The spiral ribbon (§7.3.2, Fig 7.4): <paramref name="rows"/> (odd, 3 or 5) copies of the spiral, row k offset
    /// radially by <c>(k − (rows−1)/2)·WindingSpacing</c> along the direction of ϑ_i — so each off-centre row lies
    /// exactly on the neighbouring winding (r + 1/n_wind at angle ϑ + 2π). Row-major: point (k, i) at index k·n_spls + i.
    /// Radii may become negative near the centre (the point then lies on the opposite side, continuing the ribbon
    /// through the origin) and exceed 1 at the rim (extrapolated, Remark 31).
    /// </summary>
    public (double[] X, double[] Y) Ribbon(int rows)
    {
        if (rows < 1 || rows % 2 == 0) throw new ArgumentException($"rows must be odd and ≥ 1 (3 or 5), got {rows}.");
        var x = new double[rows * Samples];
        var y = new double[rows * Samples];
        for (int k = 0; k < rows; k++)
        {
            double off = (k - (rows - 1) / 2) * WindingSpacing;
            for (int i = 0; i < Samples; i++)
            {
                double r = R[i] + off;
                x[k * Samples + i] = r * Math.Cos(Theta[i]);
                y[k * Samples + i] = r * Math.Sin(Theta[i]);
            }
        }
        return (x, y);
    }
}
