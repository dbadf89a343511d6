using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;
using TorchSharp;
using XaiLab.Saliency;
using static TorchSharp.torch;

namespace XaiLab.Interactive;

/// <summary>
/// Registers XaiLab's HTML formatters with .NET Interactive. Registration is process-global and idempotent.
/// </summary>
public static class Formatters
{
    static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        Add<Tensor>(t => Html.Tensor(t));
        Add<SaliencyMap>(Html.Saliency);
        Add<Heatmap>(Html.Heatmap);
        Add<Overlay>(Html.Overlay);
        Add<Picture>(p => Html.Figure(Html.Img(p.Image, p.Width), p.Caption));
        Add<Gallery>(Html.Gallery);
        Add<LabSession>(Html.Session);
        Add<RawHtml>(h => h.Html);
        Add<PathExplorer>(e => e.ToHtml());
        Add<XaiLab.Saliency.AblationPaths.AblationPathResult>(Html.AblationResult);
        Add<GenericChart>(c => PlotlyEmbedding.ChartHtml(c));
        Add<XaiLab.Saliency.Evaluation.Sweeps.SweepTable>(SweepView.ToHtml);
    }

    static void Add<T>(Func<T, string> html)
    {
        Formatter.Register<T>(html, HtmlFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(T), HtmlFormatter.MimeType);
    }
}
