using System.Diagnostics;
using TorchSharp;
using XaiLab.Imaging;
using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>
/// Optimised ablation paths (thesis Part II, chapter 2): projected gradient ascent of a path score (Algorithm 2,
/// §2.6.3) over paths of masks that satisfy Definition 1 (boundary, monotone, constant speed).
/// <para>One iteration: (1) score and gradient w.r.t. the masks by autograd (optionally minus each mask's mean,
/// optional momentum); (2) L∞-normalised step <c>φ ← φ + h·g/max|g|</c> per path; (3) optional jitter (§2.4.3A);
/// (4) Gaussian regularisation (Eq 2.24, σ in image pixels rescaled by <c>sqrt(h·w/(H·W))</c>); (5) artificial
/// saturation (Eq 2.26); (6) pinching of the straddling pair (Eq 2.27); (7) repair: monotonise (Algorithm 1),
/// clamp, constant speed (Lemma 7). The order of (4) and (5) follows Algorithm 2 (filter, line 8, before
/// saturation, line 10). Termination: saturation ≥ target after ≥ MinIterations, or the cap (→ unsaturated).</para>
/// <para>Batching: <see cref="OptimiseMany(Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>
/// runs this loop for B paths at once (one forward/backward over all their masks, one batched step and repair);
/// the single-path calls are the B = 1 case of the same code. Per iteration the host reads one small tensor
/// (scores, finiteness, saturations) — the only synchronisation the stopping rule needs.</para>
/// <para>Cancellation: the token is checked before each iteration; a cancelled run throws
/// <see cref="OperationCanceledException"/> (no partial result: a half-optimised path is easy to mistake for an
/// explanation). The classifier's parameters are frozen (requires_grad = false) during the call and restored after.</para>
/// </summary>
public static class AblationPath
{
    /// <summary>
    /// Optimises an ablation path explaining class <paramref name="classIndex"/> of <paramref name="model"/> on
    /// <paramref name="image"/> <c>[C,H,W]</c> in [0,1], building the path space from the options (linear with a
    /// blurred, user or random baseline; or the blur pyramid). Runs on the classifier's device.
    /// </summary>
    /// <exception cref="ArgumentException">Bad image shape, options out of range, or a baseline that does not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Class index out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static AblationPathResult Optimise(Classifier model, Tensor image, int classIndex, AblationPathOptions? options = null,
        IProgress<AblationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var sink = progress is null ? null : new SingleProgress(progress);
        return OptimiseMany(model, new[] { (image, classIndex) }, options, sink, cancellationToken)[0];
    }

    /// <summary>
    /// Optimises one ablation path per <c>(image, class)</c> pair, all at once: every iteration renders the B·T
    /// masks of the B unfinished paths (×2 for the contrastive and straddling scores) and runs one forward/backward
    /// over them (chunked by <see cref="AblationPathOptions.BatchSize"/>), then steps and repairs all paths together.
    /// Each path keeps its own stopping rule, random streams (seeded by <see cref="AblationPathOptions.Seed"/> as in
    /// a single run), history and warnings; a finished path leaves the batch and, with
    /// <see cref="AblationPathOptions.PathsPerBatch"/> &gt; 0, the next waiting pair takes its place. The results equal
    /// one-at-a-time <see cref="Optimise(Classifier, Tensor, int, AblationPathOptions?, IProgress{AblationProgress}?, CancellationToken)"/>
    /// runs up to float rounding of the batched network (tested). All images must have the same shape.
    /// <para>Per iteration the host reads one small tensor (score, finiteness and saturation of every path in the
    /// batch) — the one synchronisation the stopping rule needs; the repair on a GPU is device tensor work.</para>
    /// </summary>
    /// <returns>The results in the order of <paramref name="items"/>; the caller disposes them.</returns>
    /// <exception cref="ArgumentException">Empty list, bad or mismatched image shapes, options out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A class index out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (results already finished are disposed).</exception>
    public static IReadOnlyList<AblationPathResult> OptimiseMany(Classifier model, IReadOnlyList<(Tensor Image, int ClassIndex)> items,
        AblationPathOptions? options = null, IProgress<AblationBatchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new AblationPathOptions();
        options.Validate();
        if (items is null || items.Count == 0) throw new ArgumentException("OptimiseMany needs at least one (image, class) pair.", nameof(items));
        for (int i = 0; i < items.Count; i++)
        {
            var (image, classIndex) = items[i];
            PathSpace.CheckImage(image, items.Count == 1 ? "Image" : $"Image {i}");
            model.CheckClass(classIndex);
            if (image.shape[0] != model.Channels)
                throw new ArgumentException($"Model '{model.Name}' expects {model.Channels} channel(s); the image is [{string.Join(",", image.shape)}].");
            if (model.InputSize is { } size && (image.shape[1] != size.H || image.shape[2] != size.W))
                throw new ArgumentException($"Model '{model.Name}' expects {size.H}×{size.W} images; the image is {image.shape[1]}×{image.shape[2]}.");
            if (!image.shape.SequenceEqual(items[0].Image.shape))
                throw new ArgumentException($"OptimiseMany needs images of one shape: image 0 is [{string.Join(",", items[0].Image.shape)}], image {i} is [{string.Join(",", image.shape)}].");
        }
        return RunMany(model, items.Count, options, progress, cancellationToken, (i, job) =>
        {
            var built = PathSpaceFactory.Build(model, items[i].Image, options, job.Rng);
            job.Space = built.Space;
            job.OwnsSpace = true;
            job.ClassIndex = items[i].ClassIndex;
            job.BaselineSigma = built.BaselineSigma;
            job.Warnings.AddRange(built.Warnings);
            job.CheckBaselineClass = job.BaselineSigma is null;
        });
    }

    /// <summary>
    /// Optimises a path in a given path space (e.g. a feature basis, §4.3). <paramref name="space"/> must live on
    /// the classifier's device; it is not disposed. The space brings its own mask shape, baseline and regularisation
    /// scale (<see cref="IPathSpace.RegularisationScale"/>): the options that only build spaces
    /// (<see cref="AblationPathOptions.SpaceBuildingOptions"/>) must stay at their defaults.
    /// <see cref="AblationPathOptions.RandomBaseline"/> needs <see cref="IPathSpace.WithBaseline"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A space-building option is set, options out of range, or spaces that do not match.</exception>
    public static AblationPathResult Optimise(Classifier model, IPathSpace space, int classIndex, AblationPathOptions? options = null,
        IProgress<AblationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var sink = progress is null ? null : new SingleProgress(progress);
        return OptimiseMany(model, new[] { (space, classIndex) }, options, sink, cancellationToken)[0];
    }

    /// <summary>
    /// Batched form of <see cref="Optimise(Classifier, IPathSpace, int, AblationPathOptions?, IProgress{AblationProgress}?, CancellationToken)"/>:
    /// one path per <c>(space, class)</c> pair, optimised together as in
    /// <see cref="OptimiseMany(Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>.
    /// The spaces must share one mask shape and one image shape; they are not disposed.
    /// </summary>
    public static IReadOnlyList<AblationPathResult> OptimiseMany(Classifier model, IReadOnlyList<(IPathSpace Space, int ClassIndex)> items,
        AblationPathOptions? options = null, IProgress<AblationBatchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new AblationPathOptions();
        options.Validate();
        if (options.NonDefaultSpaceOptions() is { Count: > 0 } set)
            throw new ArgumentException($"AblationPathOptions.{string.Join(", ", set)} only build a path space; a given IPathSpace uses its own (leave them at their defaults, or build the space with them).", nameof(options));
        if (items is null || items.Count == 0) throw new ArgumentException("OptimiseMany needs at least one (space, class) pair.", nameof(items));
        for (int i = 0; i < items.Count; i++)
        {
            model.CheckClass(items[i].ClassIndex);
            if (!items[i].Space.MaskShape.SequenceEqual(items[0].Space.MaskShape) || !items[i].Space.Target.shape.SequenceEqual(items[0].Space.Target.shape))
                throw new ArgumentException($"OptimiseMany needs spaces of one mask and image shape: space 0 has masks [{string.Join(",", items[0].Space.MaskShape)}] on [{string.Join(",", items[0].Space.Target.shape)}], space {i} [{string.Join(",", items[i].Space.MaskShape)}] on [{string.Join(",", items[i].Space.Target.shape)}].");
        }
        return RunMany(model, items.Count, options, progress, cancellationToken, (i, job) =>
        {
            job.Space = items[i].Space;
            job.ClassIndex = items[i].ClassIndex;
            job.OwnsSpace = false;
            job.CheckBaselineClass = true;
        });
    }

    static string Describe(Classifier model, int c) => PathSpaceFactory.Describe(model, c);

    // One path of a batched run: its space, state, random streams and bookkeeping.
    sealed class Job : IDisposable
    {
        public required int Index;
        public required Random Rng;
        public required Generator Generator;
        public IPathSpace Space = null!;
        public bool OwnsSpace;
        public int ClassIndex;
        public bool CheckBaselineClass;
        public double? BaselineSigma;
        public List<string> Warnings = new();
        public Stopwatch Clock = Stopwatch.StartNew();
        public int TargetClass, BaselineClass;
        public Tensor? State, Velocity;
        public List<double> Scores = new(), Saturations = new();
        public StopReason Stop = StopReason.Unsaturated;
        public int Iterations;
        public bool Done;
        public double ForwardBackwardMs, RepairMs, OtherMs;

        public void Dispose()
        {
            State?.Dispose(); Velocity?.Dispose(); Generator.Dispose();
            if (OwnsSpace) Space?.Dispose();
        }
    }

    static IReadOnlyList<AblationPathResult> RunMany(Classifier model, int count, AblationPathOptions o, IProgress<AblationBatchProgress>? progress,
        CancellationToken ct, Action<int, Job> setup)
    {
        var frozen = model.Network.parameters().Select(p => (p, p.requires_grad)).ToList();
        foreach (var (p, _) in frozen) p.requires_grad = false;
        var results = new AblationPathResult?[count];
        var active = new List<Job>();
        PathRepair.MaskRegulariser? regulariser = null;
        try
        {
            int next = 0, capacity = o.PathsPerBatch <= 0 ? count : o.PathsPerBatch;
            int P = PathObjective.PathCount(o.Score);
            while (next < count || active.Count > 0)
            {
                // Fill the batch: set up waiting pairs (baseline search, affine start path).
                while (active.Count < capacity && next < count)
                {
                    ct.ThrowIfCancellationRequested();
                    var job = new Job { Index = next, Rng = new Random(o.Seed), Generator = new Generator((ulong)(uint)o.Seed, CPU) };
                    active.Add(job);
                    next++;
                    using (var setupScope = NewDisposeScope()) setup(job.Index, job);
                    Start(model, job, o, P);
                }
                ct.ThrowIfCancellationRequested();
                var first = active[0].Space;
                if (regulariser is null && first.IsSpatial && o.RegularisationSigma > 0)
                {
                    // σ in image pixels rescaled to mask resolution by the space's own scale (Eq 2.24; sqrt(h·w/(H·W)) for
                    // pixel masks); one shape for the whole batch.
                    double sigmaMask = o.RegularisationSigma * first.RegularisationScale;
                    regulariser = new PathRepair.MaskRegulariser((int)first.MaskShape[0], (int)first.MaskShape[1], sigmaMask,
                        o.RegularisationUnfilteredWeight, first.Target.dtype, first.Target.device);
                }
                Iterate(model, active, o, P, progress, regulariser);
                foreach (var job in active.Where(j => j.Done).ToList())
                {
                    results[job.Index] = Finish(model, job, o, P);
                    job.Dispose();
                    active.Remove(job);
                }
            }
            return results!;
        }
        catch
        {
            foreach (var r in results) r?.Dispose();
            throw;
        }
        finally
        {
            foreach (var j in active) j.Dispose();
            regulariser?.Dispose();
            foreach (var (p, r) in frozen) p.requires_grad = r;
        }
    }

    static void Start(Classifier model, Job job, AblationPathOptions o, int P)
    {
        var space = job.Space;
        job.TargetClass = model.Predict(space.Target).Class;
        job.BaselineClass = model.Predict(space.Baseline).Class;
        if (job.CheckBaselineClass && job.BaselineClass == job.TargetClass)
            job.Warnings.Add($"The baseline (φ = 1) is classified as {Describe(model, job.BaselineClass)}, the same class as the image; the thesis treats a same-class baseline as invalid (§2.7.1).");
        if (job.TargetClass != job.ClassIndex)
            job.Warnings.Add($"The explained class {Describe(model, job.ClassIndex)} is not the image's top class {Describe(model, job.TargetClass)}.");
        using var scope = NewDisposeScope();
        // State [P,T,*S], the affine path (Eq 2.17) for each path.
        var affine = PathRepair.Affine(o.Steps, space.MaskShape, space.Target.dtype, space.Target.device);
        job.State = stack(Enumerable.Repeat(affine, P).ToArray(), 0).DetachFromDisposeScope();
    }

    // One iteration of Algorithm 2 (§2.6.3) for every unfinished job in the batch; jobs that stop are marked Done.
    // Each step below is one line (or group of lines) of the algorithm; the timings split network / repair / rest.
    static void Iterate(Classifier model, List<Job> batch, AblationPathOptions o, int P, IProgress<AblationBatchProgress>? progress,
        PathRepair.MaskRegulariser? regulariser)
    {
        var jobs = batch.Where(j => !j.Done).ToList();
        if (jobs.Count == 0) return;
        using var scope = NewDisposeScope();
        int B = jobs.Count, T = o.Steps;
        var first = jobs[0].Space;
        var maskShape = first.MaskShape;
        var device = first.Target.device;
        var dtype = first.Target.dtype;
        long t0 = Stopwatch.GetTimestamp();
        var drawn = new List<IPathSpace>();
        try
        {
            var spaces = DrawBaselines(jobs, o, drawn);
            var states = stack(jobs.Select(j => j.State!).ToArray(), 0); // [B,P,T,*S]
            var uniform = QuantisationDraw(jobs, o, maskShape, dtype, device);
            long t1 = Stopwatch.GetTimestamp();
            // Lines 3–5: render x(φ(t_i)) in each space and differentiate the score P with respect to the masks.
            var ev = PathObjective.EvaluateMany(model, spaces, states, o.Score, jobs.Select(j => j.ClassIndex).ToArray(), o.BatchSize, o.Quantisation, uniform);
            if (o.SynchronisedTimings) Sync(device);
            long t2 = Stopwatch.GetTimestamp();
            var finite = isfinite(ev.Gradient).reshape(B, -1).all(1).logical_and(isfinite(ev.Scores));
            var g = Direction(jobs, ev.Gradient, o, maskShape);
            var next = Step(states, g, o, B, P);
            next = Jitter(next, jobs, o, dtype, device);
            if (regulariser is not null) next = Filter(next, regulariser, B, P, T, maskShape);
            next = Saturate(next, jobs, o, B);
            if (P == 2) next = Pinch(next, o);
            // A path whose gradient was not finite is discarded below; keep NaN/∞ out of the repair.
            next = next.nan_to_num(0, 0, 0);
            if (o.SynchronisedTimings) Sync(device);
            long t3 = Stopwatch.GetTimestamp();
            var repaired = Repair(next, jobs, o, B, P);
            if (o.SynchronisedTimings) Sync(device);
            long t4 = Stopwatch.GetTimestamp();
            Record(jobs, ev.Scores, finite, repaired, o, progress);
            long t5 = Stopwatch.GetTimestamp();
            foreach (var job in jobs)
            {
                job.ForwardBackwardMs += Ms(t1, t2);
                job.RepairMs += Ms(t3, t4);
                job.OtherMs += Ms(t0, t1) + Ms(t2, t3) + Ms(t4, t5);
            }
        }
        finally
        {
            foreach (var d in drawn) d.Dispose();
        }
    }

    // Stochastic baselines (§2.4.3C): one draw per job and iteration from its own generator; the drawn spaces are
    // collected in `drawn` for the caller to dispose.
    static IPathSpace[] DrawBaselines(List<Job> jobs, AblationPathOptions o, List<IPathSpace> drawn)
    {
        var spaces = new IPathSpace[jobs.Count];
        for (int j = 0; j < jobs.Count; j++)
        {
            spaces[j] = jobs[j].Space;
            if (o.RandomBaseline is null) continue;
            var b = o.RandomBaseline(jobs[j].Rng);
            var d = spaces[j].WithBaseline(PathSpaceFactory.CheckBaseline(b, spaces[j].Target, "RandomBaseline"));
            drawn.Add(d);
            spaces[j] = d;
        }
        return spaces;
    }

    // Random quantisation (§2.4.3B): one uniform draw per job and iteration for all its evaluated masks; null otherwise.
    static Tensor? QuantisationDraw(List<Job> jobs, AblationPathOptions o, long[] maskShape, ScalarType dtype, Device device)
    {
        if (o.Quantisation != MaskQuantisation.Random) return null;
        int rows = PathObjective.RowsPerPath(o.Score, o.Steps);
        var shape = new long[maskShape.Length + 1]; shape[0] = rows; maskShape.CopyTo(shape, 1);
        return cat(jobs.Select(j => rand(shape, dtype: ScalarType.Float64, generator: j.Generator).to(dtype, device)).ToArray(), 0);
    }

    // Line 6: the ascent direction — optionally minus each mask's mean (ĝ = g − ∫g) and with momentum v ← β·v + g.
    static Tensor Direction(List<Job> jobs, Tensor gradient, AblationPathOptions o, long[] maskShape)
    {
        var g = gradient; // [B,P,T,*S]
        var maskDims = Enumerable.Range(3, maskShape.Length).Select(d => (long)d).ToArray();
        if (o.RemoveGradientMean) g = g - g.mean(maskDims, keepdim: true);
        if (o.Momentum > 0)
        {
            var v = stack(jobs.Select(j => j.Velocity ?? zeros_like(j.State!)).ToArray(), 0) * o.Momentum + g;
            for (int j = 0; j < jobs.Count; j++)
            {
                jobs[j].Velocity?.Dispose();
                jobs[j].Velocity = v[j].detach().clone().DetachFromDisposeScope();
            }
            g = v;
        }
        return g;
    }

    // Line 7: the L∞-normalised step φ ← φ + h·g/max|g| per path (§2.8.2); a zero gradient leaves the path alone.
    static Tensor Step(Tensor states, Tensor g, AblationPathOptions o, int B, int P)
    {
        var gmax = g.abs().reshape(B * P, -1).amax(new long[] { 1 });
        var bshape = new long[g.dim()]; Array.Fill(bshape, 1); bshape[0] = B; bshape[1] = P;
        var denom = gmax.where(gmax.gt(0), ones_like(gmax)).reshape(bshape);
        return states + g / denom * o.StepSize;
    }

    // Jitter (§2.4.3A): Gaussian noise of std JitterStd from each job's generator, before the projections.
    static Tensor Jitter(Tensor next, List<Job> jobs, AblationPathOptions o, ScalarType dtype, Device device)
    {
        if (!(o.JitterStd > 0)) return next;
        var stateShape = jobs[0].State!.shape;
        return next + stack(jobs.Select(j => randn(stateShape, dtype: ScalarType.Float64, generator: j.Generator).to(dtype, device)).ToArray(), 0) * o.JitterStd;
    }

    // Line 8: the Gaussian regularisation filter (Eq 2.24) on every mask, σ in mask pixels (the space's scale).
    static Tensor Filter(Tensor next, PathRepair.MaskRegulariser regulariser, int B, int P, int T, long[] maskShape) =>
        regulariser.Apply(next.reshape(B * P * T, maskShape[0], maskShape[1])).reshape(next.shape);

    // Line 10: artificial saturation (Eq 2.26) with each job's ζ_sat of this iteration.
    static Tensor Saturate(Tensor next, List<Job> jobs, AblationPathOptions o, int B)
    {
        var zetas = jobs.Select(j => o.SaturationAt(j.Iterations + 1)).ToArray();
        if (zetas.All(z => z == zetas[0])) return zetas[0] > 0 ? PathRepair.Saturate(next, zetas[0]) : next;
        return stack(Enumerable.Range(0, B).Select(j => zetas[j] > 0 ? PathRepair.Saturate(next[j], zetas[j]) : next[j]).ToArray(), 0);
    }

    // Line 11: pinching of the straddling pair (Eq 2.27–2.29): φ↓ is pulled towards φ↑.
    static Tensor Pinch(Tensor next, AblationPathOptions o) =>
        stack(new[] { next.select(1, 0), PathRepair.Pinch(next.select(1, 0), next.select(1, 1), o.Pinching) }, 1);

    // Lines 12–15: re-monotonise (Algorithm 1), clamp to [0,1], constant speed (Lemma 7) with each space's mass weights.
    static Tensor Repair(Tensor next, List<Job> jobs, AblationPathOptions o, int B, int P)
    {
        var pathShape = new long[] { B * P }.Concat(next.shape.Skip(2)).ToArray();
        var weights = jobs.Select(j => j.Space.MassWeights).ToArray();
        if (weights.All(w => ReferenceEquals(w, weights[0])))
            return PathRepair.RepairMany(next.reshape(pathShape), o.Monotonisation, weights[0]).reshape(next.shape);
        return stack(Enumerable.Range(0, B).Select(j => PathRepair.RepairMany(next[j], o.Monotonisation, weights[j])).ToArray(), 0);
    }

    // Line 2, the loop condition: record score and saturation (Eq 2.31) and stop a path when it is saturated after
    // MinIterations, at the cap (unsaturated), or when the classifier returned a non-finite score or gradient.
    static void Record(List<Job> jobs, Tensor scores, Tensor finite, Tensor repaired, AblationPathOptions o, IProgress<AblationBatchProgress>? progress)
    {
        int B = jobs.Count;
        var saturation = (repaired - 0.5).abs().mul(2).reshape(B, -1).mean(new long[] { 1 });
        // The one host read of the iteration: score, finiteness and saturation of every path.
        var stats = stack(new[] { scores.to_type(ScalarType.Float64), finite.to_type(ScalarType.Float64), saturation.to_type(ScalarType.Float64) }, 1)
            .cpu().data<double>().ToArray();
        for (int j = 0; j < B; j++)
        {
            var job = jobs[j];
            int it = job.Iterations + 1;
            double score = stats[3 * j], sat = stats[3 * j + 2];
            if (stats[3 * j + 1] == 0)
            {
                job.Warnings.Add($"The classifier returned a non-finite score or gradient at iteration {it} (score {score}); stopped and kept the last finite path.");
                job.Stop = StopReason.NonFiniteScore;
                job.Done = true;
                continue;
            }
            job.Scores.Add(score);
            job.State!.Dispose();
            job.State = repaired[j].clone().DetachFromDisposeScope();
            job.Saturations.Add(sat);
            job.Iterations = it;
            progress?.Report(new AblationBatchProgress(job.Index, it, o.MaxIterations, score, sat));
            if (it >= o.MinIterations && sat >= o.SaturationTarget) { job.Stop = StopReason.Saturated; job.Done = true; }
            else if (it >= o.MaxIterations) job.Done = true;
        }
    }

    static AblationPathResult Finish(Classifier model, Job job, AblationPathOptions o, int P)
    {
        using var scope = NewDisposeScope();
        int T = o.Steps;
        var space = job.Space;
        var state = job.State!;
        var warnings = job.Warnings;
        if (job.Stop == StopReason.Unsaturated)
            warnings.Add($"The path stayed unsaturated: saturation {job.Saturations.LastOrDefault():F3} < {o.SaturationTarget} after the cap of {o.MaxIterations} iterations; do not rely on it as an explanation (§2.6.3).");

        // Final diagnostics: the classifier along the final path(s), ends included.
        var up = state[0];
        var curve = PathObjective.Curve(model, space, up, job.ClassIndex, o.BatchSize);
        ScoreCurve? second = o.Score switch
        {
            AblationScore.Contrastive => PathObjective.Curve(model, space, 1 - up, job.ClassIndex, o.BatchSize),
            AblationScore.Straddling => PathObjective.Curve(model, space, state[1], job.ClassIndex, o.BatchSize),
            _ => null,
        };
        double retaining = curve.Score.Skip(1).Take(T).Average();
        double secondMean = second?.Score.Skip(1).Take(T).Average() ?? 0;
        double score = o.Score switch
        {
            AblationScore.Retaining => retaining,
            AblationScore.Dissipating => 1 - retaining,
            _ => retaining + 1 - secondMean,
        };
        if (!double.IsFinite(score))
            warnings.Add("The final path's score is not finite (the classifier returned NaN/∞ along the path).");
        if (o.Score != AblationScore.Dissipating && retaining >= o.AdversarialScoreThreshold)
            warnings.Add($"The retaining score P↑ = {retaining:F3} is near 1: the masks are likely adversarial / under-regularised (§2.8.3). " +
                         $"Increase the regularisation (σ_reguBlur = {o.RegularisationSigma} px now) slightly above where this stops; the thesis found ≈ {AblationPathOptions.ThesisRegularisationSigma} px best.");
        var pathOut = (P == 1 ? state[0] : state.transpose(0, 1)).cpu().contiguous();
        var (resultSpace, ownsSpace) = ResultSpace(space);
        job.Clock.Stop();
        return new AblationPathResult
        {
            Path = pathOut.DetachFromDisposeScope(), // owned by the result (IDisposable)
            Image = space.Target.cpu().clone().DetachFromDisposeScope(),
            Baseline = space.Baseline.cpu().clone().DetachFromDisposeScope(),
            ClassIndex = job.ClassIndex,
            ClassName = model.ClassNames[job.ClassIndex],
            ScoreKind = o.Score,
            PathSpace = space.Name,
            Space = resultSpace,
            OwnsSpace = ownsSpace,
            Times = PathRepair.Times(T),
            Score = score,
            RetainingScore = retaining,
            Saturation = PathRepair.SaturationOf(state),
            Iterations = job.Iterations,
            StopReason = job.Stop,
            ScoreHistory = job.Scores.ToArray(),
            SaturationHistory = job.Saturations.ToArray(),
            Curve = curve,
            SecondCurve = second,
            BaselineSigma = job.BaselineSigma,
            BaselineClass = job.BaselineClass,
            TargetClass = job.TargetClass,
            Warnings = warnings.ToArray(),
            Timings = new AblationTimings(job.ForwardBackwardMs, job.RepairMs, job.OtherMs, job.Clock.Elapsed.TotalMilliseconds, job.Iterations),
            Options = o,
        };
    }

    // The space a result keeps: pixel spaces as CPU copies owned by the result (valid after the optimiser's or the
    // caller's space is gone, and no device memory held); any other space (e.g. a feature basis) by reference.
    static (IPathSpace Space, bool Owned) ResultSpace(IPathSpace space) => space switch
    {
        LinearPathSpace l => (l.To(CPU), true),
        BlurPyramidPathSpace p => (p.To(CPU), true),
        _ => (space, false),
    };

    static double Ms(long a, long b) => (b - a) * 1000.0 / Stopwatch.Frequency;

    static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    // Forwards batched progress (every path's iterations) to the single-path progress type; also used by AblationPathMethod.
    internal sealed class SingleProgress(IProgress<AblationProgress> inner) : IProgress<AblationBatchProgress>
    {
        public void Report(AblationBatchProgress v) => inner.Report(new AblationProgress(v.Iteration, v.MaxIterations, v.Score, v.Saturation));
    }
}

/// <summary>Progress of one path inside <see cref="AblationPath.OptimiseMany(Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>, reported once per iteration and path.</summary>
/// <param name="Item">Index of the (image, class) pair in the request list.</param>
/// <param name="Iteration">1-based iteration of this path just finished.</param>
/// <param name="MaxIterations">The cap.</param>
/// <param name="Score">Score of the path evaluated in this iteration (before its update).</param>
/// <param name="Saturation">Saturation S after the iteration's repair.</param>
public readonly record struct AblationBatchProgress(int Item, int Iteration, int MaxIterations, double Score, double Saturation);
