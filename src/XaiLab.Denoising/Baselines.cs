using TorchSharp;
using static TorchSharp.torch;

namespace XaiLab.Denoising;

/// <summary>
/// One yardstick's score on a validation set (a row of the baseline table).
/// </summary>
/// <param name="Name">"noisy input", "mean image", "Wiener", "low-pass σ=… px", ….</param>
/// <param name="Mse">Disc MSE against the clean images.</param>
/// <param name="Psnr">10·log10(1/MSE) dB.</param>
/// <param name="Noise">The SNR with its reading (<see cref="ProjectionDataset.NoiseDescription"/>).</param>
public sealed record BaselineScore(string Name, double Mse, double Psnr, string Noise);

/// <summary>
/// The trivial and classical yardsticks of a (train, validation) pair (thesis §6.3): the noisy input itself, the
/// mean image (pixel-wise mean of the training targets, the best predictor that ignores its input), the radial mean
/// (<see cref="RadialMean"/>), the Wiener filter fitted on noisy training images and the Gaussian low-pass with σ
/// chosen on the validation set. A denoiser that does not beat the mean image has learnt nothing from its input.
/// </summary>
/// <param name="Noise">The SNR with its reading.</param>
/// <param name="Scores">One row per yardstick.</param>
/// <param name="LowPassSigma">The chosen low-pass σ (pixels).</param>
public sealed record Baselines(string Noise, IReadOnlyList<BaselineScore> Scores, double LowPassSigma)
{
    /// <summary>The best yardstick (lowest MSE).</summary>
    public BaselineScore Best => Scores.Where(s => s.Name != "noisy input").MinBy(s => s.Mse)!;
    /// <summary>The row called <paramref name="name"/> (prefix match, e.g. "low-pass").</summary>
    public BaselineScore this[string name] => Scores.First(s => s.Name.StartsWith(name, StringComparison.Ordinal));

    /// <summary>Computes every yardstick on <paramref name="validation"/> (Wiener and means fitted on <paramref name="train"/>).</summary>
    public static Baselines Compute(ProjectionDataset train, ProjectionDataset validation)
    {
        if (train.ImageSize != validation.ImageSize) throw new ArgumentException($"Image sizes differ: {train.ImageSize} vs {validation.ImageSize}.");
        using var scope = NewDisposeScope();
        string noise = validation.NoiseDescription;
        BaselineScore Row(string name, Tensor estimate)
        {
            double mse = DenoisingMetrics.DiscMse(estimate, validation.Clean);
            return new BaselineScore(name, mse, DenoisingMetrics.Psnr(mse), noise);
        }
        var rows = new List<BaselineScore> { Row("noisy input", validation.Noisy) };
        rows.Add(Row("mean image", MeanImage(train.Clean).expand_as(validation.Clean)));
        rows.Add(Row("radial mean", RadialMean.FromClean(train.Clean).view(1, 1, train.ImageSize, train.ImageSize).expand_as(validation.Clean)));
        using (var wiener = WienerFilter.FitFromNoisy(train.Noisy, train.NoiseStd))
            rows.Add(Row("Wiener", wiener.Apply(validation.Noisy, validation.NoiseStd)));
        var lp = GaussianLowPass.SelectSigma(validation.Noisy, validation.Clean);
        rows.Add(new BaselineScore($"low-pass σ={lp.Sigma:G3} px", lp.Mse, DenoisingMetrics.Psnr(lp.Mse), noise));
        return new Baselines(noise, rows, lp.Sigma);
    }

    /// <summary>The pixel-wise mean of clean images <c>[N,1,n,n]</c> → <c>[1,1,n,n]</c>.</summary>
    public static Tensor MeanImage(Tensor clean) => clean.mean([0], keepdim: true);
}
