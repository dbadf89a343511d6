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
        options ??= new AblationPathOptions();
        options.Validate();
        PathSpace.CheckImage(image, "Image");
        model.CheckClass(classIndex);
        if (image.shape[0] != model.Channels)
            throw new ArgumentException($"Model '{model.Name}' expects {model.Channels} channel(s); the image is [{string.Join(",", image.shape)}].");
        if (model.InputSize is { } size && (image.shape[1] != size.H || image.shape[2] != size.W))
            throw new ArgumentException($"Model '{model.Name}' expects {size.H}×{size.W} images; the image is {image.shape[1]}×{image.shape[2]}.");
        var clock = Stopwatch.StartNew();
        var warnings = new List<string>();
        using var scope = NewDisposeScope();
        var x = image.detach().to(model.Device);
        int H = (int)x.shape[1], W = (int)x.shape[2];
        int h = Math.Min(options.MaskSize, H), w = Math.Min(options.MaskSize, W);
        double? sigma = null;
        IPathSpace space;
        var rng = new Random(options.Seed);
        if (options.PathSpace == PathSpaceKind.BlurPyramid)
        {
            space = new BlurPyramidPathSpace(x, h, w, options.PyramidLevels, options.PyramidMaxSigma, options.PyramidLogSigma);
        }
        else if (options.Baseline is not null)
        {
            space = new LinearPathSpace(x, CheckBaseline(options.Baseline, x, "Baseline"), h, w);
        }
        else if (options.RandomBaseline is not null)
        {
            // The first draw is also the baseline reported with the result; every iteration draws anew.
            space = new LinearPathSpace(x, CheckBaseline(options.RandomBaseline(rng), x, "RandomBaseline"), h, w);
        }
        else
        {
            using var bb = options.BaselineSigma is { } s ? Baselines.FixedBlur(model, x, s) : Baselines.AutoBlur(model, x);
            sigma = bb.Sigma;
            if (!bb.ChangesClass)
                warnings.Add(options.BaselineSigma is null
                    ? $"No blur σ in [4,100] px changes the top class ({Describe(model, bb.TargetClass)}); using σ = {bb.Sigma} px, a baseline of the same class, which the thesis treats as invalid (§2.7.1)."
                    : $"The blurred baseline (σ = {bb.Sigma} px) keeps the top class {Describe(model, bb.TargetClass)}; the thesis treats a same-class baseline as invalid (§2.7.1).");
            space = new LinearPathSpace(x, bb.Baseline, h, w);
        }
        using (space)
        {
            var result = Run(model, space, classIndex, options, progress, cancellationToken, rng, warnings, sigma, clock, checkBaselineClass: sigma is null);
            return result;
        }
    }

    /// <summary>
    /// Optimises a path in a given path space (e.g. a feature basis, §4.3). <paramref name="space"/> must live on
    /// the classifier's device; it is not disposed. Options concerning the baseline are ignored except
    /// <see cref="AblationPathOptions.RandomBaseline"/>, which needs <see cref="IPathSpace.WithBaseline"/>.
    /// </summary>
    public static AblationPathResult Optimise(Classifier model, IPathSpace space, int classIndex, AblationPathOptions? options = null,
        IProgress<AblationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new AblationPathOptions();
        options.Validate();
        model.CheckClass(classIndex);
        var clock = Stopwatch.StartNew();
        return Run(model, space, classIndex, options, progress, cancellationToken, new Random(options.Seed), new List<string>(), null, clock, checkBaselineClass: true);
    }

    static Tensor CheckBaseline(Tensor b, Tensor x, string what)
    {
        PathSpace.CheckImage(b, what);
        if (!b.shape.SequenceEqual(x.shape))
            throw new ArgumentException($"{what} must have the image's shape [{string.Join(",", x.shape)}]; got [{string.Join(",", b.shape)}].");
        return b.detach().to(x.dtype, x.device);
    }

    static string Describe(Classifier model, int c) => c >= 0 && c < model.NumClasses ? $"{c} '{model.ClassNames[c]}'" : c.ToString();

    static AblationPathResult Run(Classifier model, IPathSpace space, int classIndex, AblationPathOptions o,
        IProgress<AblationProgress>? progress, CancellationToken ct, Random rng, List<string> warnings, double? baselineSigma,
        Stopwatch clock, bool checkBaselineClass)
    {
        var frozen = model.Network.parameters().Select(p => (p, p.requires_grad)).ToList();
        foreach (var (p, _) in frozen) p.requires_grad = false;
        try
        {
            return RunFrozen(model, space, classIndex, o, progress, ct, rng, warnings, baselineSigma, clock, checkBaselineClass);
        }
        finally
        {
            foreach (var (p, r) in frozen) p.requires_grad = r;
        }
    }

    static AblationPathResult RunFrozen(Classifier model, IPathSpace space, int classIndex, AblationPathOptions o,
        IProgress<AblationProgress>? progress, CancellationToken ct, Random rng, List<string> warnings, double? baselineSigma,
        Stopwatch clock, bool checkBaselineClass)
    {
        using var scope = NewDisposeScope();
        int P = PathObjective.PathCount(o.Score), T = o.Steps;
        var dtype = space.Target.dtype;
        var device = space.Target.device;
        int targetClass = model.Predict(space.Target).Class;
        int baselineClass = model.Predict(space.Baseline).Class;
        if (checkBaselineClass && baselineClass == targetClass)
            warnings.Add($"The baseline (φ = 1) is classified as {Describe(model, baselineClass)}, the same class as the image; the thesis treats a same-class baseline as invalid (§2.7.1).");
        if (targetClass != classIndex)
            warnings.Add($"The explained class {Describe(model, classIndex)} is not the image's top class {Describe(model, targetClass)}.");

        // Regularisation σ at mask resolution (spatial spaces only).
        double sigmaMask = 0;
        if (space.IsSpatial && o.RegularisationSigma > 0)
        {
            double H = space.Target.shape[1], W = space.Target.shape[2];
            sigmaMask = o.RegularisationSigma * Math.Sqrt(space.MaskShape[0] * space.MaskShape[1] / (H * W));
        }
        var weights = space.MassWeights;
        var generator = new Generator((ulong)(uint)o.Seed, CPU);
        Func<Tensor, Tensor>? quantise = o.Quantisation switch
        {
            MaskQuantisation.Threshold => m => m + (m.detach().ge(0.5).to_type(m.dtype) - m.detach()),
            MaskQuantisation.Random => m =>
            {
                var u = rand(m.shape, dtype: ScalarType.Float64, generator: generator).to(m.dtype, m.device);
                return m + (u.lt(m.detach()).to_type(m.dtype) - m.detach());
            },
            _ => null,
        };

        // State [P,T,*S], the affine path (Eq 2.17) for each path.
        var affine = PathRepair.Affine(T, space.MaskShape, dtype, device);
        var state = stack(Enumerable.Repeat(affine, P).ToArray(), 0).DetachFromDisposeScope();
        Tensor? velocity = null;
        var scoreHistory = new List<double>();
        var satHistory = new List<double>();
        double fbMs = 0, repairMs = 0, otherMs = 0;
        var stop = StopReason.Unsaturated;
        int iterations = 0;
        try
        {
            for (int it = 1; it <= o.MaxIterations; it++)
            {
                ct.ThrowIfCancellationRequested();
                using var iterScope = NewDisposeScope();
                long t0 = Stopwatch.GetTimestamp();
                IPathSpace evalSpace = space;
                IPathSpace? drawn = null;
                if (o.RandomBaseline is not null)
                {
                    var b = o.RandomBaseline(rng);
                    drawn = evalSpace = space.WithBaseline(CheckBaseline(b, space.Target, "RandomBaseline"));
                }
                PathEvaluation ev;
                long t1 = Stopwatch.GetTimestamp();
                try { ev = PathObjective.Evaluate(model, evalSpace, state, o.Score, classIndex, o.BatchSize, quantise); }
                finally { drawn?.Dispose(); }
                Sync(device);
                long t2 = Stopwatch.GetTimestamp();
                var g = ev.Gradient;
                if (!double.IsFinite(ev.Score) || !isfinite(g).all().item<bool>())
                {
                    warnings.Add($"The classifier returned a non-finite score or gradient at iteration {it} (score {ev.Score}); stopped and kept the last finite path.");
                    stop = StopReason.NonFiniteScore;
                    break;
                }
                scoreHistory.Add(ev.Score);
                var maskDims = Enumerable.Range(2, space.MaskShape.Length).Select(d => (long)d).ToArray();
                if (o.RemoveGradientMean) g = g - g.mean(maskDims, keepdim: true);
                if (o.Momentum > 0)
                {
                    var v = velocity is null ? g : velocity * o.Momentum + g;
                    velocity?.Dispose();
                    velocity = v.detach().clone().DetachFromDisposeScope();
                    g = velocity;
                }
                // L∞-normalised step per path (§2.8.2); a zero gradient leaves the path alone.
                var gmax = g.abs().reshape(P, -1).amax(new long[] { 1 });
                var bshape = new long[g.dim()]; Array.Fill(bshape, 1); bshape[0] = P;
                var denom = gmax.where(gmax.gt(0), ones_like(gmax)).reshape(bshape);
                var next = state + g / denom * o.StepSize;
                if (o.JitterStd > 0)
                    next = next + randn(next.shape, dtype: ScalarType.Float64, generator: generator).to(next.dtype, next.device) * o.JitterStd;
                if (sigmaMask > 0)
                {
                    var flat = next.reshape(P * T, space.MaskShape[0], space.MaskShape[1]);
                    next = PathRepair.Regularise(flat, sigmaMask, o.RegularisationUnfilteredWeight).reshape(next.shape);
                }
                double zeta = o.SaturationAt(it);
                if (zeta > 0) next = PathRepair.Saturate(next, zeta);
                if (P == 2) next = stack(new[] { next[0], PathRepair.Pinch(next[0], next[1], o.Pinching) }, 0);
                Sync(device);
                long t3 = Stopwatch.GetTimestamp();
                var repaired = stack(Enumerable.Range(0, P).Select(k => PathRepair.Repair(next[k], o.Monotonisation, weights)).ToArray(), 0);
                Sync(device);
                long t4 = Stopwatch.GetTimestamp();
                state.Dispose();
                state = repaired.DetachFromDisposeScope();
                double sat = PathRepair.SaturationOf(state);
                satHistory.Add(sat);
                ev.Dispose();
                iterations = it;
                long t5 = Stopwatch.GetTimestamp();
                fbMs += Ms(t1, t2);
                repairMs += Ms(t3, t4);
                otherMs += Ms(t0, t1) + Ms(t2, t3) + Ms(t4, t5);
                progress?.Report(new AblationProgress(it, o.MaxIterations, ev.Score, sat));
                if (it >= o.MinIterations && sat >= o.SaturationTarget) { stop = StopReason.Saturated; break; }
            }
            if (stop == StopReason.Unsaturated)
                warnings.Add($"The path stayed unsaturated: saturation {satHistory.LastOrDefault():F3} < {o.SaturationTarget} after the cap of {o.MaxIterations} iterations; do not rely on it as an explanation (§2.6.3).");

            // Final diagnostics: the classifier along the final path(s), ends included.
            var up = state[0];
            var curve = PathObjective.Curve(model, space, up, classIndex, o.BatchSize);
            ScoreCurve? second = o.Score switch
            {
                AblationScore.Contrastive => PathObjective.Curve(model, space, 1 - up, classIndex, o.BatchSize),
                AblationScore.Straddling => PathObjective.Curve(model, space, state[1], classIndex, o.BatchSize),
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
            clock.Stop();
            return new AblationPathResult
            {
                Path = pathOut.DetachFromDisposeScope(), // owned by the result (IDisposable)
                Image = space.Target.cpu().clone().DetachFromDisposeScope(),
                Baseline = space.Baseline.cpu().clone().DetachFromDisposeScope(),
                ClassIndex = classIndex,
                ClassName = model.ClassNames[classIndex],
                ScoreKind = o.Score,
                PathSpace = space.Name,
                Times = PathRepair.Times(T),
                Score = score,
                RetainingScore = retaining,
                Saturation = PathRepair.SaturationOf(state),
                Iterations = iterations,
                StopReason = stop,
                ScoreHistory = scoreHistory.ToArray(),
                SaturationHistory = satHistory.ToArray(),
                Curve = curve,
                SecondCurve = second,
                BaselineSigma = baselineSigma,
                BaselineClass = baselineClass,
                TargetClass = targetClass,
                Warnings = warnings.ToArray(),
                Timings = new AblationTimings(fbMs, repairMs, otherMs, clock.Elapsed.TotalMilliseconds, iterations),
                Options = o,
            };
        }
        finally
        {
            state.Dispose();
            velocity?.Dispose();
            generator.Dispose();
        }
    }

    static double Ms(long a, long b) => (b - a) * 1000.0 / Stopwatch.Frequency;

    static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
