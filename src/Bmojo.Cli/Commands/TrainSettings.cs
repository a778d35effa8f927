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
    [Description("Where to save the run (safetensors), at each evaluation, at the end and on Ctrl-C. Default: the --resume file.")]
    public string? Checkpoint { get; init; }

    [CommandOption("--resume <FILE>")]
    [Description("Continue the run saved in FILE exactly (its options are kept).")]
    public string? Resume { get; init; }

    [CommandOption("--eval-every <N>")]
    [Description("Evaluate (and save) every N steps; 0: only at the end (default 0).")]
    [DefaultValue(0)]
    public int EvalEvery { get; init; }

    [CommandOption("--gpus <N>")]
    [ShownDefault("1 (this process)")]
    [Description("Train data-parallel on N GPUs of this machine: N processes, one per GPU, gradients averaged through NCCL; " +
                 "--batch is the global batch. Needs a CUDA libtorch and libnccl.so.2.")]
    public int? Gpus { get; init; }

    public override ValidationResult Validate()
    {
        if (Gpus is <= 0) return ValidationResult.Error($"--gpus must be positive (got {Gpus})");
        if (EvalEvery < 0) return ValidationResult.Error($"--eval-every must be >= 0 (got {EvalEvery})");
        return base.Validate();
    }
}
