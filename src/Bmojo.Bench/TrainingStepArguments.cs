using System.Globalization;

namespace Bmojo.Bench;

/// <summary>The arguments of <c>Bmojo.Bench train-step</c>, parsed (the CLI's <c>bmojo bench train-step</c> has its own,
/// with the same names and the same checks: <see cref="TrainingStepOptions.Check"/>).</summary>
/// <param name="Quick">--quick: the tiny specs' defaults.</param>
/// <param name="Cpu">--cpu: run on the CPU even where CUDA is available.</param>
/// <param name="Processes">--isolate: true, a process per model; --in-process: false, every model in this process;
/// null: a process per model on CUDA, one process elsewhere.</param>
/// <param name="Child">--child: this process measures one model for a parent and ends with its result line.</param>
public sealed record TrainingStepArguments(bool Quick, bool Cpu, bool? Processes, bool Child, string? Models, int? Batch,
                                           int? Length, int? Steps, string? Dtype, bool Breakdown, double? TimeLimitSeconds)
{
    public const string Usage =
        "train-step [--quick] [--cpu] [--batch N] [--length L] [--models A,B,...] [--steps N] [--dtype bf16|fp32] "
        + "[--no-breakdown] [--time-limit SECONDS] [--isolate | --in-process]";

    /// <summary>The arguments after the verb, or the first problem with them.</summary>
    public static (TrainingStepArguments? Arguments, string? Error) Parse(IReadOnlyList<string> args)
    {
        bool quick = false, cpu = false, child = false, breakdown = true;
        bool? processes = null;
        string? models = null, dtype = null;
        int? batch = null, length = null, steps = null;
        double? timeLimit = null;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string? Value() => i + 1 < args.Count ? args[++i] : null;
            switch (arg)
            {
                case "--quick": quick = true; break;
                case "--cpu": cpu = true; break;
                case "--isolate": processes = true; break;
                case "--in-process": processes = false; break;
                case "--child": child = true; break;
                case "--no-breakdown": breakdown = false; break;
                case "--models": models = Value() ?? ""; break;
                case "--dtype": dtype = Value() ?? ""; break;
                case "--batch" or "--length" or "--steps":
                    string? text = Value();
                    if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int number))
                        return (null, $"{arg} expects a whole number, got '{text ?? ""}'");
                    if (arg == "--batch") batch = number;
                    else if (arg == "--length") length = number;
                    else steps = number;
                    break;
                case "--time-limit":
                    string? seconds = Value();
                    if (!double.TryParse(seconds, NumberStyles.Float, CultureInfo.InvariantCulture, out double limit))
                        return (null, $"--time-limit expects a number of seconds, got '{seconds ?? ""}'");
                    timeLimit = limit;
                    break;
                default:
                    return (null, $"unknown option '{arg}'; usage: {Usage}");
            }
        }
        if (TrainingStepOptions.Check(models, batch, length, steps, dtype, timeLimit) is string problem) return (null, problem);
        return (new TrainingStepArguments(quick, cpu, processes, child, models, batch, length, steps, dtype, breakdown, timeLimit), null);
    }

    /// <summary>The options these arguments give on a device where CUDA is or is not used.</summary>
    public TrainingStepOptions Options(bool onCuda) =>
        TrainingStepOptions.From(Quick || !onCuda, Models, Batch, Length, Steps, Dtype, Breakdown, TimeLimitSeconds);
}
