using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Evaluation;

/// <summary>One pointing trial of a result line: class, outcome (+1/−1/0), whether the pair is in the difficult subset, the point.</summary>
public sealed record PointingTrial(
    [property: JsonPropertyName("class")] int Class,
    [property: JsonPropertyName("outcome")] int Outcome,
    [property: JsonPropertyName("difficult")] bool Difficult,
    [property: JsonPropertyName("x")] int X,
    [property: JsonPropertyName("y")] int Y);

/// <summary>One line of <c>results.jsonl</c>: all trials of one image for one method.</summary>
public sealed record PointingImageResult(
    [property: JsonPropertyName("image")] int Image,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("trials")] IReadOnlyList<PointingTrial> Trials);

/// <summary>One row of the summary: a method on one subset ("all" or "difficult").</summary>
/// <param name="TorchRayAccuracy">Mean over all dataset classes, classes without trials counting 0 (TorchRay's number).</param>
/// <param name="PresentClassAccuracy">Mean over the classes with trials.</param>
/// <param name="Images">Images with at least one counted trial in this subset.</param>
/// <param name="Classes">Classes with at least one counted trial.</param>
/// <param name="Trials">Counted trials (hits + misses).</param>
/// <param name="Parameters">The method's options.</param>
public sealed record PointingSummaryRow(string Method, string Subset, double TorchRayAccuracy, double PresentClassAccuracy,
    int Images, int Classes, long Hits, long Trials, string Parameters);

/// <summary>The summary written to <c>summary.json</c> / <c>summary.csv</c>.</summary>
public sealed record PointingGameSummary(string Dataset, string Model, int ImagesPlanned, double Tolerance, IReadOnlyList<PointingSummaryRow> Rows);

/// <summary>Progress of a run: the image just finished (or skipped because already in the file).</summary>
public sealed record PointingGameProgress(int Done, int Total, int Image, string Method, double Seconds, bool Resumed);

/// <summary>Options of <see cref="PointingGameRunner"/>.</summary>
public sealed record PointingGameRunOptions
{
    /// <summary>Only the first N images; null = all.</summary>
    public int? Limit { get; init; }
    /// <summary>Hit tolerance in pixels; default 15 (TorchRay).</summary>
    public double Tolerance { get; init; } = PointingGame.DefaultTolerance;
}

/// <summary>
/// A resumable pointing-game run over a dataset, a classifier and several methods (thesis §2.7.3). Every finished
/// (image, method) pair is appended as one JSON line to <c>results.jsonl</c> in the output folder and flushed; a restarted
/// run reads the file, skips the finished pairs (a truncated last line, left by a kill, is cut off and redone) and goes on.
/// At the end it writes <c>summary.json</c> and <c>summary.csv</c>: per method and subset (all / difficult) both averaging
/// rules, image/class/trial counts and the method parameters. <c>run.json</c> records dataset, model and method parameters;
/// resuming into a folder made with other settings is an error. Every class annotated in an image is explained (TorchRay);
/// images are resized bilinearly to the model's input size where it is fixed, and the saliency back to the image.
/// </summary>
public sealed class PointingGameRunner
{
    public const string ResultsFile = "results.jsonl";
    public const string RunFile = "run.json";
    static readonly JsonSerializerOptions Json = new() { WriteIndented = false };
    static readonly JsonSerializerOptions JsonIndented = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    readonly ISceneDataset _dataset;
    readonly Classifier _model;
    readonly IReadOnlyList<ISaliencyMethod> _methods;
    readonly string _outDir;
    readonly PointingGameRunOptions _options;

    /// <exception cref="ArgumentException">No methods, duplicate method names, limit ≤ 0, or the model's classes do not match the dataset's.</exception>
    public PointingGameRunner(ISceneDataset dataset, Classifier model, IReadOnlyList<ISaliencyMethod> methods, string outDir, PointingGameRunOptions? options = null)
    {
        _options = options ?? new PointingGameRunOptions();
        if (methods.Count == 0) throw new ArgumentException("Pointing game: no methods given.");
        var dup = methods.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"Pointing game: method '{dup.Key}' is given twice.");
        if (_options.Limit is <= 0) throw new ArgumentException($"Pointing game: limit must be positive; got {_options.Limit}.");
        if (model.NumClasses != dataset.ClassNames.Count)
            throw new ArgumentException($"Pointing game: model '{model.Name}' has {model.NumClasses} classes but dataset '{dataset.Name}' has {dataset.ClassNames.Count}.");
        if (dataset.Count == 0) throw new ArgumentException($"Pointing game: dataset '{dataset.Name}' is empty.");
        _dataset = dataset; _model = model; _methods = methods; _outDir = outDir;
    }

    public int ImagesPlanned => Math.Min(_dataset.Count, _options.Limit ?? int.MaxValue);
    public string ResultsPath => Path.Combine(_outDir, ResultsFile);

    /// <summary>
    /// Runs (or resumes) the benchmark and writes the summary. On cancellation it stops between images, keeping every
    /// finished line, and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public PointingGameSummary Run(CancellationToken cancellation = default, Action<PointingGameProgress>? progress = null)
    {
        Directory.CreateDirectory(_outDir);
        CheckRunFile();
        var done = ReadResults(ResultsPath, repair: true).Select(r => (r.Image, r.Method)).ToHashSet();
        int total = ImagesPlanned * _methods.Count, count = 0;
        using (var stream = new FileStream(ResultsPath, FileMode.Append, FileAccess.Write, FileShare.Read))
        using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
        {
            for (int i = 0; i < ImagesPlanned; i++)
            {
                if (_methods.All(m => done.Contains((i, m.Name))))
                {
                    foreach (var m in _methods) progress?.Invoke(new PointingGameProgress(++count, total, i, m.Name, 0, true));
                    continue;
                }
                cancellation.ThrowIfCancellationRequested();
                using var scene = _dataset.Get(i);
                foreach (var m in _methods)
                {
                    if (done.Contains((i, m.Name))) { progress?.Invoke(new PointingGameProgress(++count, total, i, m.Name, 0, true)); continue; }
                    cancellation.ThrowIfCancellationRequested();
                    var sw = Stopwatch.StartNew();
                    var trials = EvaluateScene(scene, m);
                    sw.Stop();
                    var line = JsonSerializer.Serialize(new PointingImageResult(i, scene.Id, m.Name, Math.Round(sw.Elapsed.TotalSeconds, 4), trials), Json);
                    writer.Write(line + "\n");
                    writer.Flush();
                    stream.Flush(flushToDisk: true);
                    done.Add((i, m.Name));
                    progress?.Invoke(new PointingGameProgress(++count, total, i, m.Name, sw.Elapsed.TotalSeconds, false));
                }
            }
        }
        var summary = Summarise(ReadResults(ResultsPath, repair: false));
        WriteSummary(summary, _outDir);
        return summary;
    }

    /// <summary>All trials of one scene for one method.</summary>
    public IReadOnlyList<PointingTrial> EvaluateScene(Scene scene, ISaliencyMethod method)
    {
        var trials = new List<PointingTrial>();
        using var scope = NewDisposeScope();
        var image = scene.Image;
        if (_model.InputSize is { } s && (s.H != scene.Height || s.W != scene.Width))
            image = nn.functional.interpolate(image.unsqueeze(0).to_type(ScalarType.Float32), new long[] { s.H, s.W },
                mode: InterpolationMode.Bilinear, align_corners: false)[0];
        foreach (var c in scene.Classes)
        {
            if (PointingGame.AllObjectsDifficult(scene, c)) { trials.Add(new PointingTrial(c, 0, PointingGame.InDifficultSubset(scene, c), -1, -1)); continue; }
            using var map = method.Explain(_model, image, c);
            var pt = PointingGame.Point(map, scene.Height, scene.Width);
            var outcome = PointingGame.Evaluate(scene, c, pt, _options.Tolerance);
            trials.Add(new PointingTrial(c, (int)outcome, PointingGame.InDifficultSubset(scene, c), pt.X, pt.Y));
        }
        return trials;
    }

    /// <summary>Aggregates result lines (images below <see cref="ImagesPlanned"/>, this run's methods) into the summary.</summary>
    public PointingGameSummary Summarise(IEnumerable<PointingImageResult> results)
    {
        var list = results.Where(r => r.Image < ImagesPlanned).ToArray();
        var rows = new List<PointingSummaryRow>();
        foreach (var m in _methods)
        {
            var mine = list.Where(r => r.Method == m.Name).GroupBy(r => r.Image).Select(g => g.First()).OrderBy(r => r.Image).ToArray();
            foreach (var subset in new[] { "all", "difficult" })
            {
                var score = new PointingGameScore(_model.NumClasses);
                int images = 0;
                foreach (var r in mine)
                {
                    bool any = false;
                    foreach (var t in r.Trials)
                    {
                        if (subset == "difficult" && !t.Difficult) continue;
                        if (t.Outcome == 0) continue;
                        score.Add(t.Class, (PointingOutcome)t.Outcome);
                        any = true;
                    }
                    if (any) images++;
                }
                rows.Add(new PointingSummaryRow(m.Name, subset, score.TorchRayAccuracy, score.PresentClassAccuracy, images,
                    score.PresentClasses, score.Hits.Sum(), score.Trials, SaliencyMethods.Describe(m)));
            }
        }
        return new PointingGameSummary(_dataset.Name, _model.Name, ImagesPlanned, _options.Tolerance, rows);
    }

    /// <summary>
    /// Reads <c>results.jsonl</c> (missing file = no results). A last line that is cut short or unparsable is dropped and,
    /// with <paramref name="repair"/>, cut off the file so that appending starts on a fresh line.
    /// </summary>
    /// <exception cref="InvalidDataException">A line other than the last is not a valid result.</exception>
    public static IReadOnlyList<PointingImageResult> ReadResults(string path, bool repair = false)
    {
        if (!File.Exists(path)) return Array.Empty<PointingImageResult>();
        var bytes = File.ReadAllBytes(path);
        var results = new List<PointingImageResult>();
        long goodEnd = 0;
        int pos = 0, lineNo = 0;
        while (pos < bytes.Length)
        {
            int nl = Array.IndexOf(bytes, (byte)'\n', pos);
            bool complete = nl >= 0;
            int end = complete ? nl : bytes.Length;
            lineNo++;
            var text = Encoding.UTF8.GetString(bytes, pos, end - pos).Trim();
            if (text.Length > 0)
            {
                PointingImageResult? r;
                try { r = JsonSerializer.Deserialize<PointingImageResult>(text, Json); }
                catch (JsonException) { r = null; }
                if (r is null || r.Method is null || r.Trials is null)
                {
                    bool isLast = !complete || Encoding.UTF8.GetString(bytes, nl + 1, bytes.Length - nl - 1).Trim().Length == 0;
                    if (!isLast) throw new InvalidDataException($"{path}: line {lineNo} is not a valid result line; remove it or start a new output folder.");
                    break; // a truncated last line (the run was killed while writing it): that pair is redone
                }
                results.Add(r);
            }
            goodEnd = complete ? nl + 1 : bytes.Length;
            pos = end + 1;
        }
        if (repair && goodEnd < bytes.Length)
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Write);
            fs.SetLength(goodEnd);
        }
        else if (repair && goodEnd == bytes.Length && bytes.Length > 0 && bytes[^1] != (byte)'\n')
        {
            File.AppendAllText(path, "\n"); // a complete last line without its newline
        }
        return results;
    }

    /// <summary>Writes <c>summary.json</c> and <c>summary.csv</c> (invariant culture, accuracies in %) into <paramref name="dir"/>.</summary>
    public static void WriteSummary(PointingGameSummary summary, string dir)
    {
        File.WriteAllText(Path.Combine(dir, "summary.json"), JsonSerializer.Serialize(summary, JsonIndented) + "\n");
        var sb = new StringBuilder("method,subset,torchray_accuracy_pct,present_class_accuracy_pct,images,classes,hits,trials,parameters\n");
        foreach (var r in summary.Rows)
            sb.Append(string.Join(",", r.Method, r.Subset, Pct(r.TorchRayAccuracy), Pct(r.PresentClassAccuracy), r.Images, r.Classes, r.Hits, r.Trials,
                "\"" + r.Parameters.Replace("\"", "\"\"") + "\"")).Append('\n');
        File.WriteAllText(Path.Combine(dir, "summary.csv"), sb.ToString());
    }

    /// <summary>A fixed-width text table of the summary (for the console).</summary>
    public static string FormatTable(PointingGameSummary summary, string? subset = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"pointing game: {summary.Dataset}, model {summary.Model}, {summary.ImagesPlanned} images, tolerance {summary.Tolerance} px");
        sb.AppendLine($"{"method",-24} {"subset",-10} {"TorchRay %",10} {"present %",10} {"images",7} {"classes",7} {"trials",7}");
        foreach (var r in summary.Rows.Where(r => subset is null || r.Subset == subset))
            sb.AppendLine($"{r.Method,-24} {r.Subset,-10} {Pct(r.TorchRayAccuracy),10} {Pct(r.PresentClassAccuracy),10} {r.Images,7} {r.Classes,7} {r.Trials,7}");
        return sb.ToString();
    }

    static string Pct(double v) => double.IsNaN(v) ? "NaN" : (100 * v).ToString("F2", CultureInfo.InvariantCulture);

    sealed record RunInfo(string Dataset, string Model, Dictionary<string, string> Methods, double Tolerance);

    void CheckRunFile()
    {
        var path = Path.Combine(_outDir, RunFile);
        var mine = new RunInfo(_dataset.Name, _model.Name, _methods.ToDictionary(m => m.Name, SaliencyMethods.Describe), _options.Tolerance);
        if (File.Exists(path))
        {
            var old = JsonSerializer.Deserialize<RunInfo>(File.ReadAllText(path))
                      ?? throw new InvalidDataException($"{path} is not a valid run description.");
            if (old.Dataset != mine.Dataset || old.Model != mine.Model || old.Tolerance != mine.Tolerance)
                throw new InvalidOperationException($"Output folder '{_outDir}' holds a run of dataset '{old.Dataset}' / model '{old.Model}' / tolerance {old.Tolerance}; use another --out.");
            foreach (var (name, desc) in mine.Methods)
                if (old.Methods.TryGetValue(name, out var od) && od != desc)
                    throw new InvalidOperationException($"Output folder '{_outDir}' holds results of '{name}' with other parameters ({od}); use another --out.");
            foreach (var (name, desc) in old.Methods) mine.Methods.TryAdd(name, desc);
        }
        File.WriteAllText(path, JsonSerializer.Serialize(mine, JsonIndented) + "\n");
    }
}
