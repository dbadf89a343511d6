using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace XaiLab.Saliency.Evaluation;

/// <summary>
/// The identity of a pointing-game run, stored as <c>run.json</c> in its folder: what makes two result lines comparable.
/// </summary>
/// <param name="Format">The result format version of the code that wrote it (<see cref="PointingGameRun.FormatVersion"/>).</param>
/// <param name="Dataset">Dataset name.</param>
/// <param name="Split">Dataset split (null = not stated).</param>
/// <param name="Model">Model name.</param>
/// <param name="Classes">The model's (= dataset's) class count.</param>
/// <param name="Tolerance">Hit tolerance in pixels.</param>
/// <param name="Shard">"K/N" for one shard of a run, null for a whole run.</param>
/// <param name="Methods">Every method whose results the folder holds → its full options (<see cref="Methods.SaliencyMethods.Describe"/>).</param>
/// <param name="ImagesPlanned">Images covered by the latest invocation (the limit; not part of the identity).</param>
/// <param name="RunMethods">The methods of the latest invocation, in order (the rows of its summary).</param>
public sealed record PointingGameRunDescription(
    [property: JsonPropertyName("format")] int Format,
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("split")] string? Split,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("classes")] int Classes,
    [property: JsonPropertyName("tolerance")] double Tolerance,
    [property: JsonPropertyName("shard")] string? Shard,
    [property: JsonPropertyName("methods")] Dictionary<string, string> Methods,
    [property: JsonPropertyName("imagesPlanned")] int ImagesPlanned,
    [property: JsonPropertyName("runMethods")] IReadOnlyList<string> RunMethods);

/// <summary>
/// One shard K of N of a dataset run (0 ≤ K &lt; N). An image belongs to shard <c>h(id) mod N</c>, h = the first 8 bytes of
/// SHA-256 of its scene id (UTF-8, big-endian): deterministic across machines and runs, independent of image order, and
/// close to N equal parts. K counts from 0 like Slurm's <c>$SLURM_ARRAY_TASK_ID</c> (with <c>--array=0-(N-1)</c>) and
/// Kubernetes' <c>$JOB_COMPLETION_INDEX</c>.
/// </summary>
public readonly record struct PointingGameShard
{
    /// <exception cref="ArgumentException">Not 0 ≤ index &lt; count.</exception>
    public PointingGameShard(int index, int count)
    {
        if (count < 1 || index < 0 || index >= count)
            throw new ArgumentException($"Shard {index}/{count}: expected K/N with N ≥ 1 and 0 ≤ K < N (K counts from 0, like $SLURM_ARRAY_TASK_ID and $JOB_COMPLETION_INDEX).");
        Index = index; Count = count;
    }

    /// <summary>K, 0-based.</summary>
    public int Index { get; }
    /// <summary>N.</summary>
    public int Count { get; }

    /// <summary>Parses "K/N".</summary>
    /// <exception cref="ArgumentException">Not of the form K/N with 0 ≤ K &lt; N; the message says what is expected.</exception>
    public static PointingGameShard Parse(string text)
    {
        var parts = (text ?? "").Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int k)
                              && int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && k < n)
            return new PointingGameShard(k, n);
        throw new ArgumentException($"--shard '{text}': expected K/N with N ≥ 1 and 0 ≤ K < N (K counts from 0, like $SLURM_ARRAY_TASK_ID and $JOB_COMPLETION_INDEX).");
    }

    /// <summary>The shard (0 … n−1) of scene <paramref name="sceneId"/> among <paramref name="n"/>.</summary>
    public static int Of(string sceneId, int n)
    {
        var h = SHA256.HashData(Encoding.UTF8.GetBytes(sceneId));
        ulong v = 0;
        for (int i = 0; i < 8; i++) v = (v << 8) | h[i];
        return (int)(v % (ulong)n);
    }

    /// <summary>Whether scene <paramref name="sceneId"/> belongs to this shard.</summary>
    public bool Owns(string sceneId) => Of(sceneId, Count) == Index;

    /// <summary>The shard as "K/N", as <c>--shard</c> takes it.</summary>
    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>What <see cref="PointingGameRun.ReadResultsFile"/> found.</summary>
/// <param name="Results">The valid lines, in file order.</param>
/// <param name="GoodLength">Bytes up to the end of the last valid line (its newline included where present).</param>
/// <param name="TruncatedBytes">Bytes of an unfinished last line (no newline, not a valid result): an interrupted write.</param>
/// <param name="NeedsNewline">The last line is valid but lacks its newline.</param>
public sealed record ResultsFileContent(IReadOnlyList<PointingImageResult> Results, long GoodLength, long TruncatedBytes, bool NeedsNewline);

/// <summary>
/// The files of a pointing-game run folder (<c>run.json</c>, <c>results.jsonl</c>, <c>summary.json</c>/<c>.csv</c>), the
/// identity checks, the summary, and <see cref="Merge"/>, which combines the folders of a sharded run into the folder an
/// unsharded run would have written (same <c>summary.json</c>/<c>summary.csv</c>, byte for byte).
/// </summary>
public static class PointingGameRun
{
    /// <summary>File name of the per-image results, one JSON line per (image, method), appended as they finish.</summary>
    public const string ResultsFile = "results.jsonl";
    /// <summary>File name of the run identity (dataset, split, model, methods, tolerance, shard), checked on resume.</summary>
    public const string RunFile = "run.json";

    /// <summary>
    /// The result format this code writes. 2: lines carry the run key and the scene id; run.json carries format, split, classes,
    /// shard and every method's full options. 3: the ablation-path options gained <c>BaselineSigmaCandidates</c> and the
    /// diagnostics keys became snake_case, so format-2 descriptions no longer match (a format-3 folder is never mistaken for
    /// an older run's). 4: Meaningful Perturbation's L1 and TV terms are the sums over a 224×224 image they were documented to
    /// be (they were divided once more by H·W), and the class-transition fallback searches t ≥ 25 % only (as the reference code),
    /// so maps changed while the options did not. Folders of another format are refused.
    /// </summary>
    public const int FormatVersion = 4;

    static readonly JsonSerializerOptions Json = new() { WriteIndented = false };
    static readonly JsonSerializerOptions JsonIndented = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>
    /// The key every result line carries: 16 hex digits of SHA-256 over format, dataset, split, model, classes, tolerance, the
    /// method's name and its full options. Not the shard or the limit: a line means the same in every shard and every length of run.
    /// </summary>
    public static string LineKey(PointingGameRunDescription run, string method)
    {
        var text = string.Join("\n", run.Format.ToString(CultureInfo.InvariantCulture), run.Dataset, run.Split ?? "", run.Model,
            run.Classes.ToString(CultureInfo.InvariantCulture), run.Tolerance.ToString("R", CultureInfo.InvariantCulture), method,
            run.Methods.TryGetValue(method, out var d) ? d : "");
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();
    }

    /// <summary>Reads <c>run.json</c> of <paramref name="dir"/>; null when there is none.</summary>
    /// <exception cref="InvalidDataException">It is not a run description.</exception>
    /// <exception cref="InvalidOperationException">It was written in another result format.</exception>
    public static PointingGameRunDescription? ReadDescription(string dir)
    {
        var path = Path.Combine(dir, RunFile);
        if (!File.Exists(path)) return null;
        PointingGameRunDescription? d;
        try { d = JsonSerializer.Deserialize<PointingGameRunDescription>(File.ReadAllText(path), JsonIndented); }
        catch (JsonException e) { throw new InvalidDataException($"{path} is not a pointing-game run description ({e.Message.Split('\n')[0]}); use another --out."); }
        if (d is null) throw new InvalidDataException($"{path} is not a pointing-game run description; use another --out.");
        if (d.Format != FormatVersion)
            throw new InvalidOperationException($"Output folder '{dir}' holds a run in result format {(d.Format == 0 ? "1 (an older XaiLab)" : d.Format.ToString(CultureInfo.InvariantCulture))}; this XaiLab writes format {FormatVersion}. Use another --out.");
        if (d.Dataset is null || d.Model is null || d.Methods is null || d.RunMethods is null)
            throw new InvalidDataException($"{path} is not a pointing-game run description (fields missing); use another --out.");
        return d;
    }

    /// <summary>Writes <c>run.json</c>.</summary>
    public static void WriteDescription(string dir, PointingGameRunDescription run) =>
        File.WriteAllText(Path.Combine(dir, RunFile), JsonSerializer.Serialize(run, JsonIndented) + "\n");

    /// <summary>
    /// Checks that a folder's run <paramref name="old"/> is the same run as <paramref name="mine"/> (format, dataset, split, model,
    /// classes, tolerance, shard, and equal options for every method both name) and returns the description to store: the old
    /// methods plus the new ones, the latest invocation's limit and method list.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another run; the message names the first difference.</exception>
    public static PointingGameRunDescription CheckCompatible(PointingGameRunDescription old, PointingGameRunDescription mine, string dir)
    {
        void Same<T>(string what, T a, T b)
        {
            if (!EqualityComparer<T>.Default.Equals(a, b))
                throw new InvalidOperationException($"Output folder '{dir}' holds a run with {what} {Show(a)} (this run: {Show(b)}); use another --out.");
        }
        Same("result format", old.Format, mine.Format);
        Same("dataset", old.Dataset, mine.Dataset);
        Same("split", old.Split, mine.Split);
        Same("model", old.Model, mine.Model);
        Same("classes", old.Classes, mine.Classes);
        Same("tolerance", old.Tolerance, mine.Tolerance);
        Same("shard", old.Shard, mine.Shard);
        var methods = new Dictionary<string, string>(old.Methods);
        foreach (var (name, desc) in mine.Methods)
        {
            if (methods.TryGetValue(name, out var od) && od != desc)
                throw new InvalidOperationException($"Output folder '{dir}' holds results of '{name}' with other options ({Difference(od, desc)}); use another --out.");
            methods[name] = desc;
        }
        return mine with { Methods = methods };
    }

    static string Show<T>(T v) => v switch { null => "none", string s => $"'{s}'", double d => d.ToString("R", CultureInfo.InvariantCulture), _ => v.ToString()! };

    /// <summary>"A=1 → A=2, …" for the Name=value tokens in which two descriptions differ.</summary>
    static string Difference(string had, string wants)
    {
        var a = had.Split(' '); var b = wants.Split(' ');
        var pairs = a.Zip(b).Where(p => p.First != p.Second).Select(p => $"{p.First} here, {p.Second} now").ToList();
        if (a.Length != b.Length || pairs.Count == 0) return $"{had} here, {wants} now";
        return string.Join("; ", pairs);
    }

    /// <summary>
    /// Reads <c>results.jsonl</c> without changing it (missing file = no results). Every complete line (ending in a newline) must be
    /// a valid result; a last line without its newline that is not valid is an interrupted write and counted in
    /// <see cref="ResultsFileContent.TruncatedBytes"/> (<see cref="Repair"/> cuts it off). Blank lines hold nothing and are skipped.
    /// </summary>
    /// <exception cref="InvalidDataException">A damaged line; the message names its number.</exception>
    public static ResultsFileContent ReadResultsFile(string path)
    {
        if (!File.Exists(path)) return new ResultsFileContent(Array.Empty<PointingImageResult>(), 0, 0, false);
        var bytes = File.ReadAllBytes(path);
        var results = new List<PointingImageResult>();
        long goodEnd = 0, truncated = 0;
        bool needsNewline = false;
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
                var (r, why) = ParseLine(text);
                if (r is null)
                {
                    if (complete) throw new InvalidDataException($"{path}: line {lineNo} is damaged ({why}); remove it or start a new output folder.");
                    truncated = bytes.Length - pos; // the run was killed while writing this line: that pair is redone
                    break;
                }
                results.Add(r);
                needsNewline = !complete;
            }
            goodEnd = complete ? nl + 1 : bytes.Length;
            pos = end + 1;
        }
        return new ResultsFileContent(results, goodEnd, truncated, needsNewline);
    }

    static (PointingImageResult? Result, string Why) ParseLine(string text)
    {
        PointingImageResult? r;
        try { r = JsonSerializer.Deserialize<PointingImageResult>(text, Json); }
        catch (JsonException e) { return (null, "not JSON: " + e.Message.Split('\n')[0]); }
        if (r is null) return (null, "null");
        if (string.IsNullOrEmpty(r.Method)) return (null, "no method");
        if (string.IsNullOrEmpty(r.Id)) return (null, "no scene id");
        if (string.IsNullOrEmpty(r.Run)) return (null, "no run key (a line of result format 1)");
        if (r.Trials is null) return (null, "no trials");
        if (r.Image < 0) return (null, $"image {r.Image}");
        if (!double.IsFinite(r.Seconds) || r.Seconds < 0) return (null, $"seconds {r.Seconds}");
        foreach (var t in r.Trials)
            if (t is null || t.Outcome is < -1 or > 1 || t.Class < 0) return (null, "a trial with an invalid class or outcome");
        return (r, "");
    }

    /// <summary>Cuts an unfinished last line off the file and ends a valid last line with its newline, so appending starts on a fresh line.</summary>
    public static void Repair(string path, ResultsFileContent file)
    {
        if (file.TruncatedBytes > 0)
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Write);
            fs.SetLength(file.GoodLength);
        }
        else if (file.NeedsNewline) File.AppendAllText(path, "\n");
    }

    /// <summary>
    /// Checks the lines of a folder against its run: each names a method of the run and carries that method's run key, its classes
    /// exist, and no (image, method) pair appears twice.
    /// </summary>
    /// <exception cref="InvalidOperationException">A line of another run.</exception>
    /// <exception cref="InvalidDataException">A damaged or repeated line.</exception>
    public static void CheckLines(IReadOnlyList<PointingImageResult> lines, PointingGameRunDescription run, string path)
    {
        var keys = run.Methods.Keys.ToDictionary(m => m, m => LineKey(run, m));
        var seen = new Dictionary<(int, string), int>();
        for (int k = 0; k < lines.Count; k++)
        {
            var r = lines[k];
            if (!keys.TryGetValue(r.Method, out var key) || key != r.Run)
                throw new InvalidOperationException($"{path}: line {k + 1} ({r.Method}, scene '{r.Id}') belongs to another run (run key {r.Run}, this folder's {(key ?? "has no such method")}); use another --out.");
            if (r.Trials.Any(t => t.Class >= run.Classes))
                throw new InvalidDataException($"{path}: line {k + 1} is damaged (a class ≥ {run.Classes}); remove it or start a new output folder.");
            if (seen.TryGetValue((r.Image, r.Method), out var first))
                throw new InvalidDataException($"{path}: line {k + 1} repeats image {r.Image} / {r.Method} of line {first + 1}; remove one or start a new output folder.");
            seen[(r.Image, r.Method)] = k;
        }
    }

    /// <summary>
    /// The summary of <paramref name="run"/>'s latest invocation (its methods, its first <see cref="PointingGameRunDescription.ImagesPlanned"/>
    /// images) over <paramref name="results"/>. It depends only on the set of lines, not on their order, so a merged sharded run
    /// gives the unsharded run's summary.
    /// </summary>
    public static PointingGameSummary Summarise(PointingGameRunDescription run, IEnumerable<PointingImageResult> results)
    {
        var list = results.Where(r => r.Image < run.ImagesPlanned).ToArray();
        var rows = new List<PointingSummaryRow>();
        foreach (var m in run.RunMethods)
        {
            var mine = list.Where(r => r.Method == m).GroupBy(r => r.Image).Select(g => g.First()).OrderBy(r => r.Image).ToArray();
            foreach (var subset in new[] { "all", "difficult" })
            {
                var score = new PointingGameScore(run.Classes);
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
                rows.Add(new PointingSummaryRow(m, subset, score.TorchRayAccuracy, score.PresentClassAccuracy, images,
                    score.PresentClasses, score.Hits.Sum(), score.Trials, run.Methods[m]));
            }
        }
        return new PointingGameSummary(run.Dataset, run.Model, run.ImagesPlanned, run.Tolerance, rows);
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

    internal static string Pct(double v) => double.IsNaN(v) ? "NaN" : (100 * v).ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>
    /// Combines the folders of all N shards of one run into <paramref name="outDir"/>: <c>results.jsonl</c> (lines ordered by image,
    /// then method), <c>run.json</c> of the whole run (resumable like an unsharded run) and the summary, which is byte-identical
    /// to the summary the unsharded run writes. Nothing is written unless every check passes: each folder holds one shard of the
    /// same run (same identity, limit and methods), every shard 0 … N−1 is given once, no line is damaged or unfinished, every
    /// line lies in its shard, and every (image, method) pair is present.
    /// </summary>
    /// <exception cref="InvalidOperationException">Shards of different runs, a missing or repeated shard, an unfinished shard, or an output folder that is
    /// neither new, empty nor the output of this same merge.</exception>
    /// <exception cref="InvalidDataException">A damaged line or run.json.</exception>
    public static PointingGameSummary Merge(IReadOnlyList<string> shardDirs, string outDir)
    {
        if (shardDirs.Count == 0) throw new ArgumentException("Merge: no shard folders given.");
        var shards = new List<(string Dir, PointingGameRunDescription Run, PointingGameShard Shard, IReadOnlyList<PointingImageResult> Lines)>();
        foreach (var dir in shardDirs)
        {
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"Merge: shard folder '{dir}' does not exist.");
            var desc = ReadDescription(dir) ?? throw new InvalidOperationException($"Merge: folder '{dir}' has no {RunFile}; it is not a pointing-game shard.");
            if (desc.Shard is null) throw new InvalidOperationException($"Merge: folder '{dir}' holds a whole (unsharded) run, not a shard.");
            var shard = PointingGameShard.Parse(desc.Shard);
            var path = Path.Combine(dir, ResultsFile);
            var file = ReadResultsFile(path);
            if (file.TruncatedBytes > 0)
                throw new InvalidOperationException($"Merge: {path} ends in an unfinished line (shard {shard} was interrupted); rerun that shard, then merge.");
            CheckLines(file.Results, desc, path);
            foreach (var (r, k) in file.Results.Select((r, k) => (r, k)))
                if (!shard.Owns(r.Id))
                    throw new InvalidOperationException($"Merge: {path} line {k + 1} (scene '{r.Id}') does not belong to shard {shard}.");
            shards.Add((dir, desc, shard, file.Results));
        }
        var first = shards[0];
        int n = first.Shard.Count;
        foreach (var s in shards)
        {
            void Same<T>(string what, T a, T b)
            {
                if (!EqualityComparer<T>.Default.Equals(a, b))
                    throw new InvalidOperationException($"Merge: '{s.Dir}' is a shard of another run: {what} {Show(b)}, '{first.Dir}' has {Show(a)}.");
            }
            Same("dataset", first.Run.Dataset, s.Run.Dataset);
            Same("split", first.Run.Split, s.Run.Split);
            Same("model", first.Run.Model, s.Run.Model);
            Same("classes", first.Run.Classes, s.Run.Classes);
            Same("tolerance", first.Run.Tolerance, s.Run.Tolerance);
            Same("shard count", n, s.Shard.Count);
            Same("image count", first.Run.ImagesPlanned, s.Run.ImagesPlanned);
            Same("methods", string.Join(",", first.Run.RunMethods), string.Join(",", s.Run.RunMethods));
            foreach (var m in first.Run.RunMethods) Same($"options of '{m}'", first.Run.Methods[m], s.Run.Methods[m]);
        }
        var byIndex = shards.GroupBy(s => s.Shard.Index).ToArray();
        if (byIndex.FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InvalidOperationException($"Merge: shard {twice.Key}/{n} is given twice ('{string.Join("', '", twice.Select(s => s.Dir))}').");
        var missing = Enumerable.Range(0, n).Except(byIndex.Select(g => g.Key)).ToArray();
        if (missing.Length > 0)
            throw new InvalidOperationException($"Merge: shard{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing.Select(k => $"{k}/{n}"))} missing; give the folders of all {n} shards.");

        var run = first.Run with { Shard = null, Methods = first.Run.RunMethods.ToDictionary(m => m, m => first.Run.Methods[m]) };
        var methods = run.RunMethods;
        var pairs = new Dictionary<(int, string), PointingImageResult>();
        var ids = new Dictionary<int, string>();
        foreach (var s in shards)
            foreach (var r in s.Lines.Where(r => r.Image < run.ImagesPlanned && methods.Contains(r.Method)))
            {
                if (ids.TryGetValue(r.Image, out var id) && id != r.Id)
                    throw new InvalidOperationException($"Merge: image {r.Image} is scene '{id}' in one shard and '{r.Id}' in '{s.Dir}'; the shards are of different datasets.");
                ids[r.Image] = r.Id;
                if (!pairs.TryAdd((r.Image, r.Method), r))
                    throw new InvalidOperationException($"Merge: image {r.Image} / {r.Method} appears in two shards.");
            }
        for (int i = 0; i < run.ImagesPlanned; i++)
            foreach (var m in methods)
                if (!pairs.ContainsKey((i, m)))
                {
                    var where = ids.TryGetValue(i, out var id) ? $"shard {PointingGameShard.Of(id, n)}/{n}" : "a shard";
                    throw new InvalidOperationException($"Merge: image {i} / {m} is missing: {where} is unfinished; rerun it, then merge.");
                }

        if (shardDirs.Any(d => Path.GetFullPath(d).TrimEnd('/') == Path.GetFullPath(outDir).TrimEnd('/')))
            throw new InvalidOperationException($"Merge: the output folder '{outDir}' is one of the shard folders; give another --out.");
        if (File.Exists(outDir)) throw new InvalidOperationException($"Merge: output folder '{outDir}' is a file; give a folder.");
        var runText = JsonSerializer.Serialize(run, JsonIndented) + "\n";
        var sb = new StringBuilder();
        foreach (var i in Enumerable.Range(0, run.ImagesPlanned))
            foreach (var m in methods)
                sb.Append(JsonSerializer.Serialize(pairs[(i, m)], Json)).Append('\n');
        var resultsText = sb.ToString();
        // Only a new or empty folder, or the output of this same merge (then the files are rewritten unchanged).
        var existingRun = Path.Combine(outDir, RunFile);
        var existingResults = Path.Combine(outDir, ResultsFile);
        bool same = File.Exists(existingRun) && File.ReadAllText(existingRun) == runText
                    && File.Exists(existingResults) && File.ReadAllText(existingResults) == resultsText;
        if (!same && Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw new InvalidOperationException($"Merge: output folder '{outDir}' is not empty (and not this merge's output); give an empty or new --out.");

        Directory.CreateDirectory(outDir);
        File.WriteAllText(existingResults, resultsText, new UTF8Encoding(false));
        File.WriteAllText(existingRun, runText);
        var summary = Summarise(run, pairs.Values);
        WriteSummary(summary, outDir);
        return summary;
    }
}
