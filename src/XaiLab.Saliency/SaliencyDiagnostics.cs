using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace XaiLab.Saliency;

/// <summary>
/// The method-specific figures of a <see cref="SaliencyMap"/>: one key→value view (for formatters, JSON and
/// method-specific extras) and typed properties for the well-known figures. Every key is snake_case
/// (<see cref="Key"/> lists the well-known ones); a property is null when the method did not report that figure.
/// </summary>
/// <example>
/// <code>
/// using var map = new IntegratedGradients().Explain(model, image, cls);
/// double? err = map.Diagnostics?.CompletenessError;            // typed: IG's |Σ IG − (F(x) − F(x′))|
/// object raw  = map.Diagnostics![SaliencyDiagnostics.Key.CompletenessError];   // the same figure, untyped
/// foreach (var (key, value) in map.Diagnostics) Console.WriteLine($"{key} = {value}");   // every figure
/// // a producer builds one from a dictionary (implicit conversion):
/// SaliencyDiagnostics d = new Dictionary&lt;string, object&gt; { [SaliencyDiagnostics.Key.Seed] = 7L };
/// </code>
/// </example>
public sealed class SaliencyDiagnostics : IReadOnlyDictionary<string, object>
{
    /// <summary>The well-known keys (snake_case, the one naming convention of every diagnostics key).</summary>
    public static class Key
    {
        /// <summary>Ablation paths: the path's score (§2.6, mean F along the path).</summary>
        public const string Score = "score";
        /// <summary>Ablation paths: the retaining score.</summary>
        public const string RetainingScore = "retaining_score";
        /// <summary>Ablation paths: how far the masks are saturated to 0/1.</summary>
        public const string Saturation = "saturation";
        /// <summary>Optimisation steps taken (ablation paths, meaningful and extremal perturbation).</summary>
        public const string Iterations = "iterations";
        /// <summary>Ablation paths: why the optimiser stopped.</summary>
        public const string StopReason = "stop_reason";
        /// <summary>Ablation paths: the optimiser's warnings (string[]).</summary>
        public const string Warnings = "warnings";
        /// <summary>Ablation paths: the blur σ of the baseline, when the baseline is a blur.</summary>
        public const string BaselineSigma = "baseline_sigma";
        /// <summary>Ablation paths (class-transition reduction): the chosen transition time t.</summary>
        public const string ClassTransitionTime = "class_transition_time";
        /// <summary>Ablation paths (class-transition reduction): which case of the choice applied.</summary>
        public const string ClassTransitionCase = "class_transition_case";
        /// <summary>Grad-CAM: the name of the hooked layer.</summary>
        public const string Layer = "layer";
        /// <summary>Grad-CAM: the activation shape, e.g. <c>2048x7x7</c>.</summary>
        public const string ActivationShape = "activation_shape";
        /// <summary>RISE: the number of random masks.</summary>
        public const string Masks = "masks";
        /// <summary>RISE: the seed of the masks' generator.</summary>
        public const string Seed = "seed";
        /// <summary>RISE: the mean score over the masked images.</summary>
        public const string MeanScore = "mean_score";
        /// <summary>Integrated Gradients: |Σ IG − (F(x) − F(x′))| (completeness, Eq 1.6).</summary>
        public const string CompletenessError = "completeness_error";
        /// <summary>Integrated Gradients: F(x) of the image.</summary>
        public const string ImageOutput = "f_image";
        /// <summary>Integrated Gradients: F(x′) of the baseline.</summary>
        public const string BaselineOutput = "f_baseline";
        /// <summary>Integrated Gradients: Σ IG over all pixels and channels.</summary>
        public const string AttributionSum = "attribution_sum";
        /// <summary>Integrated Gradients: the number of Riemann steps.</summary>
        public const string Steps = "steps";
        /// <summary>Gradient methods: the explained output F(x).</summary>
        public const string Output = "output";
        /// <summary>Meaningful perturbation: F of the perturbed image at the end.</summary>
        public const string FinalScore = "final_score";
        /// <summary>Meaningful perturbation: F of the unperturbed image.</summary>
        public const string InitialScore = "initial_score";
    }

    readonly Dictionary<string, object> values;

    /// <summary>Diagnostics holding a copy of <paramref name="values"/> (keys should be snake_case, see <see cref="Key"/>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is null.</exception>
    public SaliencyDiagnostics(IEnumerable<KeyValuePair<string, object>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        this.values = new Dictionary<string, object>(values);
    }

    /// <summary>Wraps a producer's dictionary (copied), so that methods can write <c>new Dictionary&lt;string, object&gt; { … }</c>.</summary>
    [return: NotNullIfNotNull(nameof(values))]
    public static implicit operator SaliencyDiagnostics?(Dictionary<string, object>? values) => values is null ? null : new(values);

    /// <summary>The value of <paramref name="key"/> as <typeparamref name="T"/> (numbers convert between numeric types); null when absent.</summary>
    /// <exception cref="InvalidCastException">The value is present but not a <typeparamref name="T"/>.</exception>
    public T? Get<T>(string key) where T : struct
    {
        if (!values.TryGetValue(key, out var v)) return null;
        if (v is T t) return t;
        if (v is IConvertible c && v.GetType().IsPrimitive && typeof(T).IsPrimitive)
            return (T)Convert.ChangeType(c, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
        throw new InvalidCastException($"diagnostic '{key}' is a {v.GetType().Name}, expected {typeof(T).Name}");
    }

    /// <summary>The text value of <paramref name="key"/> (enum names are stored as text); null when absent.</summary>
    public string? GetString(string key) => values.TryGetValue(key, out var v) ? v?.ToString() : null;

    /// <summary><see cref="Key.Score"/>.</summary>
    public double? Score => Get<double>(Key.Score);
    /// <summary><see cref="Key.RetainingScore"/>.</summary>
    public double? RetainingScore => Get<double>(Key.RetainingScore);
    /// <summary><see cref="Key.Saturation"/>.</summary>
    public double? Saturation => Get<double>(Key.Saturation);
    /// <summary><see cref="Key.Iterations"/>.</summary>
    public int? Iterations => Get<int>(Key.Iterations);
    /// <summary><see cref="Key.StopReason"/> (the name of the stop reason).</summary>
    public string? StopReason => GetString(Key.StopReason);
    /// <summary><see cref="Key.Warnings"/>; empty when absent.</summary>
    public IReadOnlyList<string> Warnings => values.TryGetValue(Key.Warnings, out var v) && v is IEnumerable<string> w ? w.ToArray() : Array.Empty<string>();
    /// <summary><see cref="Key.BaselineSigma"/>.</summary>
    public double? BaselineSigma => Get<double>(Key.BaselineSigma);
    /// <summary><see cref="Key.ClassTransitionTime"/>.</summary>
    public double? ClassTransitionTime => Get<double>(Key.ClassTransitionTime);
    /// <summary><see cref="Key.ClassTransitionCase"/> (the name of the case).</summary>
    public string? ClassTransitionCase => GetString(Key.ClassTransitionCase);
    /// <summary><see cref="Key.Layer"/>.</summary>
    public string? Layer => GetString(Key.Layer);
    /// <summary><see cref="Key.ActivationShape"/>.</summary>
    public string? ActivationShape => GetString(Key.ActivationShape);
    /// <summary><see cref="Key.Masks"/>.</summary>
    public int? Masks => Get<int>(Key.Masks);
    /// <summary><see cref="Key.Seed"/>.</summary>
    public long? Seed => Get<long>(Key.Seed);
    /// <summary><see cref="Key.MeanScore"/>.</summary>
    public double? MeanScore => Get<double>(Key.MeanScore);
    /// <summary><see cref="Key.CompletenessError"/>.</summary>
    public double? CompletenessError => Get<double>(Key.CompletenessError);
    /// <summary><see cref="Key.ImageOutput"/>.</summary>
    public double? ImageOutput => Get<double>(Key.ImageOutput);
    /// <summary><see cref="Key.BaselineOutput"/>.</summary>
    public double? BaselineOutput => Get<double>(Key.BaselineOutput);
    /// <summary><see cref="Key.AttributionSum"/>.</summary>
    public double? AttributionSum => Get<double>(Key.AttributionSum);
    /// <summary><see cref="Key.Steps"/>.</summary>
    public int? Steps => Get<int>(Key.Steps);
    /// <summary><see cref="Key.Output"/>.</summary>
    public double? Output => Get<double>(Key.Output);
    /// <summary><see cref="Key.FinalScore"/>.</summary>
    public double? FinalScore => Get<double>(Key.FinalScore);
    /// <summary><see cref="Key.InitialScore"/>.</summary>
    public double? InitialScore => Get<double>(Key.InitialScore);

    /// <inheritdoc/>
    public object this[string key] => values.TryGetValue(key, out var v) ? v
        : throw new KeyNotFoundException($"no diagnostic '{key}'; present: {string.Join(", ", values.Keys)}");
    /// <inheritdoc/>
    public IEnumerable<string> Keys => values.Keys;
    /// <inheritdoc/>
    public IEnumerable<object> Values => values.Values;
    /// <inheritdoc/>
    public int Count => values.Count;
    /// <inheritdoc/>
    public bool ContainsKey(string key) => values.ContainsKey(key);
    /// <inheritdoc/>
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out object value) => values.TryGetValue(key, out value);
    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, object>> GetEnumerator() => values.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Every figure as <c>key = value</c>, comma-separated.</summary>
    public override string ToString() => string.Join(", ", values.Select(kv => $"{kv.Key} = {kv.Value}"));
}
