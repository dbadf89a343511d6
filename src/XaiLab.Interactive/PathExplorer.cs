using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Visual;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>One path of an explorer: the images and masks along it and the classifier's view of each point.</summary>
/// <param name="Label">E.g. "φ" or "φ↑ (retaining)".</param>
/// <param name="Frames">Images x(t) <c>[N,C,H,W]</c> at the N explorer times (ends included), in [0,1].</param>
/// <param name="Masks">Masks φ(t) <c>[N,h,w]</c> in [0,1] (1 = ablated), or null for non-spatial bases.</param>
/// <param name="Score">F(x(t)) of the explained class at each time.</param>
/// <param name="Top">The top classes (name, score) at each time, best first.</param>
public sealed record PathTrack(string Label, Tensor Frames, Tensor? Masks, double[] Score, IReadOnlyList<IReadOnlyList<(string Class, double Score)>> Top);

/// <summary>
/// An interactive path explorer: a slider over t shows, for each track, the masked image, the mask and the top
/// classes at that t, beside the score curve along the path with the current t marked. Self-contained HTML (inline
/// PNGs, inline SVG, a few lines of script), so it works offline in Jupyter, VS Code and the pages of <c>reproduce</c>.
/// </summary>
public sealed record PathExplorer(string Title, double[] Times, IReadOnlyList<PathTrack> Tracks,
    IReadOnlyList<KeyValuePair<string, string>> Diagnostics, IReadOnlyList<object> Extras, string ScoreLabel = "F(x(t))", int ImageWidth = 176)
{
    static readonly string[] Colours = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd" };
    static int _counter;

    /// <summary>Checks shapes; an explorer with inconsistent tracks is an error that names the track.</summary>
    public void Validate()
    {
        if (Tracks.Count == 0) throw new ArgumentException("A path explorer needs at least one track.");
        foreach (var t in Tracks)
        {
            if (t.Frames.dim() != 4 || t.Frames.shape[0] != Times.Length)
                throw new ArgumentException($"Track '{t.Label}': frames must be [{Times.Length},C,H,W]; got [{string.Join(",", t.Frames.shape)}].");
            if (t.Masks is not null && (t.Masks.dim() != 3 || t.Masks.shape[0] != Times.Length))
                throw new ArgumentException($"Track '{t.Label}': masks must be [{Times.Length},h,w]; got [{string.Join(",", t.Masks.shape)}].");
            if (t.Score.Length != Times.Length || t.Top.Count != Times.Length)
                throw new ArgumentException($"Track '{t.Label}': {Times.Length} scores and top-class lists expected.");
        }
    }

    /// <summary>The explorer as one self-contained HTML fragment (inline images, script and styles; no external resources).</summary>
    public string ToHtml()
    {
        Validate();
        var id = $"xl-exp-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append($"<div id=\"{id}\" style=\"font:12px sans-serif;border:1px solid #ddd;padding:8px;display:inline-block\">");
        sb.Append($"<div style=\"font-weight:bold;font-size:13px;margin-bottom:6px\">{Html.Escape(Title)}</div>");
        sb.Append("<div style=\"display:flex;gap:14px;align-items:flex-start;flex-wrap:wrap\">");
        var data = new List<object>();
        for (int k = 0; k < Tracks.Count; k++)
        {
            var tr = Tracks[k];
            var frames = Enumerable.Range(0, Times.Length).Select(i => DataUri(tr.Frames[i])).ToArray();
            var masks = tr.Masks is null ? null : Enumerable.Range(0, Times.Length).Select(i => DataUri(Colormap.Gray.Apply(tr.Masks[i], 0, 1))).ToArray();
            var top = tr.Top.Select(list => list.Select(c => double.IsNaN(c.Score) ? c.Class : $"{c.Class} {c.Score:F3}").ToArray()).ToArray();
            data.Add(new { frames, masks, top, score = tr.Score.Select(v => double.IsFinite(v) ? v : 0).ToArray() });
            sb.Append($"<div><div style=\"color:{Colours[k % Colours.Length]};font-weight:bold\">{Html.Escape(tr.Label)}</div>");
            sb.Append($"<img id=\"{id}-f{k}\" style=\"width:{ImageWidth}px;image-rendering:pixelated;display:block\" title=\"x(t)\"/>");
            if (masks is not null) sb.Append($"<img id=\"{id}-m{k}\" style=\"width:{ImageWidth}px;image-rendering:pixelated;display:block;margin-top:2px\" title=\"φ(t), white = ablated\"/>" +
                Html.ColourBar("gray", 0, 1, ImageWidth) + "<div style=\"font:10px sans-serif;color:#666;text-align:center\">φ(t): 1 = ablated</div>");
            sb.Append($"<ol id=\"{id}-t{k}\" style=\"margin:4px 0 0 0;padding-left:18px;font:11px monospace\"></ol></div>");
        }
        sb.Append(CurveSvg(id));
        sb.Append("</div>");
        sb.Append($"<div style=\"margin-top:6px\"><button id=\"{id}-play\" type=\"button\">▶</button> ");
        sb.Append($"<input id=\"{id}-s\" type=\"range\" min=\"0\" max=\"{Times.Length - 1}\" value=\"0\" step=\"1\" style=\"width:360px;vertical-align:middle\"/> ");
        sb.Append($"<span id=\"{id}-tv\" style=\"font:12px monospace\"></span></div>");
        if (Diagnostics.Count > 0)
        {
            sb.Append("<table style=\"font:11px monospace;margin-top:6px;border-collapse:collapse\">");
            foreach (var kv in Diagnostics)
                sb.Append($"<tr><td style=\"padding:0 8px 0 0;color:#666\">{Html.Escape(kv.Key)}</td><td>{Html.Escape(kv.Value)}</td></tr>");
            sb.Append("</table>");
        }
        if (Extras.Count > 0)
        {
            sb.Append("<div style=\"margin-top:6px\">");
            foreach (var e in Extras) sb.Append(Html.Item(e));
            sb.Append("</div>");
        }
        var json = JsonSerializer.Serialize(new { times = Times, tracks = data });
        sb.Append("<script type=\"text/javascript\">(function(){var D=").Append(json).Append(";var id='").Append(id).Append("';");
        sb.Append("function $(s){return document.getElementById(id+s);}var s=$('-s');");
        sb.Append("function show(i){i=+i;for(var k=0;k<D.tracks.length;k++){var T=D.tracks[k];$('-f'+k).src=T.frames[i];");
        sb.Append("if(T.masks){$('-m'+k).src=T.masks[i];}var ol=$('-t'+k);ol.innerHTML='';T.top[i].forEach(function(c){var li=document.createElement('li');li.textContent=c;ol.appendChild(li);});");
        sb.Append("var m=$('-dot'+k);if(m){m.setAttribute('cx',X(D.times[i]));m.setAttribute('cy',Y(T.score[i]));}}");
        sb.Append("var line=$('-mark');line.setAttribute('x1',X(D.times[i]));line.setAttribute('x2',X(D.times[i]));");
        sb.Append("$('-tv').textContent='t = '+D.times[i].toFixed(3)+'   '+D.tracks.map(function(T){return 'F = '+T.score[i].toFixed(3);}).join('   ');}");
        sb.Append(FormattableString.Invariant($"function X(t){{return {Pad}+t*{PlotW};}}function Y(v){{return {Pad}+(1-v)*{PlotH};}}"));
        sb.Append("s.addEventListener('input',function(){show(s.value);});var timer=null;");
        sb.Append("$('-play').addEventListener('click',function(){if(timer){clearInterval(timer);timer=null;return;}timer=setInterval(function(){var v=(+s.value+1)%D.times.length;s.value=v;show(v);if(v==D.times.length-1){clearInterval(timer);timer=null;}},350);});");
        sb.Append("show(0);})();</script></div>");
        return sb.ToString();
    }

    const int Pad = 34, PlotW = 300, PlotH = 200;

    string CurveSvg(string id)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        int w = PlotW + Pad + 12, h = PlotH + Pad + 22;
        sb.Append($"<svg width=\"{w}\" height=\"{h}\" style=\"font:10px sans-serif\">");
        sb.Append($"<rect x=\"{Pad}\" y=\"{Pad}\" width=\"{PlotW}\" height=\"{PlotH}\" fill=\"#fafafa\" stroke=\"#ccc\"/>");
        for (int i = 0; i <= 4; i++)
        {
            double v = i / 4.0;
            double y = Pad + (1 - v) * PlotH, x = Pad + v * PlotW;
            sb.Append(string.Format(inv, "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:F1}\" y2=\"{2:F1}\" stroke=\"#eee\"/><text x=\"{3}\" y=\"{4:F1}\" text-anchor=\"end\">{5:F2}</text>", Pad, Pad + PlotW, y, Pad - 3, y + 3, v));
            sb.Append(string.Format(inv, "<text x=\"{0:F1}\" y=\"{1}\" text-anchor=\"middle\">{2:F2}</text>", x, Pad + PlotH + 12, v));
        }
        sb.Append(string.Format(inv, "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\">t</text>", Pad + PlotW / 2, Pad + PlotH + 24));
        sb.Append(string.Format(inv, "<text x=\"{0}\" y=\"{1}\">{2}</text>", Pad, Pad - 8, Html.Escape(ScoreLabel)));
        for (int k = 0; k < Tracks.Count; k++)
        {
            var pts = string.Join(" ", Times.Select((t, i) => string.Format(inv, "{0:F1},{1:F1}", Pad + t * PlotW, Pad + (1 - Math.Clamp(Tracks[k].Score[i], 0, 1)) * PlotH)));
            var c = Colours[k % Colours.Length];
            sb.Append($"<polyline points=\"{pts}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\"/>");
            sb.Append($"<circle id=\"{id}-dot{k}\" r=\"4\" fill=\"{c}\" cx=\"{Pad}\" cy=\"{Pad}\"/>");
        }
        sb.Append($"<line id=\"{id}-mark\" x1=\"{Pad}\" x2=\"{Pad}\" y1=\"{Pad}\" y2=\"{Pad + PlotH}\" stroke=\"#333\" stroke-dasharray=\"3,3\"/>");
        return sb.Append("</svg>").ToString();
    }

    static string DataUri(Tensor image) => "data:image/png;base64," + Convert.ToBase64String(ImageIO.EncodePng(image));
}
