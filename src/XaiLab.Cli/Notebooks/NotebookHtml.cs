using System.Net;
using System.Text;
using Markdig;
using Microsoft.DotNet.Interactive.Documents;

namespace XaiLab.Cli.Notebooks;

/// <summary>
/// Renders an executed notebook as one standalone HTML page that needs no network: markdown cells through Markdig,
/// code cells as source, outputs as the kernel produced them (HTML with inline PNGs; Plotly charts carry plotly.js
/// embedded once by the XaiLab formatter).
/// </summary>
public static class NotebookHtml
{
    static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    /// <summary>The whole page of <paramref name="run"/>: title, <paramref name="subtitle"/> (how and when it was executed), then every cell with its outputs.</summary>
    public static string Render(NotebookRun run, string subtitle)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(Esc(run.Name)).Append("</title><style>")
          .Append("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}")
          .Append("pre.code{background:#f6f8fa;border-left:3px solid #4a7;padding:8px;font-size:13px;white-space:pre-wrap;overflow-wrap:anywhere;tab-size:4}")
          .Append("pre.stdout{background:#fff;color:#333;font-size:12px;margin:0 0 4px 0;white-space:pre-wrap;overflow-wrap:anywhere}pre.stderr{color:#a60;font-size:12px;white-space:pre-wrap}")
          .Append("pre.error{background:#fee;color:#900;padding:8px;font-size:12px}.out{margin:4px 0 18px 12px;overflow-x:auto}")
          .Append(".meta{color:#666;font-size:13px}.count{color:#999;font:12px monospace}.out>div{max-width:100%}.out img{max-width:100%}")
          .Append("</style></head><body>");
        sb.Append("<p class=\"meta\">").Append(Esc(subtitle)).Append("</p>");
        int n = 0;
        foreach (var e in run.Document.Elements)
        {
            if (!NotebookRunner.IsCode(e))
            {
                sb.Append(Markdig.Markdown.ToHtml(e.Contents, Markdown));
                continue;
            }
            n++;
            sb.Append($"<div class=\"count\">[{n}]</div><pre class=\"code\">").Append(Esc(e.Contents)).Append("</pre><div class=\"out\">");
            foreach (var o in e.Outputs) sb.Append(Output(o));
            sb.Append("</div>");
        }
        return sb.Append("</body></html>").ToString();
    }

    static string Output(InteractiveDocumentOutputElement o) => o switch
    {
        ReturnValueElement r => Data(r.Data),
        DisplayElement d => Data(d.Data),
        TextElement t => $"<pre class=\"{(t.Name == "stderr" ? "stderr" : "stdout")}\">{Esc(t.Text)}</pre>",
        ErrorElement err => $"<pre class=\"error\">{Esc(err.ErrorName)}: {Esc(err.ErrorValue)}</pre>",
        _ => "",
    };

    static string Data(IDictionary<string, object> data)
    {
        if (data.TryGetValue("text/html", out var html)) return "<div>" + html + "</div>";
        if (data.TryGetValue("image/svg+xml", out var svg)) return "<div>" + svg + "</div>";
        if (data.TryGetValue("image/png", out var png)) return $"<img src=\"data:image/png;base64,{png}\"/>";
        if (data.TryGetValue("text/markdown", out var md)) return Markdig.Markdown.ToHtml(md?.ToString() ?? "", Markdown);
        if (data.TryGetValue("text/plain", out var text)) return $"<pre class=\"stdout\">{Esc(text?.ToString() ?? "")}</pre>";
        return "";
    }

    static string Esc(string s) => WebUtility.HtmlEncode(s);
}
