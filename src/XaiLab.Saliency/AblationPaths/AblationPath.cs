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
            var o = options;
            var x = items[i].Image.detach().to(model.Device);
            job.ClassIndex = items[i].ClassIndex;
            int H = (int)x.shape[1], W = (int)x.shape[2];
            int h = Math.Min(o.MaskSize, H), w = Math.Min(o.MaskSize, W);
            if (o.PathSpace == PathSpaceKind.BlurPyramid)
                job.Space = new BlurPyramidPathSpace(x, h, w, o.PyramidLevels, o.PyramidMaxSigma, o.PyramidLogSigma);
            else if (o.Baseline is not null)
                job.Space = new LinearPathSpace(x, CheckBaseline(o.Baseline, x, "Baseline"), h, w);
            else if (o.RandomBaseline is not null)
                // The first draw is also the baseline reported with the result; every iteration draws anew.
                job.Space = new LinearPathSpace(x, CheckBaseline(o.RandomBaseline(job.Rng), x, "RandomBaseline"), h, w);
            else
            {
                using var bb = o.BaselineSigma is { } s ? Baselines.FixedBlur(model, x, s) : Baselines.AutoBlur(model, x);
                job.BaselineSigma = bb.Sigma;
                if (!bb.ChangesClass)
                    job.Warnings.Add(o.BaselineSigma is null
                        ? $"No blur σ in [4,100] px changes the top class ({Describe(model, bb.TargetClass)}); using σ = {bb.Sigma} px, a baseline of the same class, which the thesis treats as invalid (§2.7.1)."
                        : $"The blurred baseline (σ = {bb.Sigma} px) keeps the top class {Describe(model, bb.TargetClass)}; the thesis treats a same-class baseline as invalid (§2.7.1).");
                job.Space = new LinearPathSpace(x, bb.Baseline, h, w);
            }
            job.OwnsSpace = true;
            job.CheckBaselineClass = job.BaselineSigma is null;
        });
    }

    /// <summary>
    /// Optimises a path in a given path space (e.g. a feature basis, §4.3). <paramref name="space"/> must live on
    /// the classifier's device; it is not disposed. Options concerning the baseline are ignored except
    /// <see cref="AblationPathOptions.RandomBaseline"/>, which needs <see cref="IPathSpace.WithBaseline"/>.
    /// </summary>
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

    static Tensor CheckBaseline(Tensor b, Tensor x, string what)
    {
        PathSpace.CheckImage(b, what);
        if (!b.shape.SequenceEqual(x.shape))
            throw new ArgumentException($"{what} must have the image's shape [{string.Join(",", x.shape)}]; got [{string.Join(",", b.shape)}].");
        return b.detach().to(x.dtype, x.device);
    }

    static string Describe(Classifier model, int c) => c >= 0 && c < model.NumClasses ? $"{c} '{model.ClassNames[c]}'" : c.ToString();

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
                    // σ in image pixels rescaled to mask resolution: σ·sqrt(h·w/(H·W)) (Eq 2.24); one shape for the whole batch.
                    double H = first.Target.shape[1], W = first.Target.shape[2];
                    double sigmaMask = o.RegularisationSigma * Math.Sqrt(first.MaskShape[0] * first.MaskShape[1] / (H * W));
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

    // One iteration of Algorithm 2 for every unfinished job in the batch. Jobs that stop are marked Done.
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

        // Stochastic baselines: one draw per job and iteration from its own generator.
        var spaces = new IPathSpace[B];
        var drawn = new List<IPathSpace>();
        try
        {
            for (int j = 0; j < B; j++)
            {
                spaces[j] = jobs[j].Space;
                if (o.RandomBaseline is not null)
                {
                    var b = o.RandomBaseline(jobs[j].Rng);
                    var d = spaces[j].WithBaseline(CheckBaseline(b, spaces[j].Target, "RandomBaseline"));
                    drawn.Add(d);
                    spaces[j] = d;
                }
            }
            var states = stack(jobs.Select(j => j.State!).ToArray(), 0); // [B,P,T,*S]
            // Random quantisation: one uniform draw per job and iteration for all its evaluated masks.
            int rows = PathObjective.RowsPerPath(o.Score, T);
            Tensor? uniform = null;
            if (o.Quantisation == MaskQuantisation.Random)
            {
                var shape = new long[maskShape.Length + 1]; shape[0] = rows; maskShape.CopyTo(shape, 1);
                uniform = cat(jobs.Select(j => rand(shape, dtype: ScalarType.Float64, generator: j.Generator).to(dtype, device)).ToArray(), 0);
            }
            long t1 = Stopwatch.GetTimestamp();
            var ev = PathObjective.EvaluateMany(model, spaces, states, o.Score, jobs.Select(j => j.ClassIndex).ToArray(), o.BatchSize, o.Quantisation, uniform);
            if (o.SynchronisedTimings) Sync(device);
            long t2 = Stopwatch.GetTimestamp();

            var g = ev.Gradient; // [B,P,T,*S]
            var finite = isfinite(g).reshape(B, -1).all(1).logical_and(isfinite(ev.Scores));
            var maskDims = Enumerable.Range(3, maskShape.Length).Select(d => (long)d).ToArray();
            if (o.RemoveGradientMean) g = g - g.mean(maskDims, keepdim: true);
            if (o.Momentum > 0)
            {
                var v = stack(jobs.Select(j => j.Velocity ?? zeros_like(j.State!)).ToArray(), 0) * o.Momentum + g;
                for (int j = 0; j < B; j++)
                {
                    jobs[j].Velocity?.Dispose();
                    jobs[j].Velocity = v[j].detach().clone().DetachFromDisposeScope();
                }
                g = v;
            }
            // L∞-normalised step per path (§2.8.2); a zero gradient leaves the path alone.
            var gmax = g.abs().reshape(B * P, -1).amax(new long[] { 1 });
            var bshape = new long[g.dim()]; Array.Fill(bshape, 1); bshape[0] = B; bshape[1] = P;
            var denom = gmax.where(gmax.gt(0), ones_like(gmax)).reshape(bshape);
            var nextState = states + g / denom * o.StepSize;
            if (o.JitterStd > 0)
            {
                var stateShape = jobs[0].State!.shape;
                nextState = nextState + stack(jobs.Select(j => randn(stateShape, dtype: ScalarType.Float64, generator: j.Generator).to(dtype, device)).ToArray(), 0) * o.JitterStd;
            }
            if (regulariser is not null)
                nextState = regulariser.Apply(nextState.reshape(B * P * T, maskShape[0], maskShape[1])).reshape(nextState.shape);
            var zetas = jobs.Select(j => o.SaturationAt(j.Iterations + 1)).ToArray();
            if (zetas.All(z => z == zetas[0]))
            {
                if (zetas[0] > 0) nextState = PathRepair.Saturate(nextState, zetas[0]);
            }
            else nextState = stack(Enumerable.Range(0, B).Select(j => zetas[j] > 0 ? PathRepair.Saturate(nextState[j], zetas[j]) : nextState[j]).ToArray(), 0);
            if (P == 2) nextState = stack(new[] { nextState.select(1, 0), PathRepair.Pinch(nextState.select(1, 0), nextState.select(1, 1), o.Pinching) }, 1);
            // A path whose gradient was not finite is discarded below; keep NaN/∞ out of the repair.
            nextState = nextState.nan_to_num(0, 0, 0);
            if (o.SynchronisedTimings) Sync(device);
            long t3 = Stopwatch.GetTimestamp();
            var pathShape = new long[] { B * P }.Concat(nextState.shape.Skip(2)).ToArray();
            Tensor repaired;
            var weights = jobs.Select(j => j.Space.MassWeights).ToArray();
            if (weights.All(w => ReferenceEquals(w, weights[0])))
                repaired = PathRepair.RepairMany(nextState.reshape(pathShape), o.Monotonisation, weights[0]).reshape(nextState.shape);
            else
                repaired = stack(Enumerable.Range(0, B).Select(j => PathRepair.RepairMany(nextState[j], o.Monotonisation, weights[j])).ToArray(), 0);
            if (o.SynchronisedTimings) Sync(device);
            long t4 = Stopwatch.GetTimestamp();
            var saturation = (repaired - 0.5).abs().mul(2).reshape(B, -1).mean(new long[] { 1 });
            // The one host read of the iteration: score, finiteness and saturation of every path.
            var stats = stack(new[] { ev.Scores.to_type(ScalarType.Float64), finite.to_type(ScalarType.Float64), saturation.to_type(ScalarType.Float64) }, 1)
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
                         $"Increase the regularisation (σ_reguBlur = {o.RegularisationSigma} px now) slightly above where this stops; the thesis found ≈ 6 px best.");
        var pathOut = (P == 1 ? state[0] : state.transpose(0, 1)).cpu().contiguous();
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

    static double Ms(long a, long b) => (b - a) * 1000.0 / Stopwatch.Frequency;

    static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    // Forwards the batched progress of a one-pair run to the single-path progress type.
    sealed class SingleProgress(IProgress<AblationProgress> inner) : IProgress<AblationBatchProgress>
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
