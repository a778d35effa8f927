using System.Globalization;
using static TorchSharp.torch;

namespace Bmojo.Bench;

/// <summary>What one <c>bench train-step</c> run measures.</summary>
/// <param name="Models">Compiled-in model names, run in this order.</param>
/// <param name="Batch">Sequences per step.</param>
/// <param name="Length">Tokens per sequence (the model's input; the targets are the next tokens).</param>
/// <param name="Steps">Timed steps per model (fewer when a step is so slow that they would not fit the time limit).</param>
/// <param name="Warmup">Untimed steps before them.</param>
/// <param name="Dtype">Parameters and activations: bf16 or fp32 (in bf16 the B'MOJO attention runs on the tensor cores, bf16 operands and fp32 accumulation; the scan computes in fp32 either way).</param>
/// <param name="Breakdown">Also time one layer of each kind alone, the head and the optimizer step.</param>
/// <param name="TimeLimitSeconds">The whole run's wall-clock budget, shared out among the models.</param>
public sealed record TrainingStepOptions(IReadOnlyList<string> Models, int Batch, int Length, int Steps, int Warmup,
                                         ScalarType Dtype, bool Breakdown, double TimeLimitSeconds)
{
    public const double DefaultTimeLimitSeconds = 540;

    /// <summary>The issue's setting on a GPU: BMojo, Transformer, Mamba at L 2048, bf16, 10 timed steps, 4 sequences:
    /// B'MOJO's blockwise attention keeps about 0.7 GB per sequence and layer for its backward at L 2048 (measured on the
    /// CPU), so BMojo needs about 60 GB at 4 sequences and about 115 GB, near the H200's 139 GiB, at 8.</summary>
    public static TrainingStepOptions Full { get; } =
        new(["BMojo", "Transformer", "Mamba"], Batch: 4, Length: 2048, Steps: 10, Warmup: 3, ScalarType.BFloat16,
            Breakdown: true, DefaultTimeLimitSeconds);

    /// <summary>The tiny specs at L 64, 4 sequences, 3 timed steps: a smoke run on the CPU.</summary>
    public static TrainingStepOptions Quick { get; } =
        new(["BMojoTiny", "TransformerTiny", "MambaTiny"], Batch: 4, Length: 64, Steps: 3, Warmup: 3, ScalarType.BFloat16,
            Breakdown: true, DefaultTimeLimitSeconds);

    public long TokensPerStep => (long)Batch * Length;

    public string DtypeName => Dtype == ScalarType.BFloat16 ? "bf16" : "fp32";

    /// <summary>The options given over the defaults (<see cref="Quick"/> when asked or off CUDA, else <see cref="Full"/>);
    /// null values keep the default. Throws <see cref="ArgumentException"/> with the message of <see cref="Check"/>.</summary>
    public static TrainingStepOptions From(bool small, string? models, int? batch, int? length, int? steps, string? dtype,
                                           bool breakdown = true, double? timeLimitSeconds = null)
    {
        if (Check(models, batch, length, steps, dtype, timeLimitSeconds) is string problem) throw new ArgumentException(problem);
        TrainingStepOptions d = small ? Quick : Full;
        return d with
        {
            Models = models is null ? d.Models : SplitModels(models).Select(m => BenchModels.Find(m)!.Name).ToList(),
            Batch = batch ?? d.Batch,
            Length = length ?? d.Length,
            Steps = steps ?? d.Steps,
            Dtype = dtype is null ? d.Dtype : ParseDtype(dtype)!.Value,
            Breakdown = breakdown,
            TimeLimitSeconds = timeLimitSeconds ?? d.TimeLimitSeconds,
        };
    }

    /// <summary>Why these option values cannot run, naming the option, or null.</summary>
    public static string? Check(string? models, int? batch, int? length, int? steps, string? dtype, double? timeLimitSeconds = null)
    {
        if (models is not null)
        {
            string[] names = SplitModels(models);
            if (names.Length == 0) return $"--models needs at least one model name (known: {BenchModels.Names})";
            string[] unknown = names.Where(n => BenchModels.Find(n) is null).ToArray();
            if (unknown.Length > 0)
                return $"--models: unknown model{(unknown.Length > 1 ? "s" : "")} '{string.Join("', '", unknown)}' (known: {BenchModels.Names})";
        }
        if (batch is <= 0) return $"--batch must be positive (got {batch})";
        if (length is <= 0) return $"--length must be positive (got {length})";
        if (steps is <= 0) return $"--steps must be positive (got {steps})";
        if (dtype is not null && ParseDtype(dtype) is null) return $"--dtype must be one of: bf16, fp32 (got '{dtype}')";
        if (timeLimitSeconds is double t && !(t > 0 && double.IsFinite(t))) return $"--time-limit must be a positive number of seconds (got {t})";
        return null;
    }

    /// <summary>The arguments that give these options to another <c>train-step</c> process.</summary>
    public IEnumerable<string> ToArguments()
    {
        yield return "--models";
        yield return string.Join(",", Models);
        yield return "--batch";
        yield return Batch.ToString(CultureInfo.InvariantCulture);
        yield return "--length";
        yield return Length.ToString(CultureInfo.InvariantCulture);
        yield return "--steps";
        yield return Steps.ToString(CultureInfo.InvariantCulture);
        yield return "--dtype";
        yield return DtypeName;
        yield return "--time-limit";
        yield return TimeLimitSeconds.ToString("R", CultureInfo.InvariantCulture);
        if (!Breakdown) yield return "--no-breakdown";
    }

    private static string[] SplitModels(string models) =>
        models.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static ScalarType? ParseDtype(string dtype) => dtype.ToLowerInvariant() switch
    {
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp32" or "float32" => ScalarType.Float32,
        _ => null,
    };
}
