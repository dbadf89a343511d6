using System.Globalization;
using System.Text;
using Plotly.NET;
using XaiLab.Saliency.Evaluation.Sweeps;
using PlotlyChart = Plotly.NET.CSharp.Chart;

namespace XaiLab.Interactive;

/// <summary>
/// Displays a <see cref="SweepTable"/> in notebooks: a table sortable by any column (click a header; click again to
/// reverse), followed by the chart a reader wants for the grid — the primary metric against a numeric axis (one curve
/// per combination of the other axes), or bars per setting when no axis is numeric — and, for ablation-path sweeps,
/// violins of the path scores per setting (Figs 2.10/2.11). <see cref="Chart"/>, <see cref="Bars"/>, <see cref="Lines"/>
/// and <see cref="Violins"/> draw any other metric or sample.
/// </summary>
public static class SweepView
{
    static int _tables;

    /// <summary>The notebook view: header line, sortable table, default chart and (when samples exist) violins.</summary>
    public static string ToHtml(SweepTable table)
    {
        var sb = new StringBuilder();
        sb.Append("<div style=\"font:13px sans-serif\"><b>").Append(Html.Escape(table.Title)).Append("</b> — ")
          .Append(table.Rows.Count).Append(" points, ").Append(table.Computed == 0 ? "all from the cache" : $"{table.Computed} images computed now")
          .Append(", cache <code>").Append(Html.Escape(table.Root)).Append("</code></div>");
        sb.Append(Table(table));
        if (table.Rows.Count > 1) sb.Append(PlotlyEmbedding.ChartHtml(Chart(table)));
        if (table.SampleNames.Contains("score") && table.Rows.Count > 1) sb.Append(PlotlyEmbedding.ChartHtml(Violins(table, "score")));
        return sb.ToString();
    }

    /// <summary>An HTML table (axes, then metrics) that sorts by a column when its header is clicked (numbers numerically).</summary>
    public static string Table(SweepTable table)
    {
        var id = $"xailab-sweep-{Environment.ProcessId}-{Interlocked.Increment(ref _tables)}";
        var header = table.Axes.Concat(table.Metrics).ToArray();
        var sb = new StringBuilder($"<table id=\"{id}\" style=\"border-collapse:collapse;font:12px sans-serif;margin:6px 0\"><thead><tr>");
        for (int i = 0; i < header.Length; i++)
            sb.Append($"<th data-col=\"{i}\" style=\"cursor:pointer;border-bottom:1px solid #888;padding:2px 8px;text-align:{(i < table.Axes.Count ? "left" : "right")}\" title=\"click to sort\">")
              .Append(Html.Escape(header[i])).Append(" ⇅</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var r in table.Rows)
        {
            sb.Append("<tr>");
            foreach (var s in r.Settings) sb.Append("<td style=\"padding:2px 8px\">").Append(Html.Escape(s.Value)).Append("</td>");
            foreach (var m in table.Metrics)
            {
                var v = SweepTable.Value(r, m);
                var text = double.IsNaN(v) ? "–" : v.ToString(Math.Abs(v - Math.Round(v)) < 1e-9 ? "0" : "0.00", CultureInfo.InvariantCulture);
                sb.Append($"<td data-v=\"{(double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture))}\" style=\"padding:2px 8px;text-align:right\">{text}</td>");
            }
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        sb.Append("<script type=\"text/javascript\">(function(){var t=document.getElementById('").Append(id).Append("');if(!t)return;")
          .Append("t.querySelectorAll('th').forEach(function(th){th.addEventListener('click',function(){var c=+th.dataset.col;var asc=th.dataset.asc!=='1';")
          .Append("t.querySelectorAll('th').forEach(function(h){h.dataset.asc='';});th.dataset.asc=asc?'1':'0';var b=t.tBodies[0];")
          .Append("var rows=Array.prototype.slice.call(b.rows);rows.sort(function(x,y){var a=x.cells[c],d=y.cells[c];")
          .Append("var va=a.dataset.v!==undefined&&a.dataset.v!==''?parseFloat(a.dataset.v):null,vd=d.dataset.v!==undefined&&d.dataset.v!==''?parseFloat(d.dataset.v):null;")
          .Append("var r=(va!==null&&vd!==null)?va-vd:(va===null&&vd!==null?1:(vd===null&&va!==null?-1:a.textContent.localeCompare(d.textContent,undefined,{numeric:true})));")
          .Append("return asc?r:-r;});rows.forEach(function(r){b.appendChild(r);});});});})();</script>");
        return sb.ToString();
    }

    /// <summary>
    /// The default chart of <paramref name="metric"/> (default: the primary one): against the first numeric axis with at
    /// least two values, one curve per combination of the other axes; bars per setting otherwise.
    /// </summary>
    public static GenericChart Chart(SweepTable table, string? metric = null)
    {
        var numeric = table.Axes.Where((a, i) => table.Rows.All(r => IsNumber(r.Values[i])) && table.Rows.Select(r => r.Setting(a)).Distinct().Count() > 1).ToArray();
        return numeric.Length > 0 ? Lines(table, numeric[0], metric) : Bars(table, metric);
    }

    /// <summary>Bars of <paramref name="metric"/> per point (labelled by its settings).</summary>
    public static GenericChart Bars(SweepTable table, string? metric = null)
    {
        var m = CheckMetric(table, metric);
        return Charts.Bars(table.Rows.Select(r => r.Label), table.Rows.Select(r => SweepTable.Value(r, m)), m, table.Title);
    }

    /// <summary><paramref name="metric"/> against numeric axis <paramref name="axis"/>, one curve per combination of the other axes.</summary>
    /// <exception cref="ArgumentException">Unknown axis or metric, or a non-numeric axis.</exception>
    public static GenericChart Lines(SweepTable table, string axis, string? metric = null)
    {
        var m = CheckMetric(table, metric);
        int ai = table.Axes.ToList().IndexOf(axis);
        if (ai < 0) throw new ArgumentException($"Sweep table has no axis '{axis}'; axes: {string.Join(", ", table.Axes)}.");
        if (!table.Rows.All(r => IsNumber(r.Values[ai]))) throw new ArgumentException($"Axis '{axis}' is not numeric; use Bars.");
        var groups = table.Rows.GroupBy(r => string.Join(", ", r.Settings.Where(s => s.Key != axis).Select(s => $"{s.Key}={s.Value}")));
        var charts = groups.Select(g =>
        {
            var pts = g.Select(r => (X: Convert.ToDouble(r.Values[ai], CultureInfo.InvariantCulture), Y: SweepTable.Value(r, m))).OrderBy(p => p.X).ToArray();
            var name = g.Key.Length == 0 ? m : g.Key;
            return PlotlyChart.Line<double, double, string>(x: pts.Select(p => p.X).ToArray(), y: pts.Select(p => p.Y).ToArray(), Name: name, ShowLegend: true);
        });
        var c = Plotly.NET.CSharp.GenericChartExtensions.WithSize(PlotlyChart.Combine(charts), Width: 720, Height: 420);
        c = Plotly.NET.CSharp.GenericChartExtensions.WithXAxisStyle<double, double, string>(c, TitleText: axis);
        c = Plotly.NET.CSharp.GenericChartExtensions.WithYAxisStyle<double, double, string>(c, TitleText: m);
        return Plotly.NET.Chart.withTitle(table.Title, Microsoft.FSharp.Core.FSharpOption<Font>.None).Invoke(c);
    }

    /// <summary>Violins of per-trial <paramref name="sample"/> values, one per point (e.g. the path score per σ, Fig 2.10).</summary>
    public static GenericChart Violins(SweepTable table, string sample = "score")
    {
        if (!table.SampleNames.Contains(sample)) throw new ArgumentException($"Sweep table has no sample '{sample}'; samples: {string.Join(", ", table.SampleNames)}.");
        var data = table.Rows.Where(r => r.Samples.ContainsKey(sample)).ToDictionary(r => r.Label, r => r.Samples[sample]);
        return Charts.Violins(data, sample, $"{table.Title}: {sample} per setting");
    }

    static string CheckMetric(SweepTable table, string? metric)
    {
        var m = metric ?? table.Metrics[0];
        if (!table.Metrics.Contains(m)) throw new ArgumentException($"Sweep table has no metric '{m}'; metrics: {string.Join(", ", table.Metrics)}.");
        return m;
    }

    static bool IsNumber(object? v) => v is double or float or int or long or short or decimal;
}
