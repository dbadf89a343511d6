using System.Globalization;
using System.Text;

namespace XaiLab.Interactive;

/// <summary>One named series of a chart.</summary>
/// <param name="Name">Legend text.</param>
/// <param name="Values">One value per x (line charts) or per category (bar charts); NaN and ±∞ are gaps.</param>
public sealed record Series(string Name, IReadOnlyList<double> Values);

/// <summary>
/// Small inline-SVG charts for the result formatters: compact, offline (no script, no external resource), and sized to
/// their box (a <c>viewBox</c> with <c>width:100%</c> up to the natural width), with the legend as wrapping HTML below the
/// plot so that it is never cut. Plotly charts (<see cref="Charts"/>) are the interactive alternative for notebooks.
/// </summary>
public static class SvgCharts
{
    /// <summary>The category-10 palette: distinguishable colours on white.</summary>
    public static readonly string[] Palette = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" };

    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Line chart of several series over a shared x.</summary>
    /// <param name="title">Shown above the plot (null: none).</param>
    /// <param name="x">The x values, ascending.</param>
    /// <param name="series">Each with one value per x.</param>
    /// <param name="logY">Logarithmic y axis (values ≤ 0 are gaps).</param>
    /// <param name="width">Natural width in pixels (the chart shrinks to narrower boxes).</param>
    /// <exception cref="ArgumentException">A series has another length than x.</exception>
    /// <param name="xLabel">Label of the x axis (null: none).</param>
    /// <param name="yLabel">Label of the y axis (null: none).</param>
    /// <param name="height">Natural height in pixels.</param>
    /// <param name="markers">Draw a dot at every point.</param>
    public static string Lines(string? title, IReadOnlyList<double> x, IReadOnlyList<Series> series, string? xLabel = null, string? yLabel = null,
        bool logY = false, int width = 360, int height = 210, bool markers = true)
    {
        foreach (var s in series)
            if (s.Values.Count != x.Count) throw new ArgumentException($"Series '{s.Name}' has {s.Values.Count} values for {x.Count} x values.");
        double Ty(double v) => logY ? (v > 0 ? Math.Log10(v) : double.NaN) : v;
        var ys = series.SelectMany(s => s.Values).Select(Ty).Where(double.IsFinite).ToArray();
        var xs = x.Where(double.IsFinite).ToArray();
        const int left = 48, right = 10, top = 8, bottom = 34;
        int pw = width - left - right, ph = height - top - bottom;
        var sb = new StringBuilder();
        Begin(sb, title, width, height);
        if (ys.Length == 0 || xs.Length == 0)
        {
            sb.Append($"<text x=\"{width / 2}\" y=\"{height / 2}\" text-anchor=\"middle\" fill=\"#999\">no finite values</text></svg>");
            return End(sb, series, Array.Empty<string>());
        }
        var (x0, x1, xt) = Ticks(xs.Min(), xs.Max(), 6, integer: xs.All(v => v == Math.Round(v)));
        var (y0, y1, yt) = logY ? LogTicks(ys.Min(), ys.Max()) : Ticks(ys.Min(), ys.Max(), 5);
        double X(double v) => left + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * pw;
        double Y(double v) => top + (1 - (y1 > y0 ? (v - y0) / (y1 - y0) : 0.5)) * ph;
        sb.Append(F($"<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"#fcfcfc\" stroke=\"#ccc\"/>"));
        foreach (var t in yt)
            sb.Append(F($"<line x1=\"{left}\" x2=\"{left + pw}\" y1=\"{Y(t):F1}\" y2=\"{Y(t):F1}\" stroke=\"#eee\"/><text x=\"{left - 3}\" y=\"{Y(t) + 3:F1}\" text-anchor=\"end\">{Esc(logY ? Num(Math.Pow(10, t)) : Num(t))}</text>"));
        foreach (var t in xt)
            sb.Append(F($"<line x1=\"{X(t):F1}\" x2=\"{X(t):F1}\" y1=\"{top + ph}\" y2=\"{top + ph + 3}\" stroke=\"#999\"/><text x=\"{X(t):F1}\" y=\"{top + ph + 13}\" text-anchor=\"middle\">{Esc(Num(t))}</text>"));
        AxisLabels(sb, xLabel, yLabel, left, top, pw, ph, height);
        for (int k = 0; k < series.Count; k++)
        {
            var c = Palette[k % Palette.Length];
            var run = new List<string>();
            void Flush()
            {
                if (run.Count > 1) sb.Append($"<polyline points=\"{string.Join(" ", run)}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.8\"/>");
                run.Clear();
            }
            for (int i = 0; i < x.Count; i++)
            {
                double v = Ty(series[k].Values[i]);
                if (!double.IsFinite(v) || !double.IsFinite(x[i])) { Flush(); continue; }
                run.Add(F($"{X(x[i]):F1},{Y(v):F1}"));
                if (markers && x.Count <= 60) sb.Append(F($"<circle cx=\"{X(x[i]):F1}\" cy=\"{Y(v):F1}\" r=\"2.2\" fill=\"{c}\"><title>{Esc(series[k].Name)}: {Esc(Num(x[i]))}, {Esc(Num(series[k].Values[i]))}</title></circle>"));
            }
            Flush();
        }
        sb.Append("</svg>");
        return End(sb, series.Count > 1 ? series : Array.Empty<Series>(), Array.Empty<string>());
    }

    /// <summary>
    /// Horizontal grouped bar chart: one row per category (so long names stay readable), one bar per series in each row,
    /// the value written at the bar's end.
    /// </summary>
    /// <param name="valueFormat">Format of the printed values (e.g. "F1").</param>
    /// <param name="max">The value axis' end (null: the largest value).</param>
    /// <exception cref="ArgumentException">A series has another length than the categories.</exception>
    /// <param name="title">Shown above the chart (null: none).</param>
    /// <param name="categories">One row per category, top to bottom.</param>
    /// <param name="series">Each with one value per category.</param>
    /// <param name="valueLabel">Label of the value axis (null: none).</param>
    /// <param name="width">Natural width in pixels (the chart shrinks to narrower boxes).</param>
    public static string Bars(string? title, IReadOnlyList<string> categories, IReadOnlyList<Series> series, string? valueLabel = null,
        string valueFormat = "G3", double? max = null, int width = 420)
    {
        foreach (var s in series)
            if (s.Values.Count != categories.Count) throw new ArgumentException($"Series '{s.Name}' has {s.Values.Count} values for {categories.Count} categories.");
        int labelW = Math.Clamp(categories.Select(c => c.Length).DefaultIfEmpty(4).Max() * 6 + 8, 40, 190);
        const int bar = 11, gap = 7, top = 4, bottom = 30, right = 46;
        int rowH = Math.Max(1, series.Count) * bar + gap;
        int height = top + bottom + categories.Count * rowH;
        int pw = Math.Max(80, width - labelW - right);
        var vals = series.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
        double lo = Math.Min(0, vals.DefaultIfEmpty(0).Min()), hi = max ?? Math.Max(0, vals.DefaultIfEmpty(1).Max());
        var (v0, v1, ticks) = Ticks(lo, hi > lo ? hi : lo + 1, 5);
        double X(double v) => labelW + (v - v0) / (v1 - v0) * pw;
        var sb = new StringBuilder();
        Begin(sb, title, width, height);
        foreach (var t in ticks)
            sb.Append(F($"<line x1=\"{X(t):F1}\" x2=\"{X(t):F1}\" y1=\"{top}\" y2=\"{height - bottom}\" stroke=\"#eee\"/><text x=\"{X(t):F1}\" y=\"{height - bottom + 12}\" text-anchor=\"middle\">{Esc(Num(t))}</text>"));
        if (valueLabel is not null) sb.Append(F($"<text x=\"{labelW + pw / 2}\" y=\"{height - 4}\" text-anchor=\"middle\" fill=\"#444\">{Esc(valueLabel)}</text>"));
        for (int i = 0; i < categories.Count; i++)
        {
            double y = top + i * rowH;
            sb.Append(F($"<text x=\"{labelW - 4}\" y=\"{y + rowH / 2.0:F1}\" text-anchor=\"end\" dominant-baseline=\"middle\">{Esc(Clip(categories[i], 32))}<title>{Esc(categories[i])}</title></text>"));
            for (int k = 0; k < series.Count; k++)
            {
                double v = series[k].Values[i];
                double yb = y + k * bar;
                if (!double.IsFinite(v)) { sb.Append(F($"<text x=\"{X(0) + 3:F1}\" y=\"{yb + bar - 2:F1}\" fill=\"#999\">–</text>")); continue; }
                double xa = X(Math.Min(0, v)), xb = X(Math.Max(0, v));
                sb.Append(F($"<rect x=\"{xa:F1}\" y=\"{yb:F1}\" width=\"{Math.Max(0.5, xb - xa):F1}\" height=\"{bar - 1}\" fill=\"{Palette[k % Palette.Length]}\"><title>{Esc(series[k].Name)} · {Esc(categories[i])}: {Esc(v.ToString(valueFormat, Inv))}</title></rect>"));
                sb.Append(F($"<text x=\"{xb + 3:F1}\" y=\"{yb + bar - 2:F1}\" fill=\"#333\">{Esc(v.ToString(valueFormat, Inv))}</text>"));
            }
        }
        sb.Append(F($"<line x1=\"{X(0):F1}\" x2=\"{X(0):F1}\" y1=\"{top}\" y2=\"{height - bottom}\" stroke=\"#666\"/>"));
        sb.Append("</svg>");
        return End(sb, series.Count > 1 ? series : Array.Empty<Series>(), Array.Empty<string>());
    }

    static void Begin(StringBuilder sb, string? title, int width, int height)
    {
        sb.Append(F($"<div class=\"xl-chart\" style=\"display:inline-block;vertical-align:top;width:100%;max-width:{width}px;margin:4px;font:11px sans-serif\">"));
        if (title is not null) sb.Append($"<div style=\"font-weight:bold;font-size:12px;margin-bottom:2px\">{Esc(title)}</div>");
        sb.Append(F($"<svg viewBox=\"0 0 {width} {height}\" style=\"width:100%;height:auto;font:10px sans-serif;display:block\">"));
    }

    static string End(StringBuilder sb, IReadOnlyList<Series> legend, IReadOnlyList<string> notes)
    {
        if (legend.Count > 0)
        {
            sb.Append("<div style=\"display:flex;flex-wrap:wrap;gap:2px 10px;margin-top:2px\">");
            for (int k = 0; k < legend.Count; k++)
                sb.Append($"<span><span style=\"display:inline-block;width:10px;height:10px;background:{Palette[k % Palette.Length]};margin-right:3px;vertical-align:-1px\"></span>{Esc(legend[k].Name)}</span>");
            sb.Append("</div>");
        }
        foreach (var n in notes) sb.Append($"<div style=\"color:#666\">{Esc(n)}</div>");
        return sb.Append("</div>").ToString();
    }

    static void AxisLabels(StringBuilder sb, string? xLabel, string? yLabel, int left, int top, int pw, int ph, int height)
    {
        if (xLabel is not null) sb.Append(F($"<text x=\"{left + pw / 2}\" y=\"{height - 4}\" text-anchor=\"middle\" fill=\"#444\">{Esc(xLabel)}</text>"));
        if (yLabel is not null) sb.Append(F($"<text transform=\"translate(10,{top + ph / 2}) rotate(-90)\" text-anchor=\"middle\" fill=\"#444\">{Esc(Clip(yLabel, 40))}<title>{Esc(yLabel)}</title></text>"));
    }

    /// <summary>Round axis ticks covering [lo, hi] (about <paramref name="n"/> of them) and the axis range they span.</summary>
    /// <param name="integer">Only whole-number ticks (e.g. epochs, stages).</param>
    /// <param name="lo">Lower end of the data range.</param>
    /// <param name="hi">Upper end of the data range.</param>
    /// <param name="n">About how many ticks.</param>
    public static (double Lo, double Hi, double[] Ticks) Ticks(double lo, double hi, int n, bool integer = false)
    {
        if (!(hi > lo)) { double d = Math.Abs(lo) > 0 ? Math.Abs(lo) * 0.1 : 1; lo -= d; hi += d; }
        double raw = (hi - lo) / Math.Max(1, n);
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1, 2, 2.5, 5, 10 }.Select(m => m * mag).First(s => s >= raw);
        if (integer) step = Math.Max(1, Math.Ceiling(step));
        double a = Math.Floor(lo / step + 1e-9) * step, b = Math.Ceiling(hi / step - 1e-9) * step;
        var t = new List<double>();
        for (double v = a; v <= b + step * 1e-6; v += step) t.Add(Math.Abs(v) < step * 1e-9 ? 0 : v);
        return (a, b, t.ToArray());
    }

    static (double, double, double[]) LogTicks(double lo, double hi)
    {
        double a = Math.Floor(lo), b = Math.Ceiling(hi);
        if (b <= a) b = a + 1;
        int every = (int)Math.Ceiling((b - a) / 6);
        var t = new List<double>();
        for (double v = a; v <= b; v += every) t.Add(v);
        return (a, b, t.ToArray());
    }

    /// <summary>A compact number for axes and tables: 3 significant digits, exponent form for very small or large values.</summary>
    public static string Num(double v)
    {
        if (double.IsNaN(v)) return "NaN";
        if (double.IsInfinity(v)) return v > 0 ? "∞" : "−∞";
        double a = Math.Abs(v);
        if (a == 0) return "0";
        if (a >= 1e5 || a < 1e-3) return v.ToString("0.##E+0", Inv);
        if (a >= 100) return Math.Round(v).ToString("F0", Inv);
        return v.ToString("G3", Inv);
    }

    static string Clip(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
    static string Esc(string s) => System.Net.WebUtility.HtmlEncode(s);
    static string F(FormattableString s) => s.ToString(Inv);
}
