using System.ComponentModel;
using Bmojo.Bench;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace Bmojo.Cli.Commands;

public sealed class BenchTrainStepSettings : CommandSettings
{
    [CommandOption("--quick")]
    [Description("The tiny specs at L 64, 4 sequences, 3 timed steps (always the defaults off CUDA).")]
    public bool Quick { get; init; }

    [CommandOption("--cpu")]
    [Description("Run on the CPU even where CUDA is available.")]
    public bool Cpu { get; init; }

    [CommandOption("--models <NAMES>")]
    [Description("Compiled-in models, comma-separated (default BMojo,Transformer,Mamba; with --quick their tiny specs).")]
    public string? Models { get; init; }

    [CommandOption("--batch <N>")]
    [Description("Sequences per step (default 4, which leaves BMojo room on an H200; --quick 4).")]
    public int? Batch { get; init; }

    [CommandOption("--length <L>")]
    [Description("Tokens per sequence (default 2048; --quick 64).")]
    public int? Length { get; init; }

    [CommandOption("--steps <N>")]
    [Description("Timed steps per model after 3 warm-up steps (default 10; --quick 3).")]
    public int? Steps { get; init; }

    [CommandOption("--dtype <DTYPE>")]
    [Description("Parameters and activations: bf16 (default) or fp32; in bf16 the B'MOJO attention runs on the tensor cores (fp32 accumulation), the scan computes in fp32 either way.")]
    public string? Dtype { get; init; }

    [CommandOption("--no-breakdown")]
    [Description("Skip timing one layer of each kind alone.")]
    public bool NoBreakdown { get; init; }

    [CommandOption("--time-limit <SECONDS>")]
    [Description("Wall-clock budget of the whole run, shared out among the models (default 540); a model whose steps would not fit times fewer.")]
    public double? TimeLimit { get; init; }

    public override ValidationResult Validate() =>
        TrainingStepOptions.Check(Models, Batch, Length, Steps, Dtype, TimeLimit) is string problem
            ? ValidationResult.Error(problem)
            : ValidationResult.Success();
}

/// <summary><c>bmojo bench train-step</c>: a whole training step (forward, loss, backward, AdamW) of BMojo, Transformer and
/// Mamba at L 2048 on CUDA, or of their tiny specs, with a breakdown by layer kind (docs/benchmarks.md). All models run
/// in this process; <c>Bmojo.Bench train-step</c> on CUDA gives each a process of its own.</summary>
public sealed class BenchTrainStepCommand(Streams streams) : Command<BenchTrainStepSettings>
{
    public override int Execute(CommandContext context, BenchTrainStepSettings settings, CancellationToken cancellation)
    {
        bool onCuda = !settings.Cpu && cuda.is_available();
        TrainingStepOptions options = TrainingStepOptions.From(settings.Quick || !onCuda, settings.Models, settings.Batch,
                                                               settings.Length, settings.Steps, settings.Dtype,
                                                               breakdown: !settings.NoBreakdown, settings.TimeLimit);
        IReadOnlyList<TrainingStepResult> results = new TrainingStepBenchmark(options, onCuda ? CUDA : CPU, streams.Out).Run();
        return results.All(r => r.Error is null) ? 0 : 1;
    }
}
