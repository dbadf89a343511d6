using System.Diagnostics;
using System.Text.Json.Serialization;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Imaging.Data;
using XaiLab.Saliency.AblationPaths;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Evaluation.Sweeps;

/// <summary>
/// One point of a pointing-game sweep: dataset, model, method and the method's options record. <see cref="Limit"/> is not
/// part of the cache key, so raising it extends the cached run instead of starting again.
/// </summary>
public sealed record PointingSweepConfig
{
    /// <summary>Dataset registry name. Default <c>fashion-scenes-multi</c>.</summary>
    public string Dataset { get; init; } = "fashion-scenes-multi";
    /// <summary>Split. Default test.</summary>
    public string Split { get; init; } = "test";
    /// <summary>Model registry name. Default <c>fashion-cnn-multi</c>.</summary>
    public string Model { get; init; } = "fashion-cnn-multi";
    /// <summary>
    /// Method name: one of <see cref="SaliencyMethods.Names"/> (with its options record in <see cref="Options"/>), or
    /// <c>ablation-path-avg|clt|influence|cav</c> with an optional <c>-window</c> (options: <see cref="AblationPathOptions"/>).
    /// </summary>
    public string Method { get; init; } = "ablation-path-clt";
    /// <summary>The method's options record (null: its defaults).</summary>
    public object? Options { get; init; }
    /// <summary>Images (the first N of the split). Default 20.</summary>
    public int Limit { get; init; } = 20;
    /// <summary>Pointing tolerance in pixels. Default 15 (TorchRay).</summary>
    public double Tolerance { get; init; } = PointingGame.DefaultTolerance;

    /// <summary>This configuration with its <see cref="Options"/> changed by <paramref name="change"/> (the options default when unset).</summary>
    public PointingSweepConfig WithOptions<TOptions>(Func<TOptions, TOptions> change) where TOptions : class, new() =>
        this with { Options = change(Options as TOptions ?? new TOptions()) };
}

/// <summary>
/// One point of an ablation-path sweep: the optimisation options and what to measure. Every path is optimised once and
/// reduced with every reduction in <see cref="Reductions"/> for the pointing game, so Tables 2.3–2.5 (reductions × options)
/// cost one optimisation per (scene, class). <see cref="Scenes"/> is not part of the cache key.
/// </summary>
public sealed record AblationSweepConfig
{
    /// <summary>Dataset registry name. Default <c>fashion-scenes</c>.</summary>
    public string Dataset { get; init; } = "fashion-scenes";
    /// <summary>Split. Default test.</summary>
    public string Split { get; init; } = "test";
    /// <summary>Model registry name. Default <c>fashion-cnn</c>.</summary>
    public string Model { get; init; } = "fashion-cnn";
    /// <summary>The ablation-path options (Algorithm 2).</summary>
    public AblationPathOptions Options { get; init; } = new();
    /// <summary>Scenes (the first N of the split). Default 20.</summary>
    public int Scenes { get; init; } = 20;
    /// <summary>
    /// True: explain the model's top class of each scene, as <c>xailab explain</c> does with no <c>--class</c>.
    /// False: every annotated class whose objects are not all difficult (the pointing game's trials). Default true.
    /// </summary>
    public bool TopClassOnly { get; init; } = true;
    /// <summary>Reductions scored by the pointing game: <c>avg</c>, <c>clt</c>, <c>influence</c>, <c>cav</c> (pairs only), each optionally with <c>-window</c>. Default clt.</summary>
    public IReadOnlyList<string> Reductions { get; init; } = new[] { "clt" };
    /// <summary>Pointing tolerance in pixels. Default 15.</summary>
    public double Tolerance { get; init; } = PointingGame.DefaultTolerance;
}

/// <summary>One explained (scene, class) of an ablation-path sweep, as stored in the point's <c>trials.jsonl</c>.</summary>
public sealed record AblationSweepTrial(
    [property: JsonPropertyName("class")] int Class,
    [property: JsonPropertyName("score")] double Score,
    [property: JsonPropertyName("retaining")] double Retaining,
    [property: JsonPropertyName("saturation")] double Saturation,
    [property: JsonPropertyName("iterations")] int Iterations,
    [property: JsonPropertyName("stop")] string Stop,
    [property: JsonPropertyName("adversarial")] bool Adversarial,
    [property: JsonPropertyName("transition")] double TransitionTime,
    [property: JsonPropertyName("lastMask")] bool TransitionAtLastMask,
    [property: JsonPropertyName("difficult")] bool Difficult,
    [property: JsonPropertyName("pointing")] Dictionary<string, int> Pointing,
    [property: JsonPropertyName("seconds")] double Seconds);

/// <summary>One line of <c>trials.jsonl</c>: all trials of one scene.</summary>
public sealed record AblationSweepImage(
    [property: JsonPropertyName("image")] int Image,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("trials")] List<AblationSweepTrial> Trials);

/// <summary>
/// Runs sweeps (<see cref="SweepGrid{T}"/>) with a cache per configuration: each point's work lives in
/// <c>ROOT/LABEL-HASH/</c>, where HASH is <see cref="SweepKey.Hash"/> of the point's configuration (the scene count left out),
/// and <c>config.txt</c> holds the full description. Work is appended per image and flushed, so an interrupted cell
/// resumes, re-running it after editing or adding one value computes only the new points, and raising the scene count
/// computes only the new scenes. Points run one after another; models and datasets are opened once per run.
/// </summary>
public static class Sweep
{
    /// <summary>
    /// A pointing-game sweep through <see cref="PointingGameRunner"/> (resumable, <c>results.jsonl</c> per point). Metrics per point:
    /// <c>pointing all %</c>, <c>pointing difficult %</c> (TorchRay's mean over classes), the present-class means, and trial counts.
    /// </summary>
    /// <param name="device">cpu, cuda or cuda:N (default: $XAILAB_DEVICE or cpu).</param>
    /// <param name="grid">The configurations to run, one per grid point.</param>
    /// <param name="root">Folder of the sweep; each point runs in its own sub-folder and resumes there.</param>
    /// <param name="progress">Receives one report per finished (or already done) image of a point, synchronously on the running thread.</param>
    /// <param name="cancellationToken">Stops after the current image; a rerun resumes.</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static SweepTable PointingGame(SweepGrid<PointingSweepConfig> grid, string root, string? device = null,
        IProgress<SweepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var points = grid.Points;
        var rows = new List<SweepRow>();
        using var models = new ModelCache(device);
        for (int p = 0; p < points.Count; p++)
        {
            var point = points[p];
            var c = point.Config;
            if (c.Limit < 1) throw new ArgumentException($"Sweep point '{point.Label}': Limit must be ≥ 1; got {c.Limit}.");
            var folder = SweepKey.Folder(root, point.Label, c with { Limit = 0 });
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "config.txt"), SweepKey.Describe(c with { Limit = 0 }) + "\n");
            var method = CreateMethod(c.Method, c.Options);
            var ds = DatasetRegistry.Open(c.Dataset, c.Split);
            var runner = new PointingGameRunner(ds, models.Get(c.Model), new[] { method }, folder, new PointingGameRunOptions { Limit = c.Limit, Tolerance = c.Tolerance });
            int computed = 0;
            var summary = runner.Run(new SynchronousProgress<PointingGameProgress>(pr =>
            {
                if (!pr.Resumed) computed++;
                progress?.Report(new SweepProgress(p + 1, points.Count, point.Label, pr.Done, pr.Total, pr.Resumed));
            }), cancellationToken: cancellationToken);
            var all = summary.Rows.First(r => r.Subset == "all");
            var hard = summary.Rows.First(r => r.Subset == "difficult");
            var metrics = new Dictionary<string, double>
            {
                ["pointing all %"] = 100 * all.TorchRayAccuracy,
                ["pointing difficult %"] = 100 * hard.TorchRayAccuracy,
                ["present all %"] = 100 * all.PresentClassAccuracy,
                ["present difficult %"] = 100 * hard.PresentClassAccuracy,
                ["trials"] = all.Trials,
                ["difficult trials"] = hard.Trials,
            };
            rows.Add(new SweepRow(point.Settings, point.Values, metrics, new Dictionary<string, IReadOnlyList<double>>(), folder, computed));
        }
        var table = new SweepTable($"pointing-game sweep ({points.Count} points)", grid.Axes,
            new[] { "pointing all %", "pointing difficult %", "present all %", "present difficult %", "trials", "difficult trials" }, rows, root);
        table.Save();
        return table;
    }

    /// <summary>
    /// An ablation-path sweep: per point, optimises a path for each scene's top class (or every annotated class), records
    /// score, saturation, iterations, stop reason, the adversarial flag (P↑ ≥ the threshold), the class-transition time,
    /// and the pointing outcome of every configured reduction. Metrics: <c>saturated &amp; not adversarial %</c> (the
    /// "defaults that work" criterion), <c>saturated %</c>, <c>adversarial %</c>, <c>transition at last mask %</c>,
    /// <c>mean iterations</c>, <c>median score</c>, <c>pointing REDUCTION %</c> (present trials; −1/+1 outcomes) and
    /// <c>pointing REDUCTION difficult %</c> (the trials of the difficult subset), trial counts, and the
    /// mean seconds per path. Samples: score, saturation, iterations (violins of Figs 2.10/2.11).
    /// </summary>
    /// <param name="grid">The configurations to run, one per grid point.</param>
    /// <param name="root">Folder of the sweep; each point runs in its own sub-folder and resumes there.</param>
    /// <param name="device">cpu, cuda or cuda:N (default: $XAILAB_DEVICE or cpu).</param>
    /// <param name="progress">Receives one report per finished (or already done) scene of a point, synchronously on the running thread.</param>
    /// <param name="cancellationToken">Stops after the current scene (within a path's optimisation); a rerun resumes.</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static SweepTable AblationPaths(SweepGrid<AblationSweepConfig> grid, string root, string? device = null,
        IProgress<SweepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var points = grid.Points;
        var rows = new List<SweepRow>();
        using var models = new ModelCache(device);
        var allReductions = new List<string>();
        for (int p = 0; p < points.Count; p++)
        {
            var point = points[p];
            var c = point.Config;
            if (c.Scenes < 1) throw new ArgumentException($"Sweep point '{point.Label}': Scenes must be ≥ 1; got {c.Scenes}.");
            c.Options.Validate();
            var reductions = c.Reductions.Select(r => (Name: r, Parsed: ParseReduction(r))).ToArray();
            foreach (var r in reductions)
                if (r.Parsed.Reduction == AblationReduction.ContrastiveAverage && c.Options.Score != AblationScore.Straddling)
                    throw new ArgumentException($"Sweep point '{point.Label}': reduction '{r.Name}' needs Score = Straddling.");
            foreach (var r in reductions) if (!allReductions.Contains(r.Name)) allReductions.Add(r.Name);
            var key = c with { Scenes = 0 };
            var folder = SweepKey.Folder(root, point.Label, key);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "config.txt"), SweepKey.Describe(key) + "\n");
            var file = Path.Combine(folder, "trials.jsonl");
            var done = JsonLines.Read<AblationSweepImage>(file, repair: true).GroupBy(i => i.Image).ToDictionary(g => g.Key, g => g.First());
            var ds = DatasetRegistry.Open(c.Dataset, c.Split);
            var model = models.Get(c.Model);
            int n = Math.Min(c.Scenes, ds.Count), computed = 0;
            for (int i = 0; i < n; i++)
            {
                if (done.ContainsKey(i)) { progress?.Report(new SweepProgress(p + 1, points.Count, point.Label, i + 1, n, true)); continue; }
                cancellationToken.ThrowIfCancellationRequested();
                using var scene = ds.Get(i);
                var line = new AblationSweepImage(i, scene.Id, ExplainScene(model, scene, c, reductions, cancellationToken));
                JsonLines.Append(file, line);
                done[i] = line;
                computed++;
                progress?.Report(new SweepProgress(p + 1, points.Count, point.Label, i + 1, n, false));
            }
            var trials = Enumerable.Range(0, n).SelectMany(i => done[i].Trials).ToArray();
            rows.Add(new SweepRow(point.Settings, point.Values, Aggregate(trials, reductions.Select(r => r.Name)), new Dictionary<string, IReadOnlyList<double>>
            {
                ["score"] = trials.Select(t => t.Score).ToArray(),
                ["saturation"] = trials.Select(t => t.Saturation).ToArray(),
                ["iterations"] = trials.Select(t => (double)t.Iterations).ToArray(),
            }, folder, computed));
        }
        var metrics = new List<string> { "saturated & not adversarial %", "saturated %", "adversarial %", "transition at last mask %", "mean iterations", "median score" };
        metrics.AddRange(allReductions.Select(r => $"pointing {r} %"));
        metrics.AddRange(allReductions.Select(r => $"pointing {r} difficult %"));
        metrics.AddRange(new[] { "trials", "difficult trials", "seconds per path" });
        var table = new SweepTable($"ablation-path sweep ({points.Count} points)", grid.Axes, metrics, rows, root);
        table.Save();
        return table;
    }

    /// <summary>The sweep's figures of a point from its trials (see <see cref="AblationPaths"/>).</summary>
    public static Dictionary<string, double> Aggregate(IReadOnlyList<AblationSweepTrial> trials, IEnumerable<string> reductions)
    {
        double Pct(Func<AblationSweepTrial, bool> f) => trials.Count == 0 ? double.NaN : 100.0 * trials.Count(f) / trials.Count;
        var m = new Dictionary<string, double>
        {
            ["saturated & not adversarial %"] = Pct(t => t.Stop == nameof(StopReason.Saturated) && !t.Adversarial),
            ["saturated %"] = Pct(t => t.Stop == nameof(StopReason.Saturated)),
            ["adversarial %"] = Pct(t => t.Adversarial),
            ["transition at last mask %"] = Pct(t => t.TransitionAtLastMask),
            ["mean iterations"] = trials.Count == 0 ? double.NaN : trials.Average(t => t.Iterations),
            ["median score"] = Median(trials.Select(t => t.Score)),
            ["trials"] = trials.Count,
            ["difficult trials"] = trials.Count(t => t.Difficult),
            ["seconds per path"] = trials.Count == 0 ? double.NaN : trials.Average(t => t.Seconds),
        };
        foreach (var r in reductions)
        {
            var counted = trials.Where(t => t.Pointing.TryGetValue(r, out var o) && o != 0).ToArray();
            m[$"pointing {r} %"] = counted.Length == 0 ? double.NaN : 100.0 * counted.Count(t => t.Pointing[r] > 0) / counted.Length;
            var hard = counted.Where(t => t.Difficult).ToArray();
            m[$"pointing {r} difficult %"] = hard.Length == 0 ? double.NaN : 100.0 * hard.Count(t => t.Pointing[r] > 0) / hard.Length;
        }
        return m;
    }

    static double Median(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).OrderBy(x => x).ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
    }

    static List<AblationSweepTrial> ExplainScene(Classifier model, Scene scene, AblationSweepConfig c,
        (string Name, (AblationReduction Reduction, bool Window) Parsed)[] reductions, CancellationToken ct)
    {
        var trials = new List<AblationSweepTrial>();
        using var scope = NewDisposeScope();
        var image = scene.Image;
        if (model.InputSize is { } s && (s.H != scene.Height || s.W != scene.Width))
            image = nn.functional.interpolate(image.unsqueeze(0), new long[] { s.H, s.W }, mode: InterpolationMode.Bilinear, align_corners: false)[0];
        IEnumerable<int> classes = c.TopClassOnly ? new[] { model.Predict(image).Class }
            : scene.Classes.Where(k => !Evaluation.PointingGame.AllObjectsDifficult(scene, k));
        foreach (var k in classes)
        {
            var sw = Stopwatch.StartNew();
            using var r = AblationPath.Optimise(model, image, k, c.Options, null, ct);
            sw.Stop();
            var choice = r.ClassTransition;
            var pointing = new Dictionary<string, int>();
            bool annotated = scene.Classes.Contains(k);
            foreach (var (name, (red, win)) in reductions)
            {
                if (!annotated) { pointing[name] = 0; continue; }
                using var map = AblationPathMethod.ToSaliencyMap(r, red, win);
                var pt = Evaluation.PointingGame.Point(map, scene.Height, scene.Width);
                pointing[name] = (int)Evaluation.PointingGame.Evaluate(scene, k, pt, c.Tolerance);
            }
            bool adversarial = c.Options.Score != AblationScore.Dissipating && r.RetainingScore >= c.Options.AdversarialScoreThreshold;
            trials.Add(new AblationSweepTrial(k, r.Score, r.RetainingScore, r.Saturation, r.Iterations, r.StopReason.ToString(), adversarial,
                choice.Time, Math.Abs(choice.Time - r.Times[^1]) < 1e-9, annotated && Evaluation.PointingGame.InDifficultSubset(scene, k), pointing,
                Math.Round(sw.Elapsed.TotalSeconds, 4)));
        }
        return trials;
    }

    /// <summary>Parses a reduction name of a sweep (<c>avg</c>, <c>clt</c>, <c>influence</c>, <c>cav</c>, optionally <c>-window</c>).</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static (AblationReduction Reduction, bool Window) ParseReduction(string name)
    {
        var key = (name ?? "").Trim().ToLowerInvariant();
        bool window = key.EndsWith("-window", StringComparison.Ordinal);
        if (window) key = key[..^"-window".Length];
        foreach (var r in Enum.GetValues<AblationReduction>())
            if (AblationPathMethod.ReductionName(r) == key) return (r, window);
        throw new ArgumentException($"Unknown reduction '{name}': expected avg, clt, influence or cav, optionally with -window.");
    }

    /// <summary>
    /// The method of a pointing sweep point: <c>ablation-path-REDUCTION[-window]</c> (options: <see cref="AblationPathOptions"/>)
    /// or a name of <see cref="SaliencyMethods"/> with its options record.
    /// </summary>
    public static ISaliencyMethod CreateMethod(string name, object? options)
    {
        const string prefix = "ablation-path-";
        if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            if (options is not null and not AblationPathOptions)
                throw new ArgumentException($"Method '{name}' takes AblationPathOptions; got {options.GetType().Name}.");
            var (red, win) = ParseReduction(name[prefix.Length..]);
            return new AblationPathMethod(red, (AblationPathOptions?)options, win);
        }
        return SaliencyMethods.Create(name, options);
    }

    /// <summary>Models by registry name, loaded once per sweep run and disposed with it.</summary>
    sealed class ModelCache : IDisposable
    {
        readonly Dictionary<string, Classifier> _models = new(StringComparer.OrdinalIgnoreCase);
        readonly string? _device;
        public ModelCache(string? device) => _device = device ?? Environment.GetEnvironmentVariable(Devices.EnvironmentVariable);
        public Classifier Get(string name)
        {
            if (_models.TryGetValue(name, out var m)) return m;
            m = ModelRegistry.Load(name);
            if (!string.IsNullOrWhiteSpace(_device)) m.To(Devices.Resolve(_device));
            return _models[name] = m;
        }
        public void Dispose() { foreach (var m in _models.Values) m.Dispose(); }
    }
}
