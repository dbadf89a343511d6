using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>
/// Projection of Gaussian-atom densities along z onto a square pixel grid (thesis §6.1, "a simple static density
/// projection"). The line integral of a 3-D Gaussian <c>A·exp(−|p−c|²/2σ²)</c> along z is exactly the 2-D Gaussian
/// <c>A·√(2π)·σ·exp(−|q−c_xy|²/2σ²)</c>, so the projection is analytic (no voxel grid, no quadrature error).
/// Grid convention: an <c>n×n</c> image covers <c>[−1,1]²</c> edge to edge (the unit disc of Eq 7.2 is inscribed);
/// pixel (row i, column j) has its centre at <c>x = −1 + (2j+1)/n</c>, <c>y = −1 + (2i+1)/n</c> (y grows downward
/// with the row index, as <c>grid_sample</c> with <c>align_corners=false</c> expects).
/// </summary>
public static class Projector
{
    /// <summary>Pixel-centre coordinates along one axis: <c>[n]</c>, float64.</summary>
    public static double[] PixelCentres(int n)
    {
        if (n < 2) throw new ArgumentException($"Image size must be ≥ 2, got {n}.");
        return Enumerable.Range(0, n).Select(j => -1 + (2.0 * j + 1) / n).ToArray();
    }

    /// <summary>
    /// Renders projections of atoms already rotated into the viewing frame.
    /// </summary>
    /// <param name="xy">Atom centres in the image plane <c>[B,A,2]</c> (x, y).</param>
    /// <param name="sigma">Atom widths <c>[B,A]</c>.</param>
    /// <param name="mass">Projected peak heights <c>[B,A]</c> (A·√(2π)·σ for a unit-free density; 0 for padding atoms).</param>
    /// <param name="size">Image side n.</param>
    /// <returns><c>[B,1,n,n]</c> float32 on the device of <paramref name="xy"/>.</returns>
    public static Tensor Render(Tensor xy, Tensor sigma, Tensor mass, int size)
    {
        if (xy.dim() != 3 || xy.shape[2] != 2) throw new ArgumentException($"xy must be [B,A,2], got [{string.Join(",", xy.shape)}].");
        if (sigma.shape.Length != 2 || sigma.shape[0] != xy.shape[0] || sigma.shape[1] != xy.shape[1] || !mass.shape.SequenceEqual(sigma.shape))
            throw new ArgumentException($"sigma and mass must be [B,A] = [{xy.shape[0]},{xy.shape[1]}].");
        using var scope = NewDisposeScope();
        var c = tensor(PixelCentres(size), dtype: float64, device: xy.device);
        var x = xy.to(float64)[.., .., 0].unsqueeze(-1).unsqueeze(-1);          // [B,A,1,1]
        var y = xy.to(float64)[.., .., 1].unsqueeze(-1).unsqueeze(-1);
        var s2 = (2 * sigma.to(float64).square()).unsqueeze(-1).unsqueeze(-1);   // [B,A,1,1]
        var dx2 = (c.view(1, 1, 1, size) - x).square();                         // [B,A,1,n]  columns
        var dy2 = (c.view(1, 1, size, 1) - y).square();                         // [B,A,n,1]  rows
        // exp(−(dx²+dy²)/2σ²) = exp(−dy²/2σ²)·exp(−dx²/2σ²): separable, one outer product per atom.
        var img = (mass.to(float64).unsqueeze(-1).unsqueeze(-1) * (-dy2 / s2).exp() * (-dx2 / s2).exp()).sum(1, keepdim: true);
        return img.to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>The projection along z of one molecule (as positioned; rotate it first): <c>[1,n,n]</c> float32.</summary>
    public static Tensor Project(Molecule molecule, int size)
    {
        molecule.Validated();
        XaiLab.Imaging.Devices.EnsureNativeLoaded();
        using var scope = NewDisposeScope();
        int a = molecule.AtomCount;
        var xy = tensor(molecule.Positions.SelectMany(p => new[] { p[0], p[1] }).ToArray(), dtype: float64).view(1, a, 2);
        var sig = tensor(molecule.Sigmas, dtype: float64).view(1, a);
        var mass = tensor(molecule.Sigmas.Zip(molecule.Amplitudes, (s, m) => m * Math.Sqrt(2 * Math.PI) * s).ToArray(), dtype: float64).view(1, a);
        return Render(xy, sig, mass, size)[0].MoveToOuterDisposeScope();
    }
}
