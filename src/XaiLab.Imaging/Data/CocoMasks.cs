namespace XaiLab.Imaging.Data;

/// <summary>
/// COCO segmentation masks: polygon rasterisation and run-length encoding (RLE), both the uncompressed form
/// (<c>counts</c> as a list of integers) and COCO's compressed string form. Masks are row-major <c>bool[H·W]</c>
/// (index y·W + x); RLE runs walk the image in column-major order (down each column, then the next column),
/// alternating background and foreground, starting with background.
/// </summary>
public static class CocoMasks
{
    /// <summary>
    /// Rasterises polygons (each a flat list x0,y0,x1,y1,… in pixel units, where pixel (x,y) covers
    /// [x,x+1)×[y,y+1)) into a mask: a pixel is inside when its centre (x+½, y+½) is inside the polygon
    /// (even–odd rule). Several polygons of one object are united. The pixel count therefore converges to the
    /// shoelace area as shapes grow; an axis-aligned rectangle with integer corners covers exactly its area.
    /// </summary>
    /// <exception cref="ArgumentException">A polygon with an odd number of coordinates or fewer than three vertices.</exception>
    public static bool[] RasterisePolygons(IEnumerable<double[]> polygons, int height, int width)
    {
        var mask = new bool[height * width];
        var xs = new List<double>();
        foreach (var poly in polygons)
        {
            if (poly.Length % 2 != 0 || poly.Length < 6)
                throw new ArgumentException($"A polygon needs an even number (≥ 6) of coordinates x0,y0,x1,y1,…; got {poly.Length}.");
            int n = poly.Length / 2;
            double minY = double.MaxValue, maxY = double.MinValue;
            for (int i = 0; i < n; i++) { minY = Math.Min(minY, poly[2 * i + 1]); maxY = Math.Max(maxY, poly[2 * i + 1]); }
            int yStart = Math.Max(0, (int)Math.Floor(minY - 0.5)), yEnd = Math.Min(height - 1, (int)Math.Ceiling(maxY - 0.5));
            for (int y = yStart; y <= yEnd; y++)
            {
                double yc = y + 0.5;
                xs.Clear();
                for (int i = 0; i < n; i++)
                {
                    double ax = poly[2 * i], ay = poly[2 * i + 1];
                    double bx = poly[2 * ((i + 1) % n)], by = poly[2 * ((i + 1) % n) + 1];
                    if ((ay <= yc) == (by <= yc)) continue; // half-open rule: each crossing counted once
                    xs.Add(ax + (yc - ay) / (by - ay) * (bx - ax));
                }
                xs.Sort();
                var row = new bool[width];
                for (int j = 0; j + 1 < xs.Count; j += 2)
                {
                    // Pixels whose centre x+½ lies in [xa, xb).
                    int x0 = Math.Max(0, (int)Math.Ceiling(xs[j] - 0.5));
                    int x1 = Math.Min(width, (int)Math.Ceiling(xs[j + 1] - 0.5));
                    for (int x = x0; x < x1; x++) row[x] = !row[x];
                }
                for (int x = 0; x < width; x++) if (row[x]) mask[y * width + x] = true;
            }
        }
        return mask;
    }

    /// <summary>The shoelace (signed-area) formula, absolute value: the exact area of a simple polygon.</summary>
    public static double ShoelaceArea(double[] polygon)
    {
        int n = polygon.Length / 2;
        double s = 0;
        for (int i = 0; i < n; i++)
        {
            int j = (i + 1) % n;
            s += polygon[2 * i] * polygon[2 * j + 1] - polygon[2 * j] * polygon[2 * i + 1];
        }
        return Math.Abs(s) / 2;
    }

    /// <summary>Decodes uncompressed RLE counts into a row-major mask of <paramref name="height"/>×<paramref name="width"/>.</summary>
    /// <exception cref="ArgumentException">Negative runs, or runs that do not add up to H·W.</exception>
    public static bool[] DecodeRle(IReadOnlyList<long> counts, int height, int width)
    {
        long total = (long)height * width, pos = 0;
        var mask = new bool[total];
        bool value = false;
        for (int i = 0; i < counts.Count; i++, value = !value)
        {
            long run = counts[i];
            if (run < 0) throw new ArgumentException($"RLE run {i} is negative ({run}).");
            if (pos + run > total) throw new ArgumentException($"RLE runs exceed the {height}×{width} image ({total} pixels) at run {i}.");
            if (value)
                for (long p = pos; p < pos + run; p++)
                {
                    long x = p / height, y = p % height; // column-major walk
                    mask[y * width + x] = true;
                }
            pos += run;
        }
        if (pos != total) throw new ArgumentException($"RLE runs cover {pos} pixels, but the image has {height}×{width} = {total}.");
        return mask;
    }

    /// <summary>Encodes a row-major mask as uncompressed RLE counts (column-major runs, background first).</summary>
    public static long[] EncodeRle(bool[] mask, int height, int width)
    {
        if (mask.Length != height * width) throw new ArgumentException($"Mask has {mask.Length} pixels, expected {height}×{width}.");
        var counts = new List<long>();
        bool value = false; long run = 0;
        for (int x = 0; x < width; x++)
            for (int y = 0; y < height; y++)
            {
                bool v = mask[y * width + x];
                if (v != value) { counts.Add(run); run = 0; value = v; }
                run++;
            }
        counts.Add(run);
        return counts.ToArray();
    }

    /// <summary>
    /// Decodes COCO's compressed RLE string: each count is written in 5-bit groups, least significant first, as
    /// characters 48+group with bit 0x20 meaning "more groups follow" and bit 0x10 of the last group the sign;
    /// from the fourth count on, the value stored is the difference to the count two places earlier.
    /// </summary>
    /// <exception cref="FormatException">A character outside the alphabet or a string that ends inside a count.</exception>
    public static long[] DecompressCounts(string s)
    {
        var counts = new List<long>();
        int p = 0;
        while (p < s.Length)
        {
            long x = 0; int k = 0; bool more = true;
            while (more)
            {
                if (p >= s.Length) throw new FormatException($"Compressed RLE ends inside a count (at character {p}).");
                int c = s[p] - 48;
                if (c < 0 || c > 63) throw new FormatException($"Compressed RLE has character '{s[p]}' at {p}, outside the alphabet '0'..'o'.");
                x |= (long)(c & 0x1F) << (5 * k);
                more = (c & 0x20) != 0;
                p++; k++;
                if (!more && (c & 0x10) != 0) x |= -1L << (5 * k);
            }
            if (counts.Count > 2) x += counts[^2];
            counts.Add(x);
        }
        return counts.ToArray();
    }

    /// <summary>Encodes counts in COCO's compressed string form (inverse of <see cref="DecompressCounts"/>).</summary>
    public static string CompressCounts(IReadOnlyList<long> counts)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < counts.Count; i++)
        {
            long x = counts[i];
            if (i > 2) x -= counts[i - 2];
            bool more = true;
            while (more)
            {
                int c = (int)(x & 0x1F);
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more) c |= 0x20;
                sb.Append((char)(c + 48));
            }
        }
        return sb.ToString();
    }
}
