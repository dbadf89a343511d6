using System.Diagnostics;
using TorchSharp;
using XaiLab.Imaging;
using XaiLab.Saliency.Methods;
using static TorchSharp.torch;

namespace XaiLab.Saliency.Evaluation;

/// <summary>Wall-clock seconds per image of one method.</summary>
public sealed record MethodTiming(string Method, int Images, double MeanSeconds, double MinSeconds, double MaxSeconds, string Parameters);

/// <summary>Timings of several methods on one model and the machine they ran on.</summary>
public sealed record MethodBenchmarkResult(string Model, int Height, int Width, string Device, int Cores, int TorchThreads, IReadOnlyList<MethodTiming> Timings);

/// <summary>Measures the per-image time of saliency methods (<c>xailab bench methods</c>).</summary>
public static class MethodBenchmark
{
    /// <summary>
    /// Runs every method on every image (one untimed forward/backward pass first, to warm up torch), timing each call.
    /// </summary>
    /// <param name="model">The classifier to explain.</param>
    /// <param name="methods">The methods to time.</param>
    /// <param name="images">The images <c>[C,H,W]</c> and the class explained on each.</param>
    /// <param name="log">A text log: one line per finished method (its mean seconds per image).</param>
    /// <param name="cancellationToken">Checked before each (method, image) call.</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static MethodBenchmarkResult Run(Classifier model, IReadOnlyList<ISaliencyMethod> methods, IReadOnlyList<(Tensor Image, int ClassIndex)> images,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (images.Count == 0) throw new ArgumentException("bench methods: no images given.");
        if (methods.Count == 0) throw new ArgumentException("bench methods: no methods given.");
        using (var warm = new GradientMethod().Explain(model, images[0].Image, images[0].ClassIndex)) { }
        var timings = new List<MethodTiming>();
        foreach (var m in methods)
        {
            var secs = new List<double>();
            foreach (var (img, cls) in images)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var sw = Stopwatch.StartNew();
                using (var map = m.Explain(model, img, cls)) { }
                sw.Stop();
                secs.Add(sw.Elapsed.TotalSeconds);
            }
            var t = new MethodTiming(m.Name, secs.Count, secs.Average(), secs.Min(), secs.Max(), SaliencyMethods.Describe(m));
            timings.Add(t);
            log?.Invoke($"{m.Name}: {t.MeanSeconds:F3} s/image");
        }
        return new MethodBenchmarkResult(model.Name, (int)images[0].Image.shape[^2], (int)images[0].Image.shape[^1], model.Device.ToString(),
            Environment.ProcessorCount, torch.get_num_threads(), timings);
    }

    /// <summary>
    /// A randomly initialised small CNN (a timing stand-in, not a trained model): four 3×3 conv+ReLU blocks
    /// (16, 32, 64, 64 channels; max-pooling after the first three), global average pooling and a linear layer to
    /// <paramref name="classes"/> logits; softmax output. Layers: <c>features.*</c>, <c>pool</c>, <c>flatten</c>, <c>fc</c>.
    /// </summary>
    public static Classifier RandomSmallCnn(int classes = 10, int size = 128, long seed = 0)
    {
        Devices.EnsureNativeLoaded();
        var features = nn.Sequential(
            ("0", nn.Conv2d(3, 16, 3, padding: 1)), ("1", nn.ReLU()), ("2", nn.MaxPool2d(2)),
            ("3", nn.Conv2d(16, 32, 3, padding: 1)), ("4", nn.ReLU()), ("5", nn.MaxPool2d(2)),
            ("6", nn.Conv2d(32, 64, 3, padding: 1)), ("7", nn.ReLU()), ("8", nn.MaxPool2d(2)),
            ("9", nn.Conv2d(64, 64, 3, padding: 1)), ("10", nn.ReLU()));
        var net = SeededInit.Apply(nn.Sequential(("features", features), ("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(64, classes))), unchecked((ulong)seed));
        return new Classifier(net, Enumerable.Range(0, classes).Select(i => $"class{i}").ToArray(), OutputActivation.Softmax,
            inputSize: (size, size), name: "random-small-cnn");
    }
}
