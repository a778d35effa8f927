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
    [ShownDefault("BMojo,Transformer,Mamba")]
    [Description("Compiled-in models, comma-separated (default BMojo,Transformer,Mamba; with --quick their tiny specs).")]
    public string? Models { get; init; }

    [CommandOption("--batch <N>")]
    [ShownDefault("4")]
    [Description("Sequences per step (default 4, which leaves BMojo room on an H200; --quick 4).")]
    public int? Batch { get; init; }

    [CommandOption("--length <L>")]
    [ShownDefault("2048 (--quick 64)")]
    [Description("Tokens per sequence (default 2048; --quick 64).")]
    public int? Length { get; init; }

    [CommandOption("--steps <N>")]
    [ShownDefault("10 (--quick 3)")]
    [Description("Timed steps per model after 3 warm-up steps (default 10; --quick 3).")]
    public int? Steps { get; init; }

    [CommandOption("--dtype <DTYPE>")]
    [ShownDefault("bf16")]
    [Description("Parameters and activations: bf16 (default) or fp32; in bf16 the B'MOJO attention runs on the tensor cores (fp32 accumulation), the scan computes in fp32 either way.")]
    public string? Dtype { get; init; }

    [CommandOption("--no-breakdown")]
    [Description("Skip timing one layer of each kind alone.")]
    public bool NoBreakdown { get; init; }

    [CommandOption("--time-limit <SECONDS>")]
    [ShownDefault("540")]
    [Description("Wall-clock budget of the whole run, shared out among the models (default 540); a model whose steps would not fit times fewer.")]
    public double? TimeLimit { get; init; }

    [CommandOption("--isolate")]
    [Description("Run each model in a process of its own (the default on CUDA): its memory number is its own, and a crash or a broken CUDA context costs one row.")]
    public bool Isolate { get; init; }

    [CommandOption("--in-process")]
    [Description("Run every model in this process (the default off CUDA).")]
    public bool InProcess { get; init; }

    /// <summary>Set by a parent run for the process it starts per model: measure the one model and end with its result line.</summary>
    [CommandOption("--child", IsHidden = true)]
    public bool Child { get; init; }

    public override ValidationResult Validate()
    {
        if (TrainingStepOptions.Check(Models, Batch, Length, Steps, Dtype, TimeLimit) is string problem) return ValidationResult.Error(problem);
        if (Isolate && InProcess) return ValidationResult.Error("--isolate and --in-process exclude each other");
        if (Child && (Models is null || Models.Contains(','))) return ValidationResult.Error("--child measures one model: give it --models NAME");
        return ValidationResult.Success();
    }

    /// <summary>A process per model: as asked, else on CUDA only.</summary>
    public bool Processes(bool onCuda) => Isolate || (!InProcess && onCuda);

    /// <summary>The options these settings give on a device where CUDA is or is not used (the tiny specs' defaults with
    /// --quick and off CUDA).</summary>
    public TrainingStepOptions Options(bool onCuda) =>
        TrainingStepOptions.From(Quick || !onCuda, Models, Batch, Length, Steps, Dtype, breakdown: !NoBreakdown, TimeLimit);
}

/// <summary><c>bmojo bench train-step</c>: a whole training step (forward, loss, backward, AdamW) of BMojo, Transformer and
/// Mamba at L 2048 on CUDA, or of their tiny specs, with a breakdown by layer kind (docs/benchmarks.md). On CUDA each
/// model runs in a process of its own (<c>bmojo bench train-step --child</c>), elsewhere all in this one.</summary>
public sealed class BenchTrainStepCommand(Streams streams) : Command<BenchTrainStepSettings>
{
    public override int Execute(CommandContext context, BenchTrainStepSettings settings, CancellationToken cancellation)
    {
        bool onCuda = !settings.Cpu && cuda.is_available();
        Device device = onCuda ? CUDA : CPU;
        TrainingStepOptions options = settings.Options(onCuda);
        if (settings.Child)
        {
            TrainingStepProcesses.RunChild(options, device, streams.Out);
            return 0;
        }
        IReadOnlyList<TrainingStepResult> results = settings.Processes(onCuda)
            ? new TrainingStepProcesses(options, settings.Cpu, streams.Out, ChildCommand())
                .Run(TrainingStepBenchmark.DeviceName(device))
            : new TrainingStepBenchmark(options, device, streams.Out).Run();
        return results.All(r => r.Error is null) ? 0 : 1;
    }

    /// <summary>How this process starts another <c>bmojo bench train-step</c>: through the <c>bmojo</c> apphost when it
    /// runs as one, else <c>dotnet bmojo.dll</c> (the host that runs this process, or the SDK's, or the one on PATH).</summary>
    public static TrainingStepCommand ChildCommand()
    {
        string bmojo = typeof(BmojoApp).Assembly.Location;
        string? process = Environment.ProcessPath;
        string[] verb = ["bench", "train-step"];
        if (process is not null && Path.GetFileNameWithoutExtension(process) == Path.GetFileNameWithoutExtension(bmojo))
            return new TrainingStepCommand(process, verb);
        string host = process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } sdkHost ? sdkHost
            : "dotnet";
        return new TrainingStepCommand(host, [bmojo, .. verb]);
    }
}
