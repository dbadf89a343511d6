using static TorchSharp.torch;

namespace XaiLab.Saliency.AblationPaths;

/// <summary>The score an ablation path maximises (thesis §2.3). All are "larger is better".</summary>
public enum AblationScore
{
    /// <summary>Retaining <c>P↑ = mean_i F(x(t_i))</c> (Eq 2.13, insertion AUC as an objective). Range [0,1].</summary>
    Retaining,
    /// <summary>Dissipating <c>P↓ = 1 − mean_i F(x(t_i))</c> (Eq 2.14, deletion AUC as an objective). Range [0,1].</summary>
    Dissipating,
    /// <summary>Contrastive <c>P↕(φ) = P↑(φ) + P↓(1−φ)</c> (Eq 2.15): the path and its complement. Range [0,2].
    /// Deviation kept on purpose: the thesis' figures draw these scores on [−1, 1] (the sum minus 1); we report the plain sum so that
    /// its retaining part (<c>RetainingScore</c>, [0,1]) compares directly with the adversarial threshold and with P↑ runs —
    /// subtract 1 to read a value on the thesis' axis.</summary>
    Contrastive,
    /// <summary>Boundary-straddling <c>P↑↓(φ↑,φ↓) = P↑(φ↑) + P↓(φ↓)</c> with pinching (Eq 2.16, §2.5.3). Range [0,2]; the path is a pair.</summary>
    Straddling,
}

/// <summary>How step 6(a) of Algorithm 2 makes each pixel's <c>t ↦ φ(t,r)</c> nondecreasing.</summary>
public enum MonotonisationMethod
{
    /// <summary>Algorithm 1 (§2.6.2B, "descent flattening"): decreasing runs become flat plateaus at their
    /// mid-value, everything else is left untouched. L∞-optimal (Lemma 6). The thesis default.</summary>
    DescentFlattening,
    /// <summary>Midpoint of the running maximum from the left and the running minimum from the right,
    /// <c>(max_{j≤i} p_j + min_{j≥i} p_j)/2</c>: also monotone and L∞-optimal, pure tensor work, but it moves
    /// values away from the decreasing runs too (SPEC §1.4).</summary>
    RunningMidpoint,
}

/// <summary>Where the masks of a path turn into images (the <i>path space</i>, STYLE.md's seam).</summary>
public enum PathSpaceKind
{
    /// <summary>Masked linear interpolation to one baseline, <c>x(t) = (1−φ)⊙x_Tg + φ⊙x_BL</c> (Eq 1.12/2.2).</summary>
    Linear,
    /// <summary>The blur pyramid (§2.8.5A): the mask selects the blur level locally (0 = sharp, 1 = the most blurred level).</summary>
    BlurPyramid,
}

/// <summary>Stochastic mask application (§2.4.3B, "collapse").</summary>
public enum MaskQuantisation
{
    /// <summary>Masks are interpolation coefficients (deterministic, the thesis default).</summary>
    None,
    /// <summary>Hard masks: a pixel takes the baseline where φ ≥ 0.5.</summary>
    Threshold,
    /// <summary>Hard masks: a pixel takes the baseline with probability φ (a fresh draw per iteration, seeded).</summary>
    Random,
}

/// <summary>The reduction of a path to a saliency map (thesis §2.7.2). Every reduction is returned with larger = more salient.</summary>
public enum AblationReduction
{
    /// <summary>Averaging <c>Θ_avg = mean_t φ(t)</c> (Eq 2.33); saliency = 1 − Θ_avg.</summary>
    Average,
    /// <summary>Class transition <c>Θ_clt = φ(t*)</c> (Eq 2.34); saliency = 1 − Θ_clt.</summary>
    ClassTransition,
    /// <summary>Influence-weighted averaging (Eq 2.35), ends included.</summary>
    InfluenceWeighted,
    /// <summary>Contrastive averaging of the straddling pair (Eq 2.36), <c>mean_t (φ↓(t) − φ↑(t))</c>.</summary>
    ContrastiveAverage,
}

/// <summary>
/// Options of the ablation-path optimisation (Algorithm 2, §2.6.3) as an immutable record whose defaults are the
/// thesis' / reference code's values (SPEC §1). Use <c>with</c> expressions for sweeps:
/// <code>var o = new AblationPathOptions { Score = AblationScore.Straddling, RegularisationSigma = 7, Saturation = 0.8 };</code>
/// </summary>
public sealed record AblationPathOptions
{
    /// <summary>σ_reguBlur = 6 image pixels: where the pointing game of §2.8.3 peaks (scores of ~1, i.e. adversarial paths,
    /// below 4 px). The default of <see cref="RegularisationSigma"/> and the value the under-regularisation warning names.</summary>
    public const double ThesisRegularisationSigma = 6;

    /// <summary>
    /// The options that only <i>build</i> the path space (<see cref="PathSpaceFactory.Build"/>): <see cref="MaskSize"/>,
    /// <see cref="PathSpace"/>, <see cref="PyramidLevels"/>, <see cref="PyramidMaxSigma"/>, <see cref="PyramidLogSigma"/>,
    /// <see cref="Baseline"/>, <see cref="BaselineSigma"/> and <see cref="BaselineSigmaCandidates"/>. The overloads that take a
    /// ready <see cref="IPathSpace"/> use that space's own mask shape, baseline and regularisation scale and reject these
    /// when they differ from their defaults.
    /// </summary>
    public static IReadOnlyList<string> SpaceBuildingOptions { get; } = new[]
    {
        nameof(MaskSize), nameof(PathSpace), nameof(PyramidLevels), nameof(PyramidMaxSigma), nameof(PyramidLogSigma),
        nameof(Baseline), nameof(BaselineSigma), nameof(BaselineSigmaCandidates),
    };

    /// <summary>The space-building options (<see cref="SpaceBuildingOptions"/>) that differ from their defaults.</summary>
    public IReadOnlyList<string> NonDefaultSpaceOptions()
    {
        var d = new AblationPathOptions();
        var list = new List<string>();
        if (MaskSize != d.MaskSize) list.Add(nameof(MaskSize));
        if (PathSpace != d.PathSpace) list.Add(nameof(PathSpace));
        if (PyramidLevels != d.PyramidLevels) list.Add(nameof(PyramidLevels));
        if (PyramidMaxSigma != d.PyramidMaxSigma) list.Add(nameof(PyramidMaxSigma));
        if (PyramidLogSigma != d.PyramidLogSigma) list.Add(nameof(PyramidLogSigma));
        if (Baseline is not null) list.Add(nameof(Baseline));
        if (BaselineSigma is not null) list.Add(nameof(BaselineSigma));
        if (!ReferenceEquals(BaselineSigmaCandidates, d.BaselineSigmaCandidates) && !BaselineSigmaCandidates.SequenceEqual(d.BaselineSigmaCandidates))
            list.Add(nameof(BaselineSigmaCandidates));
        return list;
    }

    /// <summary>Number of interior masks T at t_i = i/(T+1) (§2.6.2A). Default 14 (16 path steps with the ends).</summary>
    public int Steps { get; init; } = 14;

    /// <summary>Masks are <c>min(MaskSize,H) × min(MaskSize,W)</c>, upsampled bilinearly (align_corners = false). Default 64 (§2.6.1: 14×64×64 for ~224-px images).</summary>
    public int MaskSize { get; init; } = 64;

    /// <summary>The score to maximise (§2.3). Default retaining.</summary>
    public AblationScore Score { get; init; } = AblationScore.Retaining;

    /// <summary>L∞-normalised step size h: <c>φ ← φ + h·g/max|g|</c> (§2.8.2). Default 0.5.</summary>
    public double StepSize { get; init; } = 0.5;

    /// <summary>Subtract each mask's mean from its gradient (Algorithm 2, line 6). Default false (the constant-speed repair restores the mass anyway).</summary>
    public bool RemoveGradientMean { get; init; }

    /// <summary>Momentum β of the (normalised) ascent direction, <c>v ← β·v + g</c>; 0 = none (default).</summary>
    public double Momentum { get; init; }

    /// <summary>Artificial saturation ζ_sat of Eq 2.26; 0 = identity (default). Must be finite and ≥ 0.</summary>
    public double Saturation { get; init; }

    /// <summary>Optional schedule <c>iteration (1-based) → ζ_sat</c> replacing <see cref="Saturation"/> (§2.8.5C: ramp it up).</summary>
    public Func<int, double>? SaturationSchedule { get; init; }

    /// <summary>Gaussian regularisation σ_reguBlur in IMAGE pixels (Eq 2.24/2.25), rescaled to mask resolution by
    /// <c>sqrt(h·w/(H·W))</c>. Default 6 px (§2.8.3: the pointing-game peak; scores of ~1 below 4 px). 0 = none.</summary>
    public double RegularisationSigma { get; init; } = ThesisRegularisationSigma;

    /// <summary>Weight α of the unfiltered path in <c>φ ← (1−α)·γ_σ⋆φ + α·φ</c>. Default 0 (pure filter).</summary>
    public double RegularisationUnfilteredWeight { get; init; }

    /// <summary>Pinching strength ζ_p of Eq 2.29 for the straddling pair, in [0,1]. Default 0.1.</summary>
    public double Pinching { get; init; } = 0.1;

    /// <summary>Monotonisation of step 6(a). Default Algorithm 1.</summary>
    public MonotonisationMethod Monotonisation { get; init; } = MonotonisationMethod.DescentFlattening;

    /// <summary>Stop when the saturation <c>S = mean(2|φ−0.5|)</c> reaches this (Eq 2.31). Default 0.8.</summary>
    public double SaturationTarget { get; init; } = 0.8;

    /// <summary>Never stop before this many iterations. Default 6.</summary>
    public int MinIterations { get; init; } = 6;

    /// <summary>Never run more than this many iterations; a path stopped here is "unsaturated". Default 100.</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>Where masks become images. Default linear interpolation to the baseline.</summary>
    public PathSpaceKind PathSpace { get; init; } = PathSpaceKind.Linear;

    /// <summary>Blur pyramid: number of levels including the sharp image (default 8, §2.8.5A).</summary>
    public int PyramidLevels { get; init; } = 8;

    /// <summary>Blur pyramid: σ of the most blurred level in image pixels (default 20).</summary>
    public double PyramidMaxSigma { get; init; } = 20;

    /// <summary>Blur pyramid: geometric (true) or linear (false, default) spacing of the level σ.</summary>
    public bool PyramidLogSigma { get; init; }

    /// <summary>An explicit baseline image <c>[C,H,W]</c>; null = the blurred baseline (§2.7.1).</summary>
    public Tensor? Baseline { get; init; }

    /// <summary>Fixed blur σ (image pixels) of the blurred baseline; null = automatic: the smallest σ of <see cref="BaselineSigmaCandidates"/> ([4,100] px) that changes the top class (Eq 2.32).</summary>
    public double? BaselineSigma { get; init; }

    /// <summary>The σ grid (image pixels, ascending) the automatic blurred-baseline search walks (Eq 2.32). Default
    /// <see cref="Baselines.CandidateSigmas"/>: 4, 5, …, 20, 22, …, 40, 45, …, 100.</summary>
    public IReadOnlyList<double> BaselineSigmaCandidates { get; init; } = Baselines.CandidateSigmas;

    /// <summary>Stochastic baselines (§2.4.3C, §2.8.5B): called once per iteration with the seeded generator; returns <c>[C,H,W]</c>. Needs the linear path space.</summary>
    public Func<Random, Tensor>? RandomBaseline { get; init; }

    /// <summary>Std of Gaussian noise added to the path after each step, before the projections (§2.4.3A; reference 0.5). Default 0 = off.</summary>
    public double JitterStd { get; init; }

    /// <summary>Hard-quantised mask application (§2.4.3B) with a straight-through gradient. Default none.</summary>
    public MaskQuantisation Quantisation { get; init; } = MaskQuantisation.None;

    /// <summary>Seed of every stochastic option (jitter, random quantisation, random baselines). Same seed → same result on the CPU.</summary>
    public int Seed { get; init; }

    /// <summary>Images per classifier call (memory knob, like Captum's internal_batch_size); 0 = all at once.</summary>
    public int BatchSize { get; init; }

    /// <summary>A retaining part P↑ at or above this ends with the "adversarial / under-regularised" warning (§2.8.3). Default 0.95.</summary>
    public double AdversarialScoreThreshold { get; init; } = 0.95;

    /// <summary><see cref="AblationPath.OptimiseMany(XaiLab.Imaging.Classifier, IReadOnlyList{ValueTuple{Tensor, int}}, AblationPathOptions?, IProgress{AblationBatchProgress}?, CancellationToken)"/>:
    /// how many paths are optimised together (one forward/backward over their B·T masks); a finished path's slot is
    /// refilled from the waiting pairs. 0 (default) = all pairs at once. Memory grows with B·T images per call
    /// (bounded separately by <see cref="BatchSize"/>).</summary>
    public int PathsPerBatch { get; init; }

    /// <summary>Synchronise the device around the network and the repair in every iteration so that
    /// <see cref="AblationTimings"/> splits a GPU iteration exactly. Default false: on a GPU the split is then the
    /// host's view of asynchronous work (the per-iteration total stays exact); CPU timings are exact either way.</summary>
    public bool SynchronisedTimings { get; init; }

    /// <summary>Checks every option and throws <see cref="ArgumentException"/> naming the option and its valid range.</summary>
    public void Validate()
    {
        static void Need(bool ok, string name, string what) { if (!ok) throw new ArgumentException($"AblationPathOptions.{name}: {what}.", name); }
        Need(Steps >= 1, nameof(Steps), $"need at least 1 interior mask (T ≥ 1); got {Steps}");
        Need(MaskSize >= 1, nameof(MaskSize), $"must be ≥ 1; got {MaskSize}");
        Need(double.IsFinite(StepSize) && StepSize > 0, nameof(StepSize), $"must be finite and > 0; got {StepSize}");
        Need(double.IsFinite(Momentum) && Momentum >= 0 && Momentum < 1, nameof(Momentum), $"must lie in [0,1); got {Momentum}");
        Need(double.IsFinite(Saturation) && Saturation >= 0, nameof(Saturation), $"ζ_sat must be finite and ≥ 0; got {Saturation}");
        Need(double.IsFinite(RegularisationSigma) && RegularisationSigma >= 0, nameof(RegularisationSigma), $"σ must be finite and ≥ 0 (image pixels); got {RegularisationSigma}");
        Need(RegularisationUnfilteredWeight is >= 0 and <= 1, nameof(RegularisationUnfilteredWeight), $"must lie in [0,1]; got {RegularisationUnfilteredWeight}");
        Need(Pinching is >= 0 and <= 1, nameof(Pinching), $"ζ_p must lie in [0,1]; got {Pinching}");
        Need(SaturationTarget is > 0 and <= 1, nameof(SaturationTarget), $"must lie in (0,1]; got {SaturationTarget}");
        Need(MinIterations >= 1, nameof(MinIterations), $"must be ≥ 1; got {MinIterations}");
        Need(MaxIterations >= MinIterations, nameof(MaxIterations), $"must be ≥ MinIterations ({MinIterations}); got {MaxIterations}");
        Need(PyramidLevels >= 2, nameof(PyramidLevels), $"need at least 2 levels; got {PyramidLevels}");
        Need(double.IsFinite(PyramidMaxSigma) && PyramidMaxSigma > 0, nameof(PyramidMaxSigma), $"must be finite and > 0; got {PyramidMaxSigma}");
        Need(BaselineSigma is null || (double.IsFinite(BaselineSigma.Value) && BaselineSigma.Value >= 0), nameof(BaselineSigma), $"must be finite and ≥ 0; got {BaselineSigma}");
        var candidateError = Baselines.CandidateError(BaselineSigmaCandidates);
        Need(candidateError is null, nameof(BaselineSigmaCandidates), candidateError!);
        Need(double.IsFinite(JitterStd) && JitterStd >= 0, nameof(JitterStd), $"must be finite and ≥ 0; got {JitterStd}");
        Need(PathsPerBatch >= 0, nameof(PathsPerBatch), $"must be ≥ 0 (0 = all pairs at once); got {PathsPerBatch}");
        Need(BatchSize >= 0, nameof(BatchSize), $"must be ≥ 0 (0 = all at once); got {BatchSize}");
        Need(AdversarialScoreThreshold is > 0 and <= 1, nameof(AdversarialScoreThreshold), $"must lie in (0,1]; got {AdversarialScoreThreshold}");
        Need(!(Baseline is not null && RandomBaseline is not null), nameof(RandomBaseline), "give either a fixed Baseline or a RandomBaseline, not both");
        Need(!(PathSpace == PathSpaceKind.BlurPyramid && (Baseline is not null || RandomBaseline is not null)), nameof(PathSpace),
            "the blur pyramid makes its own levels from the image; it takes no Baseline or RandomBaseline");
    }

    /// <summary>ζ_sat at iteration <paramref name="iteration"/> (1-based): the schedule if given, else <see cref="Saturation"/>.</summary>
    public double SaturationAt(int iteration)
    {
        var z = SaturationSchedule?.Invoke(iteration) ?? Saturation;
        if (!double.IsFinite(z) || z < 0)
            throw new ArgumentException($"AblationPathOptions.SaturationSchedule returned ζ_sat = {z} at iteration {iteration}; it must be finite and ≥ 0.");
        return z;
    }
}
