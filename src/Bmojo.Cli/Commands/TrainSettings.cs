using System.ComponentModel;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public sealed class TrainSettings : BudgetSettings
{
    [CommandArgument(0, "<SPEC>")]
    [Description("A compiled-in model (BMojoTiny, MambaTiny, ...), a .arch file, or FILE.arch#Model.")]
    public string Spec { get; init; } = "";

    [CommandOption("--checkpoint <FILE>")]
    [Description("Where to save the run (safetensors), at each evaluation, at the end and on Ctrl-C. Default: the --resume file.")]
    public string? Checkpoint { get; init; }

    [CommandOption("--resume <FILE>")]
    [Description("Continue the run saved in FILE exactly (its options are kept).")]
    public string? Resume { get; init; }

    [CommandOption("--eval-every <N>")]
    [Description("Evaluate (and save) every N steps; 0: only at the end (default 0).")]
    [DefaultValue(0)]
    public int EvalEvery { get; init; }

    public override ValidationResult Validate()
    {
        if (EvalEvery < 0) return ValidationResult.Error($"--eval-every must be >= 0 (got {EvalEvery})");
        return base.Validate();
    }
}

public sealed class EvalSettings : CommandSettings, ITaskSettings
{
    [CommandArgument(0, "<SPEC>")]
    [Description("The model the checkpoint was trained as.")]
    public string Spec { get; init; } = "";

    [CommandOption("--checkpoint <FILE>")]
    [Description("A checkpoint written by train.")]
    public string Checkpoint { get; init; } = "";

    [CommandOption("--task <TASK>")]
    [Description("The task: mqar.")]
    [DefaultValue("mqar")]
    public string Task { get; init; } = "mqar";

    [CommandOption("--grid <GRID>")]
    [Description(SettingsRules.GridDescription + " Default: the grid the checkpoint was trained on.")]
    public string? Grid { get; init; }

    [CommandOption("--eval-examples <N>")]
    [Description("Held-out examples per grid setting. Default: the checkpoint's.")]
    public int? EvalExamples { get; init; }

    [CommandOption("--threads <N>")]
    [Description("CPU threads torch uses.")]
    public int? Threads { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Checkpoint)) return ValidationResult.Error("--checkpoint is required: the file written by train");
        if (EvalExamples is <= 0) return ValidationResult.Error($"--eval-examples must be positive (got {EvalExamples})");
        return SettingsRules.Check(this);
    }
}

public sealed class CompareSettings : BudgetSettings
{
    [CommandArgument(0, "<SPECS>")]
    [Description("Two or more models: compiled-in names, .arch files or FILE.arch#Model.")]
    public string[] Specs { get; init; } = [];

    /// <summary>compare's own defaults: a budget that keeps five tiny models within minutes on two CPU cores (the
    /// SSM layers train at a few hundred tokens/s there; see docs/benchmarks.md). Give --steps/--batch for more.</summary>
    public static TrainingOptions Defaults(IBudgetSettings settings) =>
        TrainingOptions.Default(settings.Grid is string grid ? SettingsRules.ParseGrid(grid)!.Value : MqarGridKind.Small)
            with { Steps = 60, Batch = 8, WarmupSteps = 6, EvalExamples = 64 };

    [CommandOption("--out <DIR>")]
    [Description("Where results.json and the accuracy plot go (default compare-results).")]
    [DefaultValue("compare-results")]
    public string Out { get; init; } = "compare-results";
}
