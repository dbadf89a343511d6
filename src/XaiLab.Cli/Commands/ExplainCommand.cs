using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Cli;

/// <summary>What <c>explain</c> computes with an ablation path, independent of where the model and image come from.</summary>
/// <param name="Options">Ablation-path options (thesis defaults).</param>
/// <param name="ClassIndex">Class to explain; null = the image's top class.</param>
/// <param name="Colormap">Colour map of the heatmap PNGs (<see cref="CliOptions.Colormaps"/>).</param>
/// <param name="Reduction">The reduction of the named method, written as <c>saliency.png</c>/<c>overlay.png</c>/<c>saliency.npy</c>.</param>
/// <param name="Window">Whether that map has the window applied (Eq 2.37).</param>
public sealed record ExplainSettings(AblationPathOptions Options, int? ClassIndex = null, string Colormap = "viridis",
    AblationReduction Reduction = AblationReduction.ClassTransition, bool Window = false);

/// <summary>What <c>explain</c> wrote for an ablation path.</summary>
public sealed record ExplainOutput(AblationPathResult Result, string ResultJson, string PathNpy, IReadOnlyList<string> Heatmaps, string Explorer) : IDisposable
{
    /// <summary>Disposes the ablation-path result (its path and curves).</summary>
    public void Dispose() => Result.Dispose();
}

/// <summary>What <c>explain</c> wrote for a method other than the ablation path.</summary>
public sealed record ExplainMethodOutput(string Method, int ClassIndex, string ResultJson, string MapNpy, IReadOnlyList<string> Heatmaps, double Seconds);

/// <summary>
/// <c>xailab explain --image FILE --model NAME [--method NAME] [--method-option NAME=VALUE …] [--class K] [--colormap C] --out DIR</c>
/// explains one classification with any method of <see cref="XaiLab.Saliency.Methods.SaliencyMethods"/>. Every method writes
/// <c>saliency.png</c> (the map resized to the image), <c>overlay.png</c>, <c>saliency.npy</c> (float32, the method's resolution)
/// and <c>result.json</c>. The ablation-path methods (default <c>ablation-path</c> = <c>ablation-path-clt</c>; ablation-path flags
/// <c>--score</c>, <c>--sigma</c>, <c>--saturation</c>, <c>--mask-size</c>, <c>--steps</c>, <c>--seed</c>) also write
/// <c>path.npy</c> (float32 <c>[T,h,w]</c> or <c>[T,2,h,w]</c>), a heatmap and overlay per reduction (<c>saliency-avg.png</c>,
/// <c>-clt</c>, <c>-influence</c>, <c>-cav</c> for the pair), <c>baseline.png</c> and the interactive <c>explorer.html</c>; their
/// <c>result.json</c> holds scores, saturation, iterations, stop reason, warnings, baseline σ and the score curve.
/// The model comes from <see cref="ModelRegistry"/>.
/// </summary>
public static class ExplainCommand
{
    /// <summary>The <c>explain</c> command.</summary>
    public static Command Create()
    {
        var image = new Option<string>("--image") { Description = "Image file (PNG/JPEG), or a folder: every PNG/JPEG in it, one subfolder of --out each, resumable", Required = true };
        var batchImages = CliOptions.Int("--batch-images", "Folder mode, ablation paths: images optimised together in one batch (default 4)", min: 1, what: "a positive number of images");
        var model = CliOptions.Model("Model registry name (see `xailab models list`)");
        var method = new Option<string>("--method")
        {
            Description = $"Saliency method (default ablation-path = ablation-path-clt): {string.Join(", ", SaliencyMethods.Names)}; aliases: " +
                          string.Join(", ", SaliencyMethods.All.SelectMany(e => e.Aliases)),
            DefaultValueFactory = _ => "ablation-path",
        };
        var methodOption = CliOptions.MethodOption();
        var score = new Option<string?>("--score") { Description = "Ablation paths: retain | dissipate | contrastive | straddle (default retain; the cav reductions use straddle)" };
        var sigma = CliOptions.Double("--sigma", "Ablation paths: regularisation σ_reguBlur in image pixels (default 6)", "a number of pixels ≥ 0");
        var saturation = CliOptions.Double("--saturation", "Ablation paths: artificial saturation ζ_sat (default 0)", "a number ≥ 0");
        var maskSize = CliOptions.Int("--mask-size", "Ablation paths: mask resolution N (masks are min(N,H)×min(N,W); default 64)", min: 1);
        var steps = CliOptions.Int("--steps", "Ablation paths: interior masks T (default 14)", min: 1);
        var seed = CliOptions.Int("--seed", "Ablation paths: seed of the stochastic options (default 0)");
        var cls = CliOptions.Int("--class", "Class index to explain (default: the top class)", min: 0, what: "a class index ≥ 0");
        var device = CliOptions.Device();
        var cmap = new Option<string>("--colormap") { Description = $"Heatmap colours: {string.Join(" | ", CliOptions.Colormaps)}", DefaultValueFactory = _ => "viridis" };
        var outDir = CliOptions.Out("Output folder");
        var cmd = new Command("explain", "Explain a classification with any saliency method (default: an optimised ablation path); writes heatmaps and result.json.")
            { image, batchImages, model, method, methodOption, score, sigma, saturation, maskSize, steps, seed, cls, device, cmap, outDir };
        cmd.SetAction(parse => CommandBody.Guard(() =>
        {
            var entry = SaliencyMethods.Find(parse.GetValue(method)!);
            bool isPath = entry.MethodType == typeof(AblationPathMethod);
            var pathFlags = new Option[] { score, sigma, saturation, maskSize, steps, seed };
            if (!isPath && pathFlags.FirstOrDefault(o => CliOptions.Given(parse, o)) is { } flag)
                throw new UserError($"{flag.Name} applies to the ablation-path methods only; for '{entry.Name}' use --method-option NAME=VALUE " +
                                    $"({(entry.TextOptions.Count == 0 ? "it has no options" : "its options: " + string.Join(", ", entry.TextOptions))}).");
            var colormap = parse.GetValue(cmap)!.Trim().ToLowerInvariant();
            if (!CliOptions.Colormaps.Contains(colormap))
                throw new UserError($"--colormap '{parse.GetValue(cmap)}': expected one of {string.Join(", ", CliOptions.Colormaps)}.");
            var settings = CliOptions.ParseMethodSettings(parse.GetValue(methodOption));
            if (settings.FirstOrDefault(s => s.Method is { } m && SaliencyMethods.Find(m) != entry) is { } other)
                throw new UserError($"--method-option '{other.Text}' names another method than --method {entry.Name}.");
            var options = entry.DefaultOptions();
            if (options is AblationPathOptions o)
            {
                if (parse.GetValue(score) is { } sc) o = o with { Score = ParseScore(sc) };
                if (parse.GetValue(seed) is { } sd) o = o with { Seed = sd };
                if (parse.GetValue(sigma) is { } s) o = o with { RegularisationSigma = s };
                if (parse.GetValue(saturation) is { } z) o = o with { Saturation = z };
                if (parse.GetValue(maskSize) is { } n) o = o with { MaskSize = n };
                if (parse.GetValue(steps) is { } t) o = o with { Steps = t };
                options = o;
            }
            foreach (var st in settings) options = SaliencyMethods.WithOption(options, st.Name, st.Value, entry.Name);
            var saliency = entry.Make(options); // validates the options
            var outPath = CliOptions.PrepareOutputFolder(parse.GetValue(outDir)!);
            var imagePath = parse.GetValue(image)!;
            bool folderMode = Directory.Exists(imagePath);
            if (!folderMode && !File.Exists(imagePath)) throw new UserError($"--image '{imagePath}': no such file or folder.");
            if (!folderMode && CliOptions.Given(parse, batchImages)) throw new UserError("--batch-images applies to a folder given as --image only.");
            var d = CliOptions.ResolveDevice(parse, device);
            using var classifier = ModelRegistry.Load(parse.GetValue(model)!).To(d);
            if (parse.GetValue(cls) is { } kc && kc >= classifier.NumClasses)
                throw new UserError($"--class {kc}: model '{classifier.Name}' has classes 0…{classifier.NumClasses - 1}.");
            if (folderMode)
            {
                var files = ImagesIn(imagePath);
                if (files.Count == 0) throw new UserError($"--image '{imagePath}': the folder holds no PNG or JPEG files.");
                if (saliency is AblationPathMethod fp)
                {
                    var done = RunFolder(classifier, files, new ExplainSettings(fp.Options, parse.GetValue(cls), colormap, fp.Reduction, fp.Window), outPath,
                        parse.GetValue(batchImages) ?? 4, msg => Console.WriteLine(msg));
                    int clean = done.Count(x => x.Warnings == 0 && x.StopReason == nameof(StopReason.Saturated));
                    Console.WriteLine($"{fp.Name}: {done.Count} images in {outPath}; {clean} saturated without warnings; summary.csv written");
                    return 0;
                }
                foreach (var f in files)
                {
                    var sub = Path.Combine(outPath, Path.GetFileNameWithoutExtension(f));
                    if (File.Exists(Path.Combine(sub, "result.json"))) { Console.WriteLine($"{Path.GetFileName(f)}: already done"); continue; }
                    using var li = ImageIO.Load(f);
                    using var fi = Resize.ToModel(li, classifier, msg => Console.Error.WriteLine($"note: {Path.GetFileName(f)}: {msg}"));
                    var tmp = sub + ".partial";
                    if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
                    var rm = RunMethod(classifier, fi, saliency, parse.GetValue(cls), colormap, tmp);
                    if (Directory.Exists(sub)) Directory.Delete(sub, true);
                    Directory.Move(tmp, sub);
                    Console.WriteLine($"{Path.GetFileName(f)}: {rm.Method}, class {rm.ClassIndex} ({classifier.ClassNames[rm.ClassIndex]}) in {rm.Seconds:F2} s");
                }
                return 0;
            }
            using var loaded = ImageIO.Load(imagePath);
            using var fitted = Resize.ToModel(loaded, classifier, msg => Console.Error.WriteLine("note: " + msg));
            if (saliency is AblationPathMethod path)
            {
                var progress = new Progress<AblationProgress>(p =>
                    Console.Error.Write($"\riteration {p.Iteration}/{p.MaxIterations}  score {p.Score:F4}  saturation {p.Saturation:F3}   "));
                using var output = Run(classifier, fitted, new ExplainSettings(path.Options, parse.GetValue(cls), colormap, path.Reduction, path.Window), outPath, progress);
                Console.Error.WriteLine();
                var r = output.Result;
                Console.WriteLine($"{path.Name}: {r.ScoreKind} score {r.Score:F4} (P↑ {r.RetainingScore:F4}), saturation {r.Saturation:F3}, {r.Iterations} iterations, stop: {r.StopReason}" +
                                  (r.BaselineSigma is { } bs ? $", baseline σ {bs} px" : ""));
                foreach (var w in r.Warnings) Console.WriteLine("warning: " + w);
                Console.WriteLine($"wrote {output.ResultJson}, {output.PathNpy}, {output.Heatmaps.Count} per-reduction heatmap PNGs, saliency.png/overlay.png/saliency.npy ({path.Name}), {output.Explorer}");
                return 0;
            }
            var res = RunMethod(classifier, fitted, saliency, parse.GetValue(cls), colormap, outPath);
            Console.WriteLine($"{res.Method}: class {res.ClassIndex} ({classifier.ClassNames[res.ClassIndex]}) in {res.Seconds:F2} s; parameters {SaliencyMethods.Describe(saliency)}");
            Console.WriteLine($"wrote {res.ResultJson}, {res.MapNpy}, {string.Join(", ", res.Heatmaps.Select(Path.GetFileName))}");
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
    /// Explains class <paramref name="classIndex"/> (null = the top class) of <paramref name="image"/> (<c>[C,H,W]</c>, fitted to the
    /// model) with <paramref name="method"/> and writes <c>saliency.npy</c> (float32 map at the method's resolution),
    /// <c>saliency.png</c> and <c>overlay.png</c> (resized bilinearly to the image) and <c>result.json</c> (method, parameters,
    /// class, seconds, map shape and range, diagnostics) into <paramref name="outDir"/>.
    /// </summary>
    public static ExplainMethodOutput RunMethod(Classifier model, Tensor image, ISaliencyMethod method, int? classIndex, string colormap, string outDir)
    {
        int cls = classIndex ?? model.Predict(image).Class;
        var cmap = Imaging.Visual.Colormap.ByName(colormap);
        Directory.CreateDirectory(outDir);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var map = method.Explain(model, image, cls);
        sw.Stop();
        using var scope = NewDisposeScope();
        var npy = Path.Combine(outDir, "saliency.npy");
        Npy.Write(npy, map.Map);
        var pngs = WriteHeatmaps(map.Map, image, cmap, outDir, "");
        var json = Path.Combine(outDir, "result.json");
        var result = new Dictionary<string, object?>
        {
            ["model"] = model.Name,
            ["method"] = method.Name,
            ["parameters"] = SaliencyMethods.Describe(method),
            ["class"] = cls,
            ["className"] = model.ClassNames[cls],
            ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 4),
            ["mapShape"] = map.Map.shape,
            ["mapMin"] = map.Map.min().item<float>(),
            ["mapMax"] = map.Map.max().item<float>(),
            ["diagnostics"] = map.Diagnostics?.ToDictionary(kv => kv.Key, kv => JsonValue(kv.Value)),
        };
        File.WriteAllText(json, JsonSerializer.Serialize(result, JsonOptions));
        return new ExplainMethodOutput(method.Name, cls, json, npy, pngs, sw.Elapsed.TotalSeconds);
    }

    static object? JsonValue(object? v) => v switch
    {
        null => null,
        string or bool or int or long or float or double or string[] or double[] or float[] or int[] or long[] => v,
        Tensor t => t.numel() <= 64 ? t.to_type(ScalarType.Float64).cpu().data<double>().ToArray() : $"tensor[{string.Join(",", t.shape)}]",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => v.ToString(),
    };

    /// <summary>Writes <c>saliency{suffix}.png</c> and <c>overlay{suffix}.png</c>: <paramref name="map"/> resized to the image.</summary>
    static List<string> WriteHeatmaps(Tensor map, Tensor image, Imaging.Visual.Colormap cmap, string outDir, string suffix)
    {
        using var scope = NewDisposeScope();
        var up = Resize.Bilinear(map, (int)image.shape[1], (int)image.shape[2]);
        var rgb = image.shape[0] == 1 ? image.expand(3, image.shape[1], image.shape[2]) : image;
        var p1 = Path.Combine(outDir, $"saliency{suffix}.png");
        ImageIO.SavePng(cmap.Apply(up), p1);
        var p2 = Path.Combine(outDir, $"overlay{suffix}.png");
        ImageIO.SavePng(cmap.Overlay(rgb, up), p2);
        return new List<string> { p1, p2 };
    }

    /// <summary>
    /// The command's logic for a given classifier and image <c>[C,H,W]</c>: optimise, then write
    /// <c>path.npy</c>, <c>result.json</c>, <c>saliency-R.png</c> and <c>overlay-R.png</c> for each reduction R
    /// (avg, clt, influence; cav for the straddling pair), <c>saliency.png</c>/<c>overlay.png</c>/<c>saliency.npy</c> for the
    /// settings' reduction and window, <c>baseline.png</c> and the interactive <c>explorer.html</c> into <paramref name="outDir"/>.
    /// </summary>
    public static ExplainOutput Run(Classifier model, Tensor image, ExplainSettings settings, string outDir, IProgress<AblationProgress>? progress = null)
    {
        int cls = settings.ClassIndex ?? model.Predict(image).Class;
        if (settings.Reduction == AblationReduction.ContrastiveAverage && settings.Options.Score != AblationScore.Straddling)
            settings = settings with { Options = settings.Options with { Score = AblationScore.Straddling } };
        var result = AblationPath.Optimise(model, image, cls, settings.Options, progress);
        try { return Write(result, model, settings, outDir); }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes the outputs of <see cref="Run"/> for an already optimised <paramref name="result"/> into <paramref name="outDir"/>
    /// (the folder mode writes each image's result this way). The returned output owns <paramref name="result"/>.
    /// </summary>
    public static ExplainOutput Write(AblationPathResult result, Classifier model, ExplainSettings settings, string outDir)
    {
        var cmap = Imaging.Visual.Colormap.ByName(settings.Colormap);
        Directory.CreateDirectory(outDir);
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
                pngs.AddRange(WriteHeatmaps(result.Saliency(r), rgb, cmap, outDir, "-" + AblationPathMethod.ReductionName(r)));
            }
            // The named method's own map (reduction and window as in its name), as every other method writes it
            // (saliency.png, overlay.png, saliency.npy; not listed in Heatmaps, which holds the per-reduction ones).
            using (var named = AblationPathMethod.ToSaliencyMap(result, settings.Reduction, settings.Window))
            {
                Npy.Write(Path.Combine(outDir, "saliency.npy"), named.Map);
                WriteHeatmaps(named.Map, rgb, cmap, outDir, "");
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
    }

    /// <summary>Image files of a folder that <c>explain</c> reads (PNG and JPEG), sorted by name.</summary>
    public static IReadOnlyList<string> ImagesIn(string folder) =>
        Directory.EnumerateFiles(folder).Where(f => Path.GetExtension(f).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg")
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToArray();

    /// <summary>One image of a folder run: its file, the class explained, and the figures of its path.</summary>
    /// <param name="Image">The image file.</param>
    /// <param name="Folder">Its output folder <c>OUT/NAME</c>.</param>
    /// <param name="Class">The class explained.</param>
    /// <param name="ClassName">Its name.</param>
    /// <param name="Score">The path's final score.</param>
    /// <param name="Saturation">Its saturation S.</param>
    /// <param name="Iterations">Iterations run.</param>
    /// <param name="StopReason">Why it stopped (<see cref="XaiLab.Saliency.AblationPaths.StopReason"/>).</param>
    /// <param name="Warnings">Number of warnings of the result.</param>
    /// <param name="Resumed">Read back from an earlier run instead of computed.</param>
    public sealed record FolderItem(string Image, string Folder, int Class, string ClassName, double Score, double Saturation, int Iterations,
        string StopReason, int Warnings, bool Resumed);

    /// <summary>
    /// <c>explain --image FOLDER</c>: explains every PNG/JPEG of <paramref name="images"/> with an ablation path, optimising
    /// <paramref name="batch"/> images at a time in one batch (<see cref="AblationPath.OptimiseMany(Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>,
    /// each path with its own stopping rule; results equal one-at-a-time runs up to float rounding) and writing each image's
    /// outputs (<see cref="Write"/>) to <c>OUT/NAME/</c>, plus <c>OUT/summary.csv</c> with one row per image. Resumable: an image
    /// whose <c>OUT/NAME/result.json</c> exists is not recomputed (its row is read back), so an interrupted run loses at most one batch.
    /// </summary>
    public static IReadOnlyList<FolderItem> RunFolder(Classifier model, IReadOnlyList<string> images, ExplainSettings settings, string outDir, int batch,
        Action<string>? log = null, IProgress<AblationBatchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (batch < 1) throw new UserError($"--batch-images {batch}: expected a positive number of images.");
        if (settings.Reduction == AblationReduction.ContrastiveAverage && settings.Options.Score != AblationScore.Straddling)
            settings = settings with { Options = settings.Options with { Score = AblationScore.Straddling } };
        Directory.CreateDirectory(outDir);
        var names = images.Select(f => Path.GetFileNameWithoutExtension(f)).ToArray();
        var dup = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new UserError($"--image folder: two images are named '{dup.Key}' (different extensions); rename one.");
        var items = new FolderItem?[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            var json = Path.Combine(outDir, names[i], "result.json");
            if (File.Exists(json)) items[i] = ReadBack(images[i], Path.Combine(outDir, names[i]), json);
        }
        var todo = Enumerable.Range(0, images.Count).Where(i => items[i] is null).ToArray();
        if (todo.Length < images.Count) log?.Invoke($"{images.Count - todo.Length} of {images.Count} images already done in {outDir}; computing {todo.Length}.");
        for (int c0 = 0; c0 < todo.Length; c0 += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = todo.Skip(c0).Take(batch).ToArray();
            using var scope = NewDisposeScope();
            var fitted = chunk.Select(i =>
            {
                using var loaded = ImageIO.Load(images[i]);
                return Resize.ToModel(loaded, model, msg => log?.Invoke($"{Path.GetFileName(images[i])}: {msg}"));
            }).ToArray();
            var classes = chunk.Select((i, k) => settings.ClassIndex ?? model.Predict(fitted[k]).Class).ToArray();
            // OptimiseMany needs one image shape: models without a fixed input size may get several groups.
            foreach (var group in Enumerable.Range(0, chunk.Length).GroupBy(k => string.Join(",", fitted[k].shape)))
            {
                var ks = group.ToArray();
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var results = AblationPath.OptimiseMany(model, ks.Select(k => (fitted[k], classes[k])).ToArray(), settings.Options, progress, cancellationToken);
                double seconds = sw.Elapsed.TotalSeconds;
                for (int j = 0; j < ks.Length; j++)
                {
                    int i = chunk[ks[j]];
                    var folder = Path.Combine(outDir, names[i]);
                    var tmp = folder + ".partial";
                    if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
                    using (var output = Write(results[j], model, settings with { ClassIndex = classes[ks[j]] }, tmp))
                    {
                        var r = output.Result;
                        items[i] = new FolderItem(images[i], folder, r.ClassIndex, r.ClassName, r.Score, r.Saturation, r.Iterations, r.StopReason.ToString(), r.Warnings.Count, false);
                    }
                    // The folder appears complete or not at all (result.json is what marks an image done).
                    if (Directory.Exists(folder)) Directory.Delete(folder, true);
                    Directory.Move(tmp, folder);
                    log?.Invoke($"{Path.GetFileName(images[i])}: class {items[i]!.Class} ({items[i]!.ClassName}), score {items[i]!.Score:F4}, saturation {items[i]!.Saturation:F3}, " +
                                $"{items[i]!.Iterations} iterations, {items[i]!.Warnings} warning(s) [{seconds / ks.Length:F1} s per image in a batch of {ks.Length}]");
                }
            }
        }
        var done = items.Select(x => x!).ToArray();
        var csv = new System.Text.StringBuilder("image,class,className,score,saturation,iterations,stopReason,warnings\n");
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        foreach (var x in done)
            csv.Append(string.Create(inv, $"{Path.GetFileName(x.Image)},{x.Class},{x.ClassName},{x.Score:R},{x.Saturation:R},{x.Iterations},{x.StopReason},{x.Warnings}\n"));
        File.WriteAllText(Path.Combine(outDir, "summary.csv"), csv.ToString());
        return done;
    }

    static FolderItem ReadBack(string image, string folder, string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var r = doc.RootElement;
            return new FolderItem(image, folder, r.GetProperty("class").GetInt32(), r.GetProperty("className").GetString() ?? "", r.GetProperty("score").GetDouble(),
                r.GetProperty("saturation").GetDouble(), r.GetProperty("iterations").GetInt32(), r.GetProperty("stopReason").GetString() ?? "",
                r.GetProperty("warnings").GetArrayLength(), true);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new UserError($"{json}: not a result of `xailab explain` ({e.Message.Split('\n')[0]}); delete that folder to recompute the image.");
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
