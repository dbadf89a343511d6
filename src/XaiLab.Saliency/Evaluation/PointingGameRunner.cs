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

/// <summary>
/// One line of <c>results.jsonl</c>: all trials of one image for one method. <see cref="Id"/> is the scene's id (checked against
/// the dataset on resume) and <see cref="Run"/> the key of the run it belongs to (<see cref="PointingGameRun.LineKey"/>), so a
/// line can never be counted in another run.
/// </summary>
public sealed record PointingImageResult(
    [property: JsonPropertyName("image")] int Image,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("run")] string Run,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("trials")] IReadOnlyList<PointingTrial> Trials);

/// <summary>One row of the summary: a method on one subset ("all" or "difficult").</summary>
/// <param name="TorchRayAccuracy">Mean over all dataset classes, classes without trials counting 0 (TorchRay's number).</param>
/// <param name="PresentClassAccuracy">Mean over the classes with trials.</param>
/// <param name="Images">Images with at least one counted trial in this subset.</param>
/// <param name="Classes">Classes with at least one counted trial.</param>
/// <param name="Trials">Counted trials (hits + misses).</param>
/// <param name="Parameters">The method's options.</param>
/// <param name="Method">The method's name.</param>
/// <param name="Subset">"all" or "difficult".</param>
/// <param name="Hits">Counted hits.</param>
public sealed record PointingSummaryRow(string Method, string Subset, double TorchRayAccuracy, double PresentClassAccuracy,
    int Images, int Classes, long Hits, long Trials, string Parameters);

/// <summary>The summary written to <c>summary.json</c> / <c>summary.csv</c>.</summary>
public sealed record PointingGameSummary(string Dataset, string Model, int ImagesPlanned, double Tolerance, IReadOnlyList<PointingSummaryRow> Rows);

/// <summary>Progress of a run: the image just finished (or skipped because already in the file).</summary>
public sealed record PointingGameProgress(int Done, int Total, int Image, string Method, double Seconds, bool Resumed);

/// <summary>Options of <see cref="PointingGameRunner"/>.</summary>
public sealed record PointingGameRunOptions
{
    /// <summary>Only the first N images; null = all. Not part of the run identity: a longer run resumes a shorter one.</summary>
    public int? Limit { get; init; }
    /// <summary>Hit tolerance in pixels; default 15 (TorchRay). Part of the run identity.</summary>
    public double Tolerance { get; init; } = PointingGame.DefaultTolerance;
    /// <summary>The dataset split (e.g. <c>test</c>), recorded in the run identity; null = not stated.</summary>
    public string? Split { get; init; }
    /// <summary>Run only this shard of the images (<see cref="PointingGameShard"/>); null = all. Shards are combined by <see cref="PointingGameRun.Merge"/>.</summary>
    public PointingGameShard? Shard { get; init; }
    /// <summary>
    /// Images whose (image, class) pairs a batched method (<see cref="IBatchSaliencyMethod"/>, the ablation paths) explains in
    /// one batch; default 1 (the classes of one image together). Larger batches pay off on a GPU (e.g. 8); on a 2-core CPU
    /// one forward over more masks is not faster. Lines are still written per image, after each batch, so an interrupted
    /// run loses at most one batch. Not part of the run identity (the results are the same up to float rounding).
    /// </summary>
    public int BatchImages { get; init; } = 1;
}

/// <summary>
/// A resumable pointing-game run over a dataset, a classifier and several methods (thesis §2.7.3). Every finished
/// (image, method) pair is appended as one JSON line to <c>results.jsonl</c> in the output folder and flushed; a restarted
/// run reads the file, skips the finished pairs (a last line cut short by a kill is reported, cut off and redone) and goes on.
/// At the end it writes <c>summary.json</c> and <c>summary.csv</c>: per method and subset (all / difficult) both averaging
/// rules, image/class/trial counts and the method parameters.
/// <para>The folder's <c>run.json</c> records the run identity (<see cref="PointingGameRunDescription"/>: result format,
/// dataset, split, model, tolerance, shard and every method's full options). Before anything is written, a folder of
/// another run is refused with a one-line error and left unchanged: a different identity, a <c>results.jsonl</c> without
/// <c>run.json</c>, a line whose run key or scene id does not match, or a damaged line anywhere.</para>
/// <para>Every class annotated in an image is explained (TorchRay); images are resized bilinearly to the model's input
/// size where it is fixed (<see cref="Resize.ToModel"/>), and the saliency back to the image.</para>
/// </summary>
public sealed class PointingGameRunner
{
    /// <summary>File name of the per-image results (<see cref="PointingGameRun.ResultsFile"/>).</summary>
    public const string ResultsFile = PointingGameRun.ResultsFile;
    /// <summary>File name of the run identity (<see cref="PointingGameRun.RunFile"/>).</summary>
    public const string RunFile = PointingGameRun.RunFile;
    static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    readonly ISceneDataset _dataset;
    readonly Classifier _model;
    readonly IReadOnlyList<ISaliencyMethod> _methods;
    readonly string _outDir;
    readonly PointingGameRunOptions _options;
    readonly PointingGameRunDescription _run;

    /// <exception cref="ArgumentException">No methods, duplicate method names, limit ≤ 0, or the model's classes do not match the dataset's.</exception>
    public PointingGameRunner(ISceneDataset dataset, Classifier model, IReadOnlyList<ISaliencyMethod> methods, string outDir, PointingGameRunOptions? options = null)
    {
        _options = options ?? new PointingGameRunOptions();
        if (methods.Count == 0) throw new ArgumentException("Pointing game: no methods given.");
        var dup = methods.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"Pointing game: method '{dup.Key}' is given twice.");
        if (_options.BatchImages < 1) throw new ArgumentException($"Pointing game: batch of images must be ≥ 1; got {_options.BatchImages}.");
        if (_options.Limit is <= 0) throw new ArgumentException($"Pointing game: limit must be positive; got {_options.Limit}.");
        if (!(_options.Tolerance > 0) || !double.IsFinite(_options.Tolerance)) throw new ArgumentException($"Pointing game: tolerance must be a positive number of pixels; got {_options.Tolerance}.");
        if (model.NumClasses != dataset.ClassNames.Count)
            throw new ArgumentException($"Pointing game: model '{model.Name}' has {model.NumClasses} classes but dataset '{dataset.Name}' has {dataset.ClassNames.Count}.");
        if (dataset.Count == 0) throw new ArgumentException($"Pointing game: dataset '{dataset.Name}' is empty.");
        _dataset = dataset; _model = model; _methods = methods; _outDir = outDir;
        _run = new PointingGameRunDescription(PointingGameRun.FormatVersion, dataset.Name, _options.Split, model.Name, model.NumClasses,
            _options.Tolerance, _options.Shard?.ToString(), methods.ToDictionary(m => m.Name, SaliencyMethods.Describe),
            Math.Min(dataset.Count, _options.Limit ?? int.MaxValue), methods.Select(m => m.Name).ToArray());
    }

    /// <summary>Images of the dataset this run covers (all shards together).</summary>
    public int ImagesPlanned => _run.ImagesPlanned;
    /// <summary>Full path of this run's <c>results.jsonl</c>.</summary>
    public string ResultsPath => Path.Combine(_outDir, ResultsFile);
    /// <summary>The run identity this runner writes to <c>run.json</c> (the methods of this invocation only).</summary>
    public PointingGameRunDescription Description => _run;

    /// <summary>
    /// Runs (or resumes) the benchmark and, for an unsharded run, writes the summary (a shard's images are summarised by
    /// <see cref="PointingGameRun.Merge"/>; the returned summary then covers this shard only). On cancellation it stops between
    /// images, keeping every finished line, and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    /// <param name="progress">Receives one report per finished (or already done) pair, synchronously on the running thread
    /// (pass a <see cref="SynchronousProgress{T}"/> or a notebook progress sink rather than <see cref="Progress{T}"/>).</param>
    /// <param name="log">A text log: one line for each repair made to the folder (a last line cut short by an interrupted write).</param>
    /// <param name="cancellationToken">Stops after the current (image, method) pair; finished lines stay on disk and a rerun resumes.</param>
    /// <exception cref="InvalidOperationException">The folder holds another run; nothing was changed.</exception>
    /// <exception cref="InvalidDataException">A damaged line or run.json; nothing was changed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public PointingGameSummary Run(IProgress<PointingGameProgress>? progress = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (File.Exists(_outDir)) throw new InvalidOperationException($"Output folder '{_outDir}' is a file; give a folder.");
        // Everything is checked before anything is written, so a refused folder stays byte-identical.
        var old = PointingGameRun.ReadDescription(_outDir);
        var file = PointingGameRun.ReadResultsFile(ResultsPath);
        if (old is null && file.Results.Count + file.TruncatedBytes > 0)
            throw new InvalidOperationException($"Output folder '{_outDir}' holds {ResultsFile} but no {RunFile}: it belongs to another run or an older XaiLab; use another --out.");
        var merged = old is null ? _run : PointingGameRun.CheckCompatible(old, _run, _outDir);
        var ids = CheckLines(file.Results, merged);

        Directory.CreateDirectory(_outDir);
        if (file.TruncatedBytes > 0)
            log?.Invoke($"{ResultsPath}: the last line was cut short ({file.TruncatedBytes} bytes, an interrupted write); it is removed and that pair is redone.");
        PointingGameRun.Repair(ResultsPath, file);
        PointingGameRun.WriteDescription(_outDir, merged);

        var done = file.Results.Select(r => (r.Image, r.Method)).ToHashSet();
        var owned = new List<int>();
        for (int i = 0; i < ImagesPlanned; i++)
        {
            if (_options.Shard is not { } shard) { owned.Add(i); continue; }
            if (!ids.TryGetValue(i, out var id))
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scene = _dataset.Get(i);
                id = scene.Id;
            }
            if (shard.Owns(id)) owned.Add(i);
        }
        int total = owned.Count * _methods.Count, count = 0;
        int batch = _options.BatchImages;
        using (var stream = new FileStream(ResultsPath, FileMode.Append, FileAccess.Write, FileShare.Read))
        using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
        {
            void Write(int i, Scene scene, ISaliencyMethod m, IReadOnlyList<PointingTrial> trials, double seconds)
            {
                var key = PointingGameRun.LineKey(_run, m.Name);
                var line = JsonSerializer.Serialize(new PointingImageResult(i, scene.Id, m.Name, key, Math.Round(seconds, 4), trials), Json);
                writer.Write(line + "\n");
                writer.Flush();
                stream.Flush(flushToDisk: true);
                done.Add((i, m.Name));
                progress?.Report(new PointingGameProgress(++count, total, i, m.Name, seconds, false));
            }
            for (int c0 = 0; c0 < owned.Count; c0 += batch)
            {
                var chunk = owned.GetRange(c0, Math.Min(batch, owned.Count - c0));
                var pending = new List<int>();
                foreach (int i in chunk)
                {
                    if (_methods.All(m => done.Contains((i, m.Name))))
                        foreach (var m in _methods) progress?.Report(new PointingGameProgress(++count, total, i, m.Name, 0, true));
                    else pending.Add(i);
                }
                if (pending.Count == 0) continue;
                cancellationToken.ThrowIfCancellationRequested();
                var scenes = new List<Scene>();
                try
                {
                    foreach (int i in pending) scenes.Add(_dataset.Get(i));
                    foreach (var m in _methods)
                    {
                        var todo = new List<int>();
                        for (int k = 0; k < pending.Count; k++)
                        {
                            if (done.Contains((pending[k], m.Name))) progress?.Report(new PointingGameProgress(++count, total, pending[k], m.Name, 0, true));
                            else todo.Add(k);
                        }
                        if (todo.Count == 0) continue;
                        cancellationToken.ThrowIfCancellationRequested();
                        if (m is IBatchSaliencyMethod bm && todo.Count > 1)
                        {
                            // One batch over every (image, class) pair of the chunk; each line gets its share of the time.
                            var sw = Stopwatch.StartNew();
                            var all = EvaluateScenes(todo.Select(k => scenes[k]).ToArray(), bm);
                            double each = sw.Elapsed.TotalSeconds / todo.Count;
                            for (int j = 0; j < todo.Count; j++) Write(pending[todo[j]], scenes[todo[j]], m, all[j], each);
                        }
                        else
                        {
                            foreach (int k in todo)
                            {
                                cancellationToken.ThrowIfCancellationRequested();
                                var sw = Stopwatch.StartNew();
                                var trials = EvaluateScene(scenes[k], m);
                                Write(pending[k], scenes[k], m, trials, sw.Elapsed.TotalSeconds);
                            }
                        }
                    }
                }
                finally
                {
                    foreach (var sc in scenes) sc.Dispose();
                }
            }
        }
        var results = PointingGameRun.ReadResultsFile(ResultsPath).Results;
        if (_options.Shard is null)
        {
            var summary = PointingGameRun.Summarise(_run, results);
            PointingGameRun.WriteSummary(summary, _outDir);
            return summary;
        }
        var mine = owned.ToHashSet();
        var partial = PointingGameRun.Summarise(_run, results.Where(r => mine.Contains(r.Image)));
        return partial with { ImagesPlanned = owned.Count };
    }

    /// <summary>
    /// Checks every existing line against the run (its key, method, image range, classes) and against the dataset (the scene id),
    /// returning image → id. Throws before anything is written.
    /// </summary>
    Dictionary<int, string> CheckLines(IReadOnlyList<PointingImageResult> lines, PointingGameRunDescription run)
    {
        var ids = new Dictionary<int, string>();
        PointingGameRun.CheckLines(lines, run, ResultsPath);
        foreach (var g in lines.Select((r, k) => (r, k)).GroupBy(t => t.r.Image))
        {
            int i = g.Key;
            if (i >= _dataset.Count)
                throw new InvalidDataException($"{ResultsPath}: line {g.First().k + 1} is about image {i}, but dataset '{_dataset.Name}' has {_dataset.Count}; it belongs to another run.");
            using var scene = _dataset.Get(i);
            foreach (var (r, k) in g)
                if (r.Id != scene.Id)
                    throw new InvalidOperationException($"{ResultsPath}: line {k + 1} is about scene '{r.Id}', but image {i} of '{_dataset.Name}' is '{scene.Id}': the folder belongs to another run; use another --out.");
            if (_options.Shard is { } shard && !shard.Owns(scene.Id))
                throw new InvalidOperationException($"{ResultsPath}: line {g.First().k + 1} (scene '{scene.Id}') belongs to another shard than {shard}; use one folder per shard.");
            ids[i] = scene.Id;
        }
        return ids;
    }

    /// <summary>
    /// All trials of one scene for one method. A method that explains several classes together
    /// (<see cref="IMultiClassSaliencyMethod"/>: RISE from one set of masked forwards, ablation paths in one batch) gets every
    /// counted class of the scene in one call.
    /// </summary>
    public IReadOnlyList<PointingTrial> EvaluateScene(Scene scene, ISaliencyMethod method)
    {
        using var scope = NewDisposeScope();
        var image = Resize.ToModel(scene.Image, _model);
        var counted = scene.Classes.Where(c => !PointingGame.AllObjectsDifficult(scene, c)).ToArray();
        IReadOnlyList<SaliencyMap> maps = counted.Length == 0 ? Array.Empty<SaliencyMap>()
            : method is IMultiClassSaliencyMethod mm && counted.Length > 1 ? mm.ExplainMany(_model, image, counted)
            : counted.Select(c => method.Explain(_model, image, c)).ToArray();
        try { return Trials(scene, counted, maps); }
        finally { foreach (var m in maps) m.Dispose(); }
    }

    /// <summary>
    /// All trials of several scenes for a batched method (<see cref="IBatchSaliencyMethod"/>): every counted (scene, class) pair
    /// in one <see cref="IBatchSaliencyMethod.ExplainBatch"/> call per image shape. The trials equal those of
    /// <see cref="EvaluateScene"/> up to float rounding of the batched network.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<PointingTrial>> EvaluateScenes(IReadOnlyList<Scene> scenes, IBatchSaliencyMethod method)
    {
        using var scope = NewDisposeScope();
        var images = scenes.Select(s => Resize.ToModel(s.Image, _model)).ToArray();
        var counted = scenes.Select(s => s.Classes.Where(c => !PointingGame.AllObjectsDifficult(s, c)).ToArray()).ToArray();
        var maps = counted.Select(c => new SaliencyMap[c.Length]).ToArray();
        try
        {
            var pairs = counted.SelectMany((cs, k) => cs.Select((c, j) => (k, j, c))).ToArray();
            foreach (var group in pairs.GroupBy(p => string.Join(",", images[p.k].shape)))
            {
                var g = group.ToArray();
                var got = method.ExplainBatch(_model, g.Select(p => (images[p.k], p.c)).ToArray());
                for (int n = 0; n < g.Length; n++) maps[g[n].k][g[n].j] = got[n];
            }
            return scenes.Select((s, k) => Trials(s, counted[k], maps[k])).ToArray();
        }
        finally { foreach (var m in maps.SelectMany(x => x)) m?.Dispose(); }
    }

    /// <summary>The trials of a scene in the order of its classes: counted classes pointed with their map, the rest outcome 0.</summary>
    IReadOnlyList<PointingTrial> Trials(Scene scene, IReadOnlyList<int> counted, IReadOnlyList<SaliencyMap> maps)
    {
        var trials = new List<PointingTrial>();
        foreach (var c in scene.Classes)
        {
            int k = -1;
            for (int j = 0; j < counted.Count; j++) if (counted[j] == c) { k = j; break; }
            if (k < 0) { trials.Add(new PointingTrial(c, 0, PointingGame.InDifficultSubset(scene, c), -1, -1)); continue; }
            var pt = PointingGame.Point(maps[k], scene.Height, scene.Width);
            var outcome = PointingGame.Evaluate(scene, c, pt, _options.Tolerance);
            trials.Add(new PointingTrial(c, (int)outcome, PointingGame.InDifficultSubset(scene, c), pt.X, pt.Y));
        }
        return trials;
    }

    /// <summary>Aggregates result lines (images below <see cref="ImagesPlanned"/>, this run's methods) into the summary.</summary>
    public PointingGameSummary Summarise(IEnumerable<PointingImageResult> results) => PointingGameRun.Summarise(_run, results);

    /// <summary>Reads <c>results.jsonl</c> (missing file = no results); see <see cref="PointingGameRun.ReadResultsFile"/>.</summary>
    /// <param name="repair">Cut a last line left unfinished by an interrupted write off the file (and end a complete last line with its newline).</param>
    /// <exception cref="InvalidDataException">A damaged line (any line that is complete but not a valid result); the message names it.</exception>
    /// <param name="path">The <c>results.jsonl</c> file.</param>
    public static IReadOnlyList<PointingImageResult> ReadResults(string path, bool repair = false)
    {
        var file = PointingGameRun.ReadResultsFile(path);
        if (repair) PointingGameRun.Repair(path, file);
        return file.Results;
    }

    /// <summary>Writes <c>summary.json</c> and <c>summary.csv</c> (invariant culture, accuracies in %) into <paramref name="dir"/>.</summary>
    public static void WriteSummary(PointingGameSummary summary, string dir) => PointingGameRun.WriteSummary(summary, dir);

    /// <summary>A fixed-width text table of the summary (for the console).</summary>
    public static string FormatTable(PointingGameSummary summary, string? subset = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"pointing game: {summary.Dataset}, model {summary.Model}, {summary.ImagesPlanned} images, tolerance {summary.Tolerance} px");
        sb.AppendLine($"{"method",-28} {"subset",-10} {"TorchRay %",10} {"present %",10} {"images",7} {"classes",7} {"trials",7}");
        foreach (var r in summary.Rows.Where(r => subset is null || r.Subset == subset))
            sb.AppendLine($"{r.Method,-28} {r.Subset,-10} {PointingGameRun.Pct(r.TorchRayAccuracy),10} {PointingGameRun.Pct(r.PresentClassAccuracy),10} {r.Images,7} {r.Classes,7} {r.Trials,7}");
        return sb.ToString();
    }
}
