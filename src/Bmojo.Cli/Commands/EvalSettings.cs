using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public sealed class EvalSettings : Lm.LmEvalOptions, ITaskSettings, IPlacementSettings
{
    [CommandArgument(0, "<SPEC>")]
    [Description("The model the checkpoint was trained as.")]
    public string Spec { get; init; } = "";

    [CommandOption("--checkpoint <FILE>")]
    [Description("A checkpoint written by train.")]
    public string Checkpoint { get; init; } = "";

    [CommandOption("--task <TASK>")]
    [Description("The task: mqar or lm.")]
    [DefaultValue("mqar")]
    public string Task { get; init; } = "mqar";

    [CommandOption("--grid <GRID>")]
    [ShownDefault("the checkpoint's")]
    [Description(SettingsRules.GridDescription + " Default: the grid the checkpoint was trained on.")]
    public string? Grid { get; init; }

    [CommandOption("--eval-examples <N>")]
    [ShownDefault("the checkpoint's")]
    [Description("Held-out examples per grid setting. Default: the checkpoint's.")]
    public int? EvalExamples { get; init; }

    [CommandOption("--threads <N>")]
    [ShownDefault("torch's choice")]
    [Description("CPU threads torch uses.")]
    public int? Threads { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Checkpoint)) return ValidationResult.Error("--checkpoint is required: the file written by train");
        if (EvalExamples is <= 0) return ValidationResult.Error($"--eval-examples must be positive (got {EvalExamples})");
        ValidationResult lm = base.Validate();
        return lm.Successful ? SettingsRules.Check(this) : lm;
    }
}
