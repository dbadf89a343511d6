using System.Text;
using Plotly.NET;

namespace XaiLab.Interactive;

/// <summary>
/// Renders Plotly.NET charts as HTML that draws offline: plotly.js (shipped inside Plotly.NET's assembly) is embedded
/// in the first chart of a session, and every chart waits for <c>window.Plotly</c>. The script is wrapped so that
/// require.js (classic Jupyter) does not capture it as an AMD module.
/// </summary>
public static class PlotlyEmbedding
{
    static string? _script;
    static int _embedded;
    static int _counter;

    /// <summary>The plotly.min.js source (≈3.6 MB) from Plotly.NET's embedded resource.</summary>
    public static string PlotlyScript => _script ??= LoadScript();

    /// <summary>Forget that plotly.js was embedded (a new notebook, a new page).</summary>
    public static void ResetSession() => Interlocked.Exchange(ref _embedded, 0);

    /// <summary>A <c>&lt;script&gt;</c> element that defines <c>window.Plotly</c> without leaking to AMD loaders.</summary>
    public static string ScriptTag() =>
        "<script type=\"text/javascript\" data-xailab-plotly=\"1\">(function(define, module, exports){\n" + PlotlyScript +
        "\n})(undefined, undefined, undefined);</script>";

    /// <summary>HTML for one chart: a div plus a script that draws it once plotly.js is available.</summary>
    public static string ChartHtml(GenericChart chart, int height = 420)
    {
        var json = GenericChart.toFigureJson(chart);
        var id = $"xailab-plot-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";
        var sb = new StringBuilder();
        if (Interlocked.Exchange(ref _embedded, 1) == 0) sb.Append(ScriptTag());
        sb.Append($"<div id=\"{id}\" class=\"xl-plotly\" style=\"width:100%;min-height:{height}px\"></div>");
        sb.Append("<script type=\"text/javascript\">(function(){var fig=").Append(json).Append(';');
        // Size to the box: a fixed layout width becomes the box's maximum width and the chart autosizes within it; in a
        // narrow box the legend of several series goes below the plot, so that neither legend nor plot is cut.
        sb.Append($"var el=document.getElementById('{id}');var L=fig.layout||{{}};");
        sb.Append("if(L.width){el.style.maxWidth=L.width+'px';delete L.width;}L.autosize=true;if(L.height){el.style.minHeight=L.height+'px';}");
        sb.Append("var named=(fig.data||[]).filter(function(d){return d.showlegend!==false&&d.name;}).length;");
        sb.Append("if(named>1&&el.clientWidth>0&&el.clientWidth<620){L.legend=Object.assign({orientation:'h',x:0,xanchor:'left',y:-0.2,yanchor:'top'},L.legend||{});");
        sb.Append("L.margin=Object.assign({l:60,r:10,t:50,b:50+18*Math.ceil(named/2)},L.margin||{});if(L.height){L.height=L.height+18*Math.ceil(named/2);el.style.minHeight=L.height+'px';}}");
        sb.Append("var n=0;function draw(){if(typeof window.Plotly==='undefined'){if(n++<200)setTimeout(draw,50);return;}");
        sb.Append($"window.Plotly.newPlot(el,fig.data,L,{{responsive:true,displaylogo:false}});}}draw();}})();</script>");
        return sb.ToString();
    }

    static string LoadScript()
    {
        var asm = typeof(GenericChart).Assembly;
        var name = asm.GetManifestResourceNames().FirstOrDefault(n => n.EndsWith(".min.js", StringComparison.Ordinal))
                   ?? throw new InvalidOperationException("Plotly.NET does not carry plotly.min.js as a resource; cannot render charts offline.");
        using var s = asm.GetManifestResourceStream(name)!;
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}
