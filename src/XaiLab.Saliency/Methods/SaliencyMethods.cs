namespace XaiLab.Saliency.Methods;

/// <summary>
/// Creates saliency methods by name (command line, result files): <c>gradient</c>, <c>integrated-gradients</c>,
/// <c>rise</c>, <c>grad-cam</c>, <c>meaningful-perturbation</c>, <c>extremal-perturbation</c>, <c>centre</c>
/// (aliases: <c>ig</c>, <c>gradcam</c>, <c>mp</c>, <c>ep</c>, <c>extremal</c>, <c>center</c>).
/// </summary>
public static class SaliencyMethods
{
    static readonly (string Name, string[] Aliases, Type OptionsType, Func<object?, ISaliencyMethod> Make)[] Table =
    {
        ("gradient", Array.Empty<string>(), typeof(GradientOptions), o => new GradientMethod((GradientOptions?)o)),
        ("integrated-gradients", new[] { "ig" }, typeof(IntegratedGradientsOptions), o => new IntegratedGradients((IntegratedGradientsOptions?)o)),
        ("rise", Array.Empty<string>(), typeof(RiseOptions), o => new Rise((RiseOptions?)o)),
        ("grad-cam", new[] { "gradcam" }, typeof(GradCamOptions), o => new GradCam((GradCamOptions?)o)),
        ("meaningful-perturbation", new[] { "mp" }, typeof(MeaningfulPerturbationOptions), o => new MeaningfulPerturbation((MeaningfulPerturbationOptions?)o)),
        ("extremal-perturbation", new[] { "ep", "extremal" }, typeof(ExtremalPerturbationOptions), o => new ExtremalPerturbation((ExtremalPerturbationOptions?)o)),
        ("centre", new[] { "center" }, typeof(CentreOptions), _ => new CentreMethod()),
    };

    /// <summary>The canonical method names.</summary>
    public static IReadOnlyList<string> Names => Table.Select(t => t.Name).ToArray();

    /// <summary>
    /// The method called <paramref name="name"/> (case-insensitive, aliases accepted) with <paramref name="options"/>
    /// (its options record, e.g. <see cref="RiseOptions"/>; null = published defaults).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name (the message lists the known ones), or options of the wrong type.</exception>
    public static ISaliencyMethod Create(string name, object? options = null)
    {
        var key = (name ?? "").Trim().ToLowerInvariant();
        foreach (var t in Table)
        {
            if (t.Name != key && !t.Aliases.Contains(key)) continue;
            if (options is not null && options.GetType() != t.OptionsType)
                throw new ArgumentException($"Method '{t.Name}' takes options of type {t.OptionsType.Name}; got {options.GetType().Name}.", nameof(options));
            return t.Make(options);
        }
        throw new ArgumentException($"Unknown saliency method '{name}'. Known methods: {string.Join(", ", Names)} (aliases: {string.Join(", ", Table.SelectMany(t => t.Aliases))}).", nameof(name));
    }

    /// <summary>The options record of <paramref name="method"/> (for result files), or null for a method of another assembly.</summary>
    public static object? OptionsOf(ISaliencyMethod method) => method switch
    {
        GradientMethod m => m.Options,
        IntegratedGradients m => m.Options,
        Rise m => m.Options,
        GradCam m => m.Options,
        MeaningfulPerturbation m => m.Options,
        ExtremalPerturbation m => m.Options,
        CentreMethod m => m.Options,
        _ => null,
    };

    /// <summary>A one-line description of <paramref name="method"/>'s parameters (tensor-valued ones shown as "given").</summary>
    public static string Describe(ISaliencyMethod method)
    {
        var o = OptionsOf(method);
        if (o is null) return method.Name;
        var props = o.GetType().GetProperties().Where(p => p.CanRead && p.GetIndexParameters().Length == 0 && p.DeclaringType == o.GetType())
            .Select(p =>
            {
                var v = p.GetValue(o);
                string s = v switch
                {
                    null => "null",
                    TorchSharp.torch.Tensor => "given",
                    IEnumerable<double> e => "[" + string.Join(";", e.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]",
                    IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
                    _ => v.ToString() ?? "",
                };
                return $"{p.Name}={s}";
            });
        return string.Join(" ", props);
    }
}
