using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public sealed class TrainSettings : Lm.LmTrainOptions
{
    [CommandArgument(0, "<SPEC>")]
    [Description("A compiled-in model (BMojoTiny, MambaTiny, ...), a .arch file, or FILE.arch#Model.")]
    public string Spec { get; init; } = "";

    [CommandOption("--checkpoint <FILE>")]
    [ShownDefault("the --resume file")]
    [Description("Where to save the run (safetensors): checked writable before step 1, saved every --save-minutes / --save-every, at each " +
                 "evaluation, at the end and on Ctrl-C or SIGTERM; the step log NAME.log.jsonl goes beside it. Default: the --resume file.")]
    public string? Checkpoint { get; init; }

    [CommandOption("--resume <FILE>")]
    [Description("Continue the run saved in FILE exactly (its options are kept).")]
    public string? Resume { get; init; }

    [CommandOption("--eval-every <N>")]
    [Description("Evaluate (and save) every N steps; 0: only at the end (default 0).")]
    [DefaultValue(0)]
    public int EvalEvery { get; init; }

    [CommandOption("--save-every <N>")]
    [Description("Also save every N steps (default 0: by time only, see --save-minutes).")]
    [DefaultValue(0)]
    public int SaveEvery { get; init; }

    [CommandOption("--save-minutes <M>")]
    [Description("Save when M minutes passed since the last save (default 10; 0: not by time).")]
    [DefaultValue(10.0)]
    public double SaveMinutes { get; init; } = 10;

    [CommandOption("--keep <K>")]
    [Description("Keep the last K periodic saves as NAME.step-NNNNNN.safetensors beside the checkpoint, removing older ones " +
                 "(default 3; 0: none). The --checkpoint file is always the latest.")]
    [DefaultValue(3)]
    public int Keep { get; init; } = 3;

    [CommandOption("--grad-accum <N>")]
    [ShownDefault("1")]
    [Description("Run each step as N micro-batches of --batch/N sequences and sum their gradients: the same update in " +
                 "less memory (default 1). Not kept in the checkpoint: a resumed run may use another N.")]
    public int? GradAccum { get; init; }

    [CommandOption("--gpus <N>")]
    [ShownDefault("1 (this process)")]
    [Description("Train data-parallel on N GPUs of this machine: N processes, one per GPU, gradients averaged through NCCL; " +
                 "--batch is the global batch. Needs a CUDA libtorch and libnccl.so.2.")]
    public int? Gpus { get; init; }

    public Training.SaveSchedule Saves => new(SaveEvery, SaveMinutes, Keep);

    public override ValidationResult Validate()
    {
        if (Gpus is <= 0) return ValidationResult.Error($"--gpus must be positive (got {Gpus})");
        if (EvalEvery < 0) return ValidationResult.Error($"--eval-every must be >= 0 (got {EvalEvery})");
        if (SaveEvery < 0) return ValidationResult.Error($"--save-every must be >= 0 (got {SaveEvery})");
        if (!(SaveMinutes >= 0) || double.IsInfinity(SaveMinutes)) return ValidationResult.Error($"--save-minutes must be >= 0 (got {SaveMinutes})");
        if (Keep < 0) return ValidationResult.Error($"--keep must be >= 0 (got {Keep})");
        if (GradAccum is <= 0) return ValidationResult.Error($"--grad-accum must be positive (got {GradAccum})");
        if (GradAccum is not null && Gpus is not null) return ValidationResult.Error("--grad-accum is not supported with --gpus yet");
        return base.Validate();
    }
}
