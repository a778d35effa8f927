using System.ComponentModel;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public class SpecSettings : CommandSettings
{
    [CommandArgument(0, "<SPEC>")]
    [Description("A compiled-in model (BMojoTiny, MambaTiny, ...), a .arch file, or FILE.arch#Model.")]
    public string Spec { get; init; } = "";
}

/// <summary>The task, its grid, the seed and the CPU threads: shared by train, eval and compare.</summary>
public interface ITaskSettings
{
    string Task { get; }
    string? Grid { get; }
    int? Threads { get; }
}

/// <summary>The training budget: shared by train and compare. Null means "not given" (defaults, or the checkpoint's).</summary>
public interface IBudgetSettings : ITaskSettings
{
    int? Steps { get; }
    int? Batch { get; }
    double? LearningRate { get; }
    int? Warmup { get; }
    double? WeightDecay { get; }
    long? Seed { get; }
    int? EvalExamples { get; }
}

internal static class SettingsRules
{
    public const string GridDescription = "MQAR grid: small (L 64, kv 4/8/16: CPU) or standard (Zoology's L 64-512, kv 4-128).";

    public static ValidationResult Check(ITaskSettings settings)
    {
        if (!string.Equals(settings.Task, "mqar", StringComparison.OrdinalIgnoreCase) && !(IsLm(settings) && settings is Lm.ILmTaskSettings))
            return ValidationResult.Error($"--task must be one of: {(settings is Lm.ILmTaskSettings ? "mqar, lm" : "mqar")} (got '{settings.Task}')");
        if (settings.Grid is string grid && ParseGrid(grid) is null)
            return ValidationResult.Error($"--grid must be one of: small, standard (got '{grid}')");
        if (settings.Threads is <= 0) return ValidationResult.Error($"--threads must be positive (got {settings.Threads})");
        return ValidationResult.Success();
    }

    /// <summary>Language modelling (Lm/): <c>--task lm</c>.</summary>
    public static bool IsLm(ITaskSettings settings) => string.Equals(settings.Task, "lm", StringComparison.OrdinalIgnoreCase);

    public static MqarGridKind? ParseGrid(string grid) => grid.ToLowerInvariant() switch
    {
        "small" => MqarGridKind.Small,
        "standard" => MqarGridKind.Standard,
        _ => null,
    };

    /// <summary>The defaults, overridden by every option given.</summary>
    public static TrainingOptions Options(IBudgetSettings s) =>
        Options(s, TrainingOptions.Default(s.Grid is string grid ? ParseGrid(grid)!.Value : MqarGridKind.Small));

    /// <summary><paramref name="d"/>, overridden by every option given.</summary>
    public static TrainingOptions Options(IBudgetSettings s, TrainingOptions d)
    {
        int steps = s.Steps ?? d.Steps;
        var options = d with
        {
            Steps = steps,
            Batch = s.Batch ?? d.Batch,
            LearningRate = s.LearningRate ?? d.LearningRate,
            WarmupSteps = s.Warmup ?? Math.Min(60, steps / 10),
            WeightDecay = s.WeightDecay ?? d.WeightDecay,
            Seed = s.Seed ?? d.Seed,
            EvalExamples = s.EvalExamples ?? d.EvalExamples,
        };
        if (options.Check() is string problem) throw new UserError(problem);
        return options;
    }

    public static void ApplyThreads(ITaskSettings settings)
    {
        if (settings.Threads is int threads) TorchSharp.torch.set_num_threads(threads);
    }
}

public sealed class InspectSettings : SpecSettings
{
    [CommandOption("--seq-len <L>")]
    [Description("Sequence length for the full-attention KV cache in the memory budget.")]
    [DefaultValue(64)]
    public int SeqLen { get; init; } = 64;

    public override ValidationResult Validate() =>
        SeqLen > 0 ? ValidationResult.Success() : ValidationResult.Error($"--seq-len must be positive (got {SeqLen})");
}

public sealed class GenerateCodeSettings : SpecSettings;

public class BudgetSettings : CommandSettings, IBudgetSettings
{
    [CommandOption("--task <TASK>")]
    [Description("The task: mqar (multi-query associative recall) or lm (language modelling on text; see --data).")]
    [DefaultValue("mqar")]
    public string Task { get; init; } = "mqar";

    [CommandOption("--grid <GRID>")]
    [Description(SettingsRules.GridDescription + " Default: small.")]
    public string? Grid { get; init; }

    [CommandOption("--steps <N>")]
    [Description("Optimizer steps (train: 600, compare: 200).")]
    public int? Steps { get; init; }

    [CommandOption("--batch <B>")]
    [Description("Sequences per step (train: 32, compare: 16).")]
    public int? Batch { get; init; }

    [CommandOption("--lr <LR>")]
    [Description("Peak learning rate (default 3e-3).")]
    public double? LearningRate { get; init; }

    [CommandOption("--warmup <N>")]
    [Description("Linear warm-up steps (default: a tenth of the steps, at most 60).")]
    public int? Warmup { get; init; }

    [CommandOption("--weight-decay <WD>")]
    [Description("AdamW weight decay on matrices (default 0.1).")]
    public double? WeightDecay { get; init; }

    [CommandOption("--seed <SEED>")]
    [Description("Seeds initialisation and data (default 0).")]
    public long? Seed { get; init; }

    [CommandOption("--eval-examples <N>")]
    [Description("Held-out examples per grid setting (train: 256, compare: 128).")]
    public int? EvalExamples { get; init; }

    [CommandOption("--threads <N>")]
    [Description("CPU threads torch uses (default: torch's choice).")]
    public int? Threads { get; init; }

    public override ValidationResult Validate() => SettingsRules.Check(this);
}
