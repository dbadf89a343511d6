using TorchSharp;
using XaiLab.Imaging.Filters;
using static TorchSharp.torch;

namespace XaiLab.Saliency.SiftCells;

/// <summary>
/// Parameters of the standard SIFT detector (Lowe 2004 with Brown &amp; Lowe's quadratic refinement; thesis §4.1.2).
/// Defaults are OpenCV's <c>SIFT::create()</c>: 3 layers per octave, contrastThreshold 0.04, edgeThreshold 10, σ 1.6,
/// image doubled before the first octave.
/// </summary>
public sealed record SiftDetectorOptions
{
    /// <summary>Layers per octave (OpenCV nOctaveLayers). Default 3.</summary>
    public int OctaveLayers { get; init; } = 3;
    /// <summary>
    /// Contrast threshold in intensity units of [0,1] images, as OpenCV defines it: a refined extremum is kept when
    /// |D(x̂)|·OctaveLayers ≥ ContrastThreshold, i.e. |D(x̂)| ≥ 0.04/3 by default; candidates are pre-filtered at
    /// ⌊0.5·ContrastThreshold/OctaveLayers·255⌋/255. Default 0.04.
    /// </summary>
    public double ContrastThreshold { get; init; } = 0.04;
    /// <summary>Edge threshold r: reject when tr(H)²·r ≥ (r+1)²·det(H) or det(H) ≤ 0. Default 10.</summary>
    public double EdgeThreshold { get; init; } = 10;
    /// <summary>σ of the first octave's base image (in that octave's pixels). Default 1.6.</summary>
    public double Sigma { get; init; } = 1.6;
    /// <summary>Double the image (bilinear) before the first octave, assuming an input blur of 0.5 px. Default true (OpenCV).</summary>
    public bool DoubleImage { get; init; } = true;
    /// <summary>Keep only the strongest N keypoints by |response| (0 = all). Default 0.</summary>
    public int MaxKeypoints { get; init; }

    /// <summary>Checks every option against its documented range (layers ≥ 1, thresholds, σ, keypoint cap).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its range; the message names it.</exception>
    public void Validate()
    {
        if (OctaveLayers < 1) throw new ArgumentOutOfRangeException(nameof(OctaveLayers), OctaveLayers, "OctaveLayers must be ≥ 1.");
        if (!(ContrastThreshold >= 0)) throw new ArgumentOutOfRangeException(nameof(ContrastThreshold), ContrastThreshold, "ContrastThreshold must be ≥ 0.");
        if (!(EdgeThreshold > 0)) throw new ArgumentOutOfRangeException(nameof(EdgeThreshold), EdgeThreshold, "EdgeThreshold must be > 0.");
        if (!(Sigma > 0)) throw new ArgumentOutOfRangeException(nameof(Sigma), Sigma, "Sigma must be > 0.");
        if (MaxKeypoints < 0) throw new ArgumentOutOfRangeException(nameof(MaxKeypoints), MaxKeypoints, "MaxKeypoints must be ≥ 0.");
    }
}

/// <summary>
/// A SIFT keypoint κ = (r, σ) in the original image: X, Y in pixels with pixel centres at integer coordinates
/// ((0,0) is the centre of the top-left pixel, OpenCV's convention); Sigma is the keypoint's Gaussian scale in
/// original pixels (OpenCV's <c>KeyPoint.size / 2</c>); Response is |D(x̂)| in [0,1]-intensity units
/// (OpenCV's <c>response</c>); Octave is the octave index (−1 = doubled image) and Layer the refined layer (fractional).
/// </summary>
public readonly record struct SiftKeypoint(float X, float Y, float Sigma, float Response, int Octave, float Layer);

/// <summary>
/// The standard SIFT detector on the luma of an image (thesis §4.1.2): Gaussian pyramid with octaves of
/// OctaveLayers+3 images built by incremental blurs and decimation by 2 (taking every other pixel of the layer with
/// twice the base σ), difference of Gaussians, 3×3×3 extrema, up to 5 Newton steps of quadratic refinement
/// (Brown &amp; Lowe 2002), contrast and Hessian edge rejection. It reproduces OpenCV's detector stage
/// (<c>cv::SIFT</c> 4.x: reflect-101 borders, kernel radius 4σ, 5-pixel border, pre-threshold) but not its
/// orientation assignment, which is irrelevant for feature cells (OpenCV emits one copy per orientation peak).
/// Detection runs on luma Y = 0.299R + 0.587G + 0.114B (BT.601, as OpenCV's BGR2GRAY); colour stays in the bands.
/// </summary>
public static class SiftDetector
{
    const int Border = 5, MaxInterpSteps = 5;
    const float InitSigma = 0.5f;

    /// <summary>Luma <c>[H,W]</c> of an image <c>[C,H,W]</c> (C = 1: the channel itself; C = 3: BT.601 weights).</summary>
    /// <exception cref="ArgumentException">Not an image tensor with 1 or 3 channels.</exception>
    public static Tensor Luma(Tensor image)
    {
        ScaleSpace.CheckImage(image, nameof(image));
        var c = image.shape[0];
        if (c == 1) return image[0].clone();
        if (c != 3) throw new ArgumentException($"Luma needs a grey [1,H,W] or RGB [3,H,W] image; got {c} channels.", nameof(image));
        using var scope = NewDisposeScope();
        var img = image.to(ScalarType.Float32);
        return (0.299f * img[0] + 0.587f * img[1] + 0.114f * img[2]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Detects keypoints in <paramref name="image"/> (<c>[C,H,W]</c> in [0,1], C = 1 or 3, float32 or float64), strongest
    /// first, without exact duplicates (same x, y and σ).
    /// </summary>
    public static IReadOnlyList<SiftKeypoint> Detect(Tensor image, SiftDetectorOptions? options = null)
    {
        var o = options ?? new SiftDetectorOptions();
        o.Validate();
        using var luma = Luma(image);
        int h = (int)luma.shape[0], w = (int)luma.shape[1];
        var data = luma.cpu().contiguous().data<float>().ToArray();
        for (int i = 0; i < data.Length; i++) data[i] *= 255f; // OpenCV works on 0…255 intensities
        return DetectGray(data, h, w, o);
    }

    /// <summary>Detects keypoints in a grey image given row-major in 0…255 units (strongest first, exact duplicates removed).</summary>
    public static IReadOnlyList<SiftKeypoint> DetectGray(float[] gray, int height, int width, SiftDetectorOptions? options = null)
    {
        var o = options ?? new SiftDetectorOptions();
        o.Validate();
        if (gray.Length != height * width) throw new ArgumentException($"Grey buffer has {gray.Length} values, expected {height}×{width}.", nameof(gray));
        if (height < 2 * Border + 3 || width < 2 * Border + 3) throw new ArgumentException($"SIFT needs an image of at least {2 * Border + 3}×{2 * Border + 3} pixels; got {height}×{width}.");
        int nl = o.OctaveLayers;
        // base image
        Plane baseImg;
        int firstOctave;
        if (o.DoubleImage)
        {
            double sigDiff = Math.Sqrt(Math.Max(o.Sigma * o.Sigma - 4 * InitSigma * InitSigma, 0.01));
            baseImg = Blur(Upsample2(new Plane(gray, width, height)), sigDiff);
            firstOctave = -1;
        }
        else
        {
            double sigDiff = Math.Sqrt(Math.Max(o.Sigma * o.Sigma - InitSigma * InitSigma, 0.01));
            baseImg = Blur(new Plane(gray, width, height), sigDiff);
            firstOctave = 0;
        }
        // OpenCV: cvRound(log2(min(base)) − 2) − firstOctave
        int nOctaves = (int)Math.Round(Math.Log(Math.Min(baseImg.W, baseImg.H)) / Math.Log(2) - 2, MidpointRounding.ToEven) - firstOctave;
        while (nOctaves > 1 && Math.Min(baseImg.W, baseImg.H) >> (nOctaves - 1) < 1) nOctaves--;
        if (nOctaves < 1) nOctaves = 1;

        // Gaussian pyramid
        var sig = new double[nl + 3];
        sig[0] = o.Sigma;
        double k = Math.Pow(2, 1.0 / nl);
        for (int i = 1; i < nl + 3; i++)
        {
            double prev = Math.Pow(k, i - 1) * o.Sigma, total = prev * k;
            sig[i] = Math.Sqrt(total * total - prev * prev);
        }
        var gauss = new Plane[nOctaves, nl + 3];
        for (int oc = 0; oc < nOctaves; oc++)
            for (int i = 0; i < nl + 3; i++)
                gauss[oc, i] = oc == 0 && i == 0 ? baseImg
                    : i == 0 ? Decimate(gauss[oc - 1, nl])
                    : Blur(gauss[oc, i - 1], sig[i]);
        var dog = new Plane[nOctaves, nl + 2];
        for (int oc = 0; oc < nOctaves; oc++)
            for (int i = 0; i < nl + 2; i++)
            {
                var a = gauss[oc, i]; var b = gauss[oc, i + 1];
                var d = new float[a.Data.Length];
                for (int j = 0; j < d.Length; j++) d[j] = b.Data[j] - a.Data[j];
                dog[oc, i] = new Plane(d, a.W, a.H);
            }

        float threshold = (float)Math.Floor(0.5 * o.ContrastThreshold / nl * 255);
        var found = new List<SiftKeypoint>();
        for (int oc = 0; oc < nOctaves; oc++)
            for (int layer = 1; layer <= nl; layer++)
            {
                var cur = dog[oc, layer]; var prv = dog[oc, layer - 1]; var nxt = dog[oc, layer + 1];
                int rows = cur.H, cols = cur.W;
                for (int r = Border; r < rows - Border; r++)
                    for (int c = Border; c < cols - Border; c++)
                    {
                        float val = cur[r, c];
                        if (!(Math.Abs(val) > threshold) || !IsExtremum(val, prv, cur, nxt, r, c)) continue;
                        if (Refine(dog, oc, layer, r, c, nl, o, out var kp))
                        {
                            float scale = firstOctave < 0 ? 0.5f : 1f;
                            found.Add(kp with { X = kp.X * scale, Y = kp.Y * scale, Sigma = kp.Sigma * scale, Octave = oc + firstOctave });
                        }
                    }
            }
        // Refinement from neighbouring candidates can converge to the same (x, y, σ): keep one copy, as OpenCV's
        // removeDuplicatedSorted does (a duplicate would become an empty feature cell with W_j = 0).
        var sorted = found.OrderByDescending(p => p.Response).ThenBy(p => p.Y).ThenBy(p => p.X)
            .DistinctBy(p => (p.X, p.Y, p.Sigma)).ToList();
        if (o.MaxKeypoints > 0 && sorted.Count > o.MaxKeypoints) sorted = sorted.Take(o.MaxKeypoints).ToList();
        return sorted;
    }

    static bool IsExtremum(float val, Plane prv, Plane cur, Plane nxt, int r, int c)
    {
        if (val > 0)
        {
            for (int dr = -1; dr <= 1; dr++)
                for (int dc = -1; dc <= 1; dc++)
                {
                    if (val < prv[r + dr, c + dc] || val < nxt[r + dr, c + dc]) return false;
                    if ((dr != 0 || dc != 0) && val < cur[r + dr, c + dc]) return false;
                }
            return true;
        }
        for (int dr = -1; dr <= 1; dr++)
            for (int dc = -1; dc <= 1; dc++)
            {
                if (val > prv[r + dr, c + dc] || val > nxt[r + dr, c + dc]) return false;
                if ((dr != 0 || dc != 0) && val > cur[r + dr, c + dc]) return false;
            }
        return true;
    }

    static bool Refine(Plane[,] dog, int oc, int layer, int r, int c, int nl, SiftDetectorOptions o, out SiftKeypoint kp)
    {
        kp = default;
        const double imgScale = 1.0 / 255, derivScale = imgScale * 0.5, secondScale = imgScale, crossScale = imgScale * 0.25;
        double xi = 0, xr = 0, xc = 0;
        int step = 0;
        for (; step < MaxInterpSteps; step++)
        {
            var img = dog[oc, layer]; var prv = dog[oc, layer - 1]; var nxt = dog[oc, layer + 1];
            var (dx, dy, ds) = Gradient(img, prv, nxt, r, c, derivScale);
            double v2 = img[r, c] * 2.0;
            double dxx = (img[r, c + 1] + img[r, c - 1] - v2) * secondScale;
            double dyy = (img[r + 1, c] + img[r - 1, c] - v2) * secondScale;
            double dss = (nxt[r, c] + prv[r, c] - v2) * secondScale;
            double dxy = (img[r + 1, c + 1] - img[r + 1, c - 1] - img[r - 1, c + 1] + img[r - 1, c - 1]) * crossScale;
            double dxs = (nxt[r, c + 1] - nxt[r, c - 1] - prv[r, c + 1] + prv[r, c - 1]) * crossScale;
            double dys = (nxt[r + 1, c] - nxt[r - 1, c] - prv[r + 1, c] + prv[r - 1, c]) * crossScale;
            var x = Solve3(new[,] { { dxx, dxy, dxs }, { dxy, dyy, dys }, { dxs, dys, dss } }, new[] { dx, dy, ds });
            xc = -x[0]; xr = -x[1]; xi = -x[2];
            if (Math.Abs(xi) < 0.5 && Math.Abs(xr) < 0.5 && Math.Abs(xc) < 0.5) break;
            if (Math.Abs(xi) > int.MaxValue / 3.0 || Math.Abs(xr) > int.MaxValue / 3.0 || Math.Abs(xc) > int.MaxValue / 3.0) return false;
            c += (int)Math.Round(xc, MidpointRounding.ToEven);
            r += (int)Math.Round(xr, MidpointRounding.ToEven);
            layer += (int)Math.Round(xi, MidpointRounding.ToEven);
            if (layer < 1 || layer > nl || c < Border || c >= img.W - Border || r < Border || r >= img.H - Border) return false;
        }
        if (step >= MaxInterpSteps) return false;
        {
            var img = dog[oc, layer]; var prv = dog[oc, layer - 1]; var nxt = dog[oc, layer + 1];
            var (dx, dy, ds) = Gradient(img, prv, nxt, r, c, derivScale);
            double t = dx * xc + dy * xr + ds * xi;
            double contr = img[r, c] * imgScale + t * 0.5;
            if (Math.Abs(contr) * nl < o.ContrastThreshold) return false;
            double v2 = img[r, c] * 2.0;
            double dxx = (img[r, c + 1] + img[r, c - 1] - v2) * secondScale;
            double dyy = (img[r + 1, c] + img[r - 1, c] - v2) * secondScale;
            double dxy = (img[r + 1, c + 1] - img[r + 1, c - 1] - img[r - 1, c + 1] + img[r - 1, c - 1]) * crossScale;
            double tr = dxx + dyy, det = dxx * dyy - dxy * dxy;
            double e = o.EdgeThreshold;
            if (det <= 0 || tr * tr * e >= (e + 1) * (e + 1) * det) return false;
            double octScale = Math.Pow(2, oc);
            kp = new SiftKeypoint(
                (float)((c + xc) * octScale), (float)((r + xr) * octScale),
                (float)(o.Sigma * Math.Pow(2, (layer + xi) / nl) * octScale),
                (float)Math.Abs(contr), oc, (float)(layer + xi));
            return true;
        }
    }

    static (double dx, double dy, double ds) Gradient(Plane img, Plane prv, Plane nxt, int r, int c, double s) =>
        ((img[r, c + 1] - img[r, c - 1]) * s, (img[r + 1, c] - img[r - 1, c]) * s, (nxt[r, c] - prv[r, c]) * s);

    /// <summary>Solves H x = b by Gaussian elimination with partial pivoting; a singular H gives x = 0 (as cv::solve's failure).</summary>
    static double[] Solve3(double[,] a, double[] b)
    {
        var m = (double[,])a.Clone(); var v = (double[])b.Clone();
        for (int col = 0; col < 3; col++)
        {
            int piv = col;
            for (int i = col + 1; i < 3; i++) if (Math.Abs(m[i, col]) > Math.Abs(m[piv, col])) piv = i;
            if (Math.Abs(m[piv, col]) < 1e-300) return new double[3];
            if (piv != col)
            {
                for (int j = 0; j < 3; j++) (m[col, j], m[piv, j]) = (m[piv, j], m[col, j]);
                (v[col], v[piv]) = (v[piv], v[col]);
            }
            for (int i = col + 1; i < 3; i++)
            {
                double f = m[i, col] / m[col, col];
                for (int j = col; j < 3; j++) m[i, j] -= f * m[col, j];
                v[i] -= f * v[col];
            }
        }
        var x = new double[3];
        for (int i = 2; i >= 0; i--)
        {
            double s = v[i];
            for (int j = i + 1; j < 3; j++) s -= m[i, j] * x[j];
            x[i] = s / m[i, i];
        }
        return x;
    }

    /// <summary>A grey plane, row-major.</summary>
    sealed class Plane(float[] data, int w, int h)
    {
        public readonly float[] Data = data;
        public readonly int W = w, H = h;
        public float this[int r, int c] => Data[r * W + c];
    }

    /// <summary>Bilinear 2× upsampling with pixel-centre alignment (src = (dst+0.5)/2 − 0.5, clamped), as cv::resize INTER_LINEAR.</summary>
    static Plane Upsample2(Plane p)
    {
        int w2 = p.W * 2, h2 = p.H * 2;
        var d = new float[w2 * h2];
        var x0 = new int[w2]; var x1 = new int[w2]; var fx = new float[w2];
        for (int x = 0; x < w2; x++) Coord(x, p.W, out x0[x], out x1[x], out fx[x]);
        for (int y = 0; y < h2; y++)
        {
            Coord(y, p.H, out int y0, out int y1, out float fy);
            for (int x = 0; x < w2; x++)
            {
                float top = p[y0, x0[x]] * (1 - fx[x]) + p[y0, x1[x]] * fx[x];
                float bot = p[y1, x0[x]] * (1 - fx[x]) + p[y1, x1[x]] * fx[x];
                d[y * w2 + x] = top * (1 - fy) + bot * fy;
            }
        }
        return new Plane(d, w2, h2);

        static void Coord(int dst, int n, out int i0, out int i1, out float f)
        {
            float s = (dst + 0.5f) * 0.5f - 0.5f;
            int i = (int)Math.Floor(s);
            f = s - i;
            if (i < 0) { i = 0; f = 0; }
            if (i >= n - 1) { i = n - 1; f = 0; }
            i0 = i; i1 = Math.Min(i + 1, n - 1);
        }
    }

    /// <summary>Nearest-neighbour halving (cv::resize INTER_NEAREST to ⌊w/2⌋×⌊h/2⌋: src = ⌊dst·src_size/dst_size⌋).</summary>
    static Plane Decimate(Plane p)
    {
        int w2 = p.W / 2, h2 = p.H / 2;
        var d = new float[w2 * h2];
        double sx = (double)p.W / w2, sy = (double)p.H / h2;
        for (int y = 0; y < h2; y++)
        {
            int yy = Math.Min((int)Math.Floor(y * sy), p.H - 1);
            for (int x = 0; x < w2; x++) d[y * w2 + x] = p[yy, Math.Min((int)Math.Floor(x * sx), p.W - 1)];
        }
        return new Plane(d, w2, h2);
    }

    /// <summary>
    /// The Gaussian blur of cv::GaussianBlur on float images (ksize = round(8σ+1)|1, float32 taps, reflect-101 border,
    /// rows then columns): <see cref="GaussianKernel.OpenCv"/> through <see cref="Gaussian.BlurPlane"/>. The detector keeps
    /// OpenCV's integer-rounded kernel size and border rather than the library's ⌈3σ⌉/replicate default because its
    /// keypoints are compared with OpenCV's SIFT (<see cref="OpenCvSiftReference"/>): the 3×3×3 extremum tests and the
    /// contrast threshold flip on differences far below what a different kernel support makes.
    /// </summary>
    static Plane Blur(Plane p, double sigma) =>
        new(Gaussian.BlurPlane(p.Data, p.W, p.H, GaussianKernel.OpenCv(sigma), BlurBorder.Reflect101), p.W, p.H);
}
