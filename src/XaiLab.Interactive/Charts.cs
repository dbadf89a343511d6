using Plotly.NET;
using PlotlyChart = Plotly.NET.CSharp.Chart;

namespace XaiLab.Interactive;

/// <summary>
/// Small chart helpers over Plotly.NET.CSharp for the notebooks: curves, several named curves, bars and violins.
/// The returned <see cref="GenericChart"/> displays through XaiLab's offline formatter; Plotly.NET's own API
/// (<c>Plotly.NET.CSharp.Chart</c>) is available for anything else.
/// </summary>
public static class Charts
{
    /// <summary>One curve y(x).</summary>
    public static GenericChart Line(IEnumerable<double> x, IEnumerable<double> y, string name = "", string? xTitle = null, string? yTitle = null, string? title = null) =>
        Style(PlotlyChart.Line<double, double, string>(x: x.ToArray(), y: y.ToArray(), Name: name, ShowLegend: name.Length > 0), xTitle, yTitle, title);

    /// <summary>Several named curves over a shared x.</summary>
    public static GenericChart Lines(IEnumerable<double> x, IReadOnlyDictionary<string, IReadOnlyList<double>> series, string? xTitle = null, string? yTitle = null, string? title = null)
    {
        var xs = x.ToArray();
        var charts = series.Select(kv => PlotlyChart.Line<double, double, string>(x: xs, y: kv.Value.ToArray(), Name: kv.Key, ShowLegend: true));
        return Style(PlotlyChart.Combine(charts), xTitle, yTitle, title);
    }

    /// <summary>A bar chart of named values.</summary>
    public static GenericChart Bars(IEnumerable<string> names, IEnumerable<double> values, string? yTitle = null, string? title = null) =>
        Style(PlotlyChart.Column<double, string, string>(values: values.ToArray(), Keys: names.ToArray()), null, yTitle, title);

    /// <summary>Violins of several named samples side by side (e.g. path scores per σ, Fig 2.10).</summary>
    public static GenericChart Violins(IReadOnlyDictionary<string, IReadOnlyList<double>> samples, string? yTitle = null, string? title = null)
    {
        var charts = samples.Select(kv => PlotlyChart.Violin<string, double, string>(
            X: Enumerable.Repeat(kv.Key, kv.Value.Count).ToArray(), Y: kv.Value.ToArray(), Name: kv.Key, ShowLegend: false));
        return Style(PlotlyChart.Combine(charts), null, yTitle, title);
    }

    static GenericChart Style(GenericChart c, string? xTitle, string? yTitle, string? title)
    {
        c = Plotly.NET.CSharp.GenericChartExtensions.WithSize(c, Width: 640, Height: 400);
        if (xTitle is not null) c = Plotly.NET.CSharp.GenericChartExtensions.WithXAxisStyle<double, double, string>(c, TitleText: xTitle);
        if (yTitle is not null) c = Plotly.NET.CSharp.GenericChartExtensions.WithYAxisStyle<double, double, string>(c, TitleText: yTitle);
        if (title is not null) c = Plotly.NET.Chart.withTitle(title, Microsoft.FSharp.Core.FSharpOption<Font>.None).Invoke(c);
        return c;
    }
}
