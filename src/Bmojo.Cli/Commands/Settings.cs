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

/// <summary>Where and in which precision a command computes: <c>--device</c> and <c>--dtype</c> (train, eval, compare).</summary>
public interface IPlacementSettings
{
    string? Device { get; }
    string? Dtype { get; }
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
    int? TrainExamples { get; }
    string? Mqar { get; }
    string? Filler { get; }
}

internal static class SettingsRules
{
    public const string GridDescription = "MQAR grid: small (L 64, kv 4/8/16: CPU), standard (L 64-512, kv 4-128) or zoology " +
                                          "(Zoology's figure 2: (L, kv) = (64, 4) .. (1024, 256), a run per setting; vocab 8192 specs, specs/zoology/).";
    public const string DeviceDescription = "cpu, cuda or cuda:N (default: cuda where torch sees a GPU, else cpu; says which).";
    public const string DtypeDescription = "fp32 or bf16 (bf16 weights and activations; A_log, D, dt bias and the loss stay fp32). Default fp32.";

    public static ValidationResult Check(ITaskSettings settings)
    {
        if (!string.Equals(settings.Task, "mqar", StringComparison.OrdinalIgnoreCase) && !(IsLm(settings) && settings is Lm.ILmTaskSettings))
            return ValidationResult.Error($"--task must be one of: {(settings is Lm.ILmTaskSettings ? "mqar, lm" : "mqar")} (got '{settings.Task}')");
        if (settings.Grid is string grid && ParseGrid(grid) is null)
            return ValidationResult.Error($"--grid must be one of: small, standard, zoology (got '{grid}')");
        if (settings.Threads is <= 0) return ValidationResult.Error($"--threads must be positive (got {settings.Threads})");
        if (settings is IBudgetSettings budget)
        {
            if (budget.Mqar is string list && MqarGrid.Parse(list) is null)
                return ValidationResult.Error($"--mqar must be settings as LxKV,LxKV, e.g. 32x2,32x4 (got '{list}')");
            if (budget.Filler is string filler && filler.ToLowerInvariant() is not ("random" or "zero"))
                return ValidationResult.Error($"--filler must be random or zero (got '{filler}')");
        }
        if (settings is IPlacementSettings placement && Placement.ParsePrecision(placement.Dtype) is null)
            return ValidationResult.Error($"--dtype must be one of: fp32, bf16 (got '{placement.Dtype}')");
        return ValidationResult.Success();
    }

    /// <summary>The placement the options ask for; the choice is printed to <paramref name="output"/> ("device: cuda:0,
    /// bf16 (default: CUDA is available)").</summary>
    public static Placement ResolvePlacement(IPlacementSettings settings, IAnsiConsole output)
    {
        Placement placement = Placement.Resolve(settings.Device, settings.Dtype);
        output.MarkupLine(Markup.Escape($"device: {placement.Describe()} ({placement.Chosen})"));
        return placement;
    }

    /// <summary>Language modelling (Lm/): <c>--task lm</c>.</summary>
    public static bool IsLm(ITaskSettings settings) => string.Equals(settings.Task, "lm", StringComparison.OrdinalIgnoreCase);

    public static MqarGridKind? ParseGrid(string grid) => grid.ToLowerInvariant() switch
    {
        "small" => MqarGridKind.Small,
        "standard" => MqarGridKind.Standard,
        "zoology" => MqarGridKind.Zoology,
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
            TrainExamples = s.TrainExamples ?? d.TrainExamples,
            Mqar = s.Mqar is string list ? string.Join(",", (MqarGrid.Parse(list) ?? throw new UserError($"--mqar must be settings as LxKV,LxKV (got '{list}')"))
                .Select(c => $"{c.SeqLen}x{c.KvPairs}")) : d.Mqar,
            RandomNonQueries = Filler(s) ?? d.RandomNonQueries,
        };
        if (options.Check() is string problem) throw new UserError(problem);
        return options;
    }

    /// <summary>--filler random|zero as RandomNonQueries, null when not given.</summary>
    public static bool? Filler(IBudgetSettings s) => s.Filler?.ToLowerInvariant() switch
    {
        null => null,
        "random" => true,
        "zero" => false,
        _ => throw new UserError($"--filler must be random or zero (got '{s.Filler}')"),
    };

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

/// <summary><c>--device</c> and <c>--dtype</c>, for every command that runs a model (train, eval, compare).</summary>
public class PlacementSettings : CommandSettings, IPlacementSettings
{
    [CommandOption("--device <DEVICE>")]
    [ShownDefault("cuda if torch sees a GPU, else cpu")]
    [Description(SettingsRules.DeviceDescription)]
    public string? Device { get; init; }

    [CommandOption("--dtype <DTYPE>")]
    [ShownDefault("fp32")]
    [Description(SettingsRules.DtypeDescription)]
    public string? Dtype { get; init; }
}

public class BudgetSettings : PlacementSettings, IBudgetSettings
{
    [CommandOption("--mqar <SETTINGS>")]
    [ShownDefault("the grid's (compare without --grid: 32x2,32x4)")]
    [Description("MQAR settings as LxKV,LxKV (e.g. 32x2,32x4,32x8) instead of the grid's; with --grid zoology, the cells " +
                 "(compare without --grid: 32x2,32x4, the main job).")]
    public string? Mqar { get; init; }

    [CommandOption("--filler <KIND>")]
    [ShownDefault("random (zoology, compare without --grid: zero)")]
    [Description("What fills the positions that are neither pairs nor queries: random tokens (default; zoology and compare " +
                 "without --grid: zero) or zero (token 0, Zoology's figure 2).")]
    public string? Filler { get; init; }

    [CommandOption("--train-examples <N>")]
    [ShownDefault("0 (compare --grid zoology: 100000)")]
    [Description("0: a fresh example every step (default for small/standard); N: a fixed set of N examples per setting, " +
                 "reshuffled each epoch, as Zoology (compare --grid zoology: 100000).")]
    public int? TrainExamples { get; init; }

    [CommandOption("--task <TASK>")]
    [Description("The task: mqar (multi-query associative recall) or lm (language modelling on text; see --data).")]
    [DefaultValue("mqar")]
    public string Task { get; init; } = "mqar";

    [CommandOption("--grid <GRID>")]
    [ShownDefault("small")]
    [Description(SettingsRules.GridDescription + " Default: small (compare without --grid: the main job, --mqar 32x2,32x4, " +
                 "zero filler, batch 32).")]
    public string? Grid { get; init; }

    [CommandOption("--steps <N>")]
    [ShownDefault("train 600, compare 200")]
    [Description("Optimizer steps (train: 600, compare: 200).")]
    public int? Steps { get; init; }

    [CommandOption("--batch <B>")]
    [ShownDefault("train 32, compare 32 (--grid small/standard: 16)")]
    [Description("Sequences per step (train: 32, compare: 32; compare --grid small or standard: 16).")]
    public int? Batch { get; init; }

    [CommandOption("--lr <LR>")]
    [ShownDefault("3e-3")]
    [Description("Peak learning rate (default 3e-3).")]
    public double? LearningRate { get; init; }

    [CommandOption("--warmup <N>")]
    [ShownDefault("steps/10, at most 60")]
    [Description("Linear warm-up steps (default: a tenth of the steps, at most 60).")]
    public int? Warmup { get; init; }

    [CommandOption("--weight-decay <WD>")]
    [ShownDefault("0.1")]
    [Description("AdamW weight decay on matrices (default 0.1).")]
    public double? WeightDecay { get; init; }

    [CommandOption("--seed <SEED>")]
    [ShownDefault("0")]
    [Description("Seeds initialisation and data (default 0).")]
    public long? Seed { get; init; }

    [CommandOption("--eval-examples <N>")]
    [ShownDefault("train 256, compare 128")]
    [Description("Held-out examples per grid setting (train: 256, compare: 128).")]
    public int? EvalExamples { get; init; }

    [CommandOption("--threads <N>")]
    [ShownDefault("torch's choice")]
    [Description("CPU threads torch uses (default: torch's choice).")]
    public int? Threads { get; init; }

    public override ValidationResult Validate() => SettingsRules.Check(this);
}
