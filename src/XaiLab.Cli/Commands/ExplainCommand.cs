using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency.AblationPaths;
using static TorchSharp.torch;

namespace XaiLab.Cli;

/// <summary>What <c>explain</c> computes, independent of where the model and image come from.</summary>
/// <param name="Options">Ablation-path options (thesis defaults).</param>
/// <param name="ClassIndex">Class to explain; null = the image's top class.</param>
/// <param name="Colormap">Colour map of the heatmap PNGs.</param>
public sealed record ExplainSettings(AblationPathOptions Options, int? ClassIndex = null, string Colormap = "viridis");

/// <summary>What <c>explain</c> wrote.</summary>
public sealed record ExplainOutput(AblationPathResult Result, string ResultJson, string PathNpy, IReadOnlyList<string> Heatmaps, string Explorer) : IDisposable
{
    public void Dispose() => Result.Dispose();
}

/// <summary>
/// <c>xailab explain --image FILE --model NAME --method ablation-path [--score retain|dissipate|contrastive|straddle]
/// [--sigma PX] [--saturation Z] [--mask-size N] [--steps T] [--seed S] [--class K] --out DIR</c>:
/// optimises an ablation path and writes <c>path.npy</c> (float32 <c>[T,h,w]</c> or <c>[T,2,h,w]</c>),
/// <c>result.json</c> (scores, saturation, iterations, stop reason, warnings, baseline σ, the score curve) and one
/// heatmap PNG per reduction (<c>saliency-avg.png</c>, <c>-clt</c>, <c>-influence</c>, <c>-cav</c> for the pair)
/// plus an overlay on the image. The model comes from <see cref="ModelRegistry"/>.
/// </summary>
public static class ExplainCommand
{
    public static Command Create()
    {
        var image = new Option<string>("--image") { Description = "Image file (PNG/JPEG)", Required = true };
        var model = new Option<string>("--model") { Description = "Model name from the registry (see `xailab info`/`models list`)", Required = true };
        var method = new Option<string>("--method") { Description = "Saliency method: ablation-path", DefaultValueFactory = _ => "ablation-path" };
        var score = new Option<string>("--score") { Description = "retain | dissipate | contrastive | straddle (default retain)", DefaultValueFactory = _ => "retain" };
        var sigma = new Option<double?>("--sigma") { Description = "Regularisation σ_reguBlur in image pixels (default 6)" };
        var saturation = new Option<double?>("--saturation") { Description = "Artificial saturation ζ_sat (default 0)" };
        var maskSize = new Option<int?>("--mask-size") { Description = "Mask resolution N (masks are min(N,H)×min(N,W); default 64)" };
        var steps = new Option<int?>("--steps") { Description = "Interior masks T (default 14)" };
        var seed = new Option<int>("--seed") { Description = "Seed of the stochastic options (default 0)" };
        var cls = new Option<int?>("--class") { Description = "Class index to explain (default: the top class)" };
        var device = new Option<string?>("--device") { Description = "cpu, cuda or cuda:N (default: $XAILAB_DEVICE or cpu)" };
        var cmap = new Option<string>("--colormap") { Description = "viridis | jet | gray", DefaultValueFactory = _ => "viridis" };
        var outDir = new Option<string>("--out") { Description = "Output folder", Required = true };
        var cmd = new Command("explain", "Explain a classification with an optimised ablation path; writes heatmaps, result.json and path.npy.")
            { image, model, method, score, sigma, saturation, maskSize, steps, seed, cls, device, cmap, outDir };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var m = parse.GetValue(method)!;
            if (m is not "ablation-path")
                throw new UserError($"--method '{m}' is not available here; known: ablation-path.");
            var o = new AblationPathOptions { Score = ParseScore(parse.GetValue(score)!), Seed = parse.GetValue(seed) };
            if (parse.GetValue(sigma) is { } s) o = o with { RegularisationSigma = s };
            if (parse.GetValue(saturation) is { } z) o = o with { Saturation = z };
            if (parse.GetValue(maskSize) is { } n) o = o with { MaskSize = n };
            if (parse.GetValue(steps) is { } t) o = o with { Steps = t };
            o.Validate();
            var d = Devices.Resolve(parse.GetValue(device) ?? Environment.GetEnvironmentVariable(Devices.EnvironmentVariable));
            using var classifier = ModelRegistry.Load(parse.GetValue(model)!).To(d);
            using var loaded = ImageIO.Load(parse.GetValue(image)!);
            using var fitted = FitToModel(loaded, classifier, msg => Console.Error.WriteLine("note: " + msg));
            var progress = new Progress<AblationProgress>(p =>
                Console.Error.Write($"\riteration {p.Iteration}/{p.MaxIterations}  score {p.Score:F4}  saturation {p.Saturation:F3}   "));
            using var output = Run(classifier, fitted, new ExplainSettings(o, parse.GetValue(cls), parse.GetValue(cmap)!), parse.GetValue(outDir)!, progress);
            Console.Error.WriteLine();
            var r = output.Result;
            Console.WriteLine($"{r.ScoreKind} score {r.Score:F4} (P↑ {r.RetainingScore:F4}), saturation {r.Saturation:F3}, {r.Iterations} iterations, stop: {r.StopReason}" +
                              (r.BaselineSigma is { } bs ? $", baseline σ {bs} px" : ""));
            foreach (var w in r.Warnings) Console.WriteLine("warning: " + w);
            Console.WriteLine($"wrote {output.ResultJson}, {output.PathNpy}, {output.Heatmaps.Count} heatmap PNGs, {output.Explorer}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Parses the command-line score names (retain, dissipate, contrastive, straddle).</summary>
    public static AblationScore ParseScore(string s) => s.ToLowerInvariant() switch
    {
        "retain" or "retaining" => AblationScore.Retaining,
        "dissipate" or "dissipating" => AblationScore.Dissipating,
        "contrastive" => AblationScore.Contrastive,
        "straddle" or "straddling" => AblationScore.Straddling,
        _ => throw new UserError($"--score '{s}': expected retain, dissipate, contrastive or straddle."),
    };

    /// <summary>
    /// Makes a loaded RGB image fit the model: grey (channel mean) for 1-channel models, and a bilinear resize
    /// (align_corners = false) to the model's input size. Each change is reported through <paramref name="note"/>.
    /// </summary>
    public static Tensor FitToModel(Tensor image, Classifier model, Action<string>? note = null)
    {
        using var scope = NewDisposeScope();
        var x = image;
        if (x.shape[0] == 3 && model.Channels == 1) { x = x.mean(new long[] { 0 }, keepdim: true); note?.Invoke("converted the RGB image to grey for a 1-channel model"); }
        else if (x.shape[0] == 1 && model.Channels == 3) { x = x.expand(3, x.shape[1], x.shape[2]); note?.Invoke("repeated the grey image over 3 channels"); }
        if (model.InputSize is { } s && (x.shape[1] != s.H || x.shape[2] != s.W))
        {
            note?.Invoke($"resized the image from {x.shape[1]}×{x.shape[2]} to the model's {s.H}×{s.W}");
            x = nn.functional.interpolate(x.unsqueeze(0), new long[] { s.H, s.W }, mode: InterpolationMode.Bilinear, align_corners: false)[0].clamp(0, 1);
        }
        return x.contiguous().clone().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The command's logic for a given classifier and image <c>[C,H,W]</c>: optimise, then write
    /// <c>path.npy</c>, <c>result.json</c>, <c>saliency-R.png</c> and <c>overlay-R.png</c> for each reduction R
    /// (avg, clt, influence; cav for the straddling pair), <c>baseline.png</c> and the interactive <c>explorer.html</c> into <paramref name="outDir"/>.
    /// </summary>
    public static ExplainOutput Run(Classifier model, Tensor image, ExplainSettings settings, string outDir, IProgress<AblationProgress>? progress = null)
    {
        int cls = settings.ClassIndex ?? model.Predict(image).Class;
        var cmap = Imaging.Visual.Colormap.ByName(settings.Colormap);
        Directory.CreateDirectory(outDir);
        var result = AblationPath.Optimise(model, image, cls, settings.Options, progress);
        try
        {
            var npy = Path.Combine(outDir, "path.npy");
            Npy.Write(npy, result.Path);
            var reductions = new List<AblationReduction> { AblationReduction.Average, AblationReduction.ClassTransition, AblationReduction.InfluenceWeighted };
            if (result.IsPair) reductions.Add(AblationReduction.ContrastiveAverage);
            var pngs = new List<string>();
            var img = result.Image;
            var rgb = img.shape[0] == 1 ? img.expand(3, img.shape[1], img.shape[2]) : img;
            foreach (var r in reductions)
            {
                using var scope = NewDisposeScope();
                var sal = result.Saliency(r);
                var name = AblationPathMethod.ReductionName(r);
                var up = nn.functional.interpolate(sal.to_type(ScalarType.Float32).unsqueeze(0).unsqueeze(0),
                    new long[] { img.shape[1], img.shape[2] }, mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
                var p1 = Path.Combine(outDir, $"saliency-{name}.png");
                ImageIO.SavePng(cmap.Apply(up), p1);
                var p2 = Path.Combine(outDir, $"overlay-{name}.png");
                ImageIO.SavePng(cmap.Overlay(rgb, up), p2);
                pngs.Add(p1); pngs.Add(p2);
            }
            ImageIO.SavePng(result.Baseline, Path.Combine(outDir, "baseline.png"));
            var json = Path.Combine(outDir, "result.json");
            File.WriteAllText(json, JsonSerializer.Serialize(Summary(result, model), JsonOptions));
            // The interactive explorer (slider over t, masks, top classes, score curve) as a standalone offline page.
            var explorer = XaiLab.Interactive.AblationExplorer.From(result, model);
            var html = Path.Combine(outDir, "explorer.html");
            File.WriteAllText(html, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
                System.Net.WebUtility.HtmlEncode(explorer.Title) + "</title></head><body style=\"font-family:sans-serif\">" + explorer.ToHtml() + "</body></html>");
            return new ExplainOutput(result, json, npy, pngs, html);
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The content of <c>result.json</c>.</summary>
    public static Dictionary<string, object?> Summary(AblationPathResult r, Classifier model)
    {
        var clt = r.ClassTransition;
        return new Dictionary<string, object?>
        {
            ["model"] = model.Name,
            ["class"] = r.ClassIndex,
            ["className"] = r.ClassName,
            ["targetClass"] = r.TargetClass,
            ["baselineClass"] = r.BaselineClass,
            ["scoreKind"] = r.ScoreKind.ToString(),
            ["pathSpace"] = r.PathSpace,
            ["score"] = r.Score,
            ["retainingScore"] = r.RetainingScore,
            ["saturation"] = r.Saturation,
            ["iterations"] = r.Iterations,
            ["stopReason"] = r.StopReason.ToString(),
            ["baselineSigma"] = r.BaselineSigma,
            ["warnings"] = r.Warnings,
            ["pathShape"] = r.Path.shape,
            ["times"] = r.Times,
            ["scoreHistory"] = r.ScoreHistory,
            ["saturationHistory"] = r.SaturationHistory,
            ["curveTimes"] = r.Curve.Times,
            ["curve"] = r.Curve.Score,
            ["curveTopClass"] = r.Curve.TopClass,
            ["secondCurve"] = r.SecondCurve?.Score,
            ["classTransition"] = new Dictionary<string, object> { ["index"] = clt.Index, ["time"] = clt.Time, ["case"] = clt.Case.ToString() },
            ["options"] = new Dictionary<string, object?>
            {
                ["steps"] = r.Options.Steps, ["maskSize"] = r.Options.MaskSize, ["stepSize"] = r.Options.StepSize,
                ["regularisationSigma"] = r.Options.RegularisationSigma, ["saturation"] = r.Options.Saturation,
                ["pinching"] = r.Options.Pinching, ["monotonisation"] = r.Options.Monotonisation.ToString(),
                ["saturationTarget"] = r.Options.SaturationTarget, ["minIterations"] = r.Options.MinIterations,
                ["maxIterations"] = r.Options.MaxIterations, ["seed"] = r.Options.Seed,
            },
            ["timingsMs"] = new Dictionary<string, double>
            {
                ["forwardBackward"] = r.Timings.ForwardBackwardMs, ["repair"] = r.Timings.RepairMs,
                ["other"] = r.Timings.OtherMs, ["total"] = r.Timings.TotalMs,
            },
        };
    }
}
