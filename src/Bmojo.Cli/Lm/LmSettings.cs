using System.ComponentModel;
using System.Globalization;
using Bmojo.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>Marks the settings of the commands that take <c>--task lm</c> (train, eval).</summary>
public interface ILmTaskSettings;

/// <summary>The data and placement options shared by the LM paths of train, eval and generate.</summary>
internal static class LmSettingsRules
{
    public const string DataDescription = "lm: a .txt file, a folder of .txt files or a .jsonl file with a 'text' field. Default: the built-in " +
                                          "corpus (18 Project Gutenberg books, 11.8 MB).";

    public static TextCorpus Corpus(string? data) => data is null ? TextCorpus.BuiltIn() : TextCorpus.Open(data);

    /// <summary>"1,2,4,8" as multiples of the training length.</summary>
    public static IReadOnlyList<int>? ParseMultiples(string text)
    {
        var values = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < 1) return null;
            values.Add(v);
        }
        return values.Count == 0 ? null : values.Distinct().Order().ToList();
    }
}

/// <summary>The options <c>train --task lm</c> adds to the training budget.</summary>
public class LmTrainOptions : BudgetSettings, ILmTaskSettings
{
    [CommandOption("--data <PATH>")]
    [ShownDefault("the built-in corpus")]
    [Description(LmSettingsRules.DataDescription)]
    public string? Data { get; init; }

    [CommandOption("--seq-len <L>")]
    [ShownDefault("64")]
    [Description("lm: training sequence length (default 64).")]
    public int? SeqLen { get; init; }

    [CommandOption("--tokenizer <NAME>")]
    [ShownDefault("gpt2")]
    [Description("lm: gpt2 (50,257 ids; the default) or bytes (257 ids, for tiny models).")]
    public string? Tokenizer { get; init; }

    [CommandOption("--held-out <FRACTION>")]
    [ShownDefault("0.02")]
    [Description("lm: the fraction of each document held out for validation (default 0.02).")]
    public double? HeldOut { get; init; }

    [CommandOption("--out <DIR>")]
    [ShownDefault("lm-runs/MODEL")]
    [Description("lm: where the validation log (training.csv), its plot (perplexity.png) and, by default, the checkpoint go. Default: lm-runs/MODEL.")]
    public string? Out { get; init; }

    [CommandOption("--time-limit <SECONDS>")]
    [ShownDefault("none")]
    [Description("lm: stop after this much training time, save, exit 75 and say how to continue with --resume (default: none).")]
    public double? TimeLimit { get; init; }


    public override ValidationResult Validate()
    {
        if (SeqLen is <= 0) return ValidationResult.Error($"--seq-len must be positive (got {SeqLen})");
        if (TimeLimit is <= 0) return ValidationResult.Error($"--time-limit must be positive (got {TimeLimit})");
        bool lmOnly = Data is not null || SeqLen is not null || Tokenizer is not null || HeldOut is not null || Out is not null || TimeLimit is not null;
        if (lmOnly && !SettingsRules.IsLm(this))
            return ValidationResult.Error("--data, --seq-len, --tokenizer, --held-out, --out and --time-limit belong to --task lm");
        return base.Validate();
    }
}

/// <summary>The options <c>eval --task lm</c> adds.</summary>
public class LmEvalOptions : PlacementSettings, ILmTaskSettings
{
    [CommandOption("--data <PATH>")]
    [ShownDefault("the built-in corpus")]
    [Description(LmSettingsRules.DataDescription + " It must be the data the checkpoint trained on for its held-out split to be unseen.")]
    public string? Data { get; init; }

    [CommandOption("--eval-lengths <LIST>")]
    [Description("lm: evaluation lengths as multiples of the training length (default 1,2,4,8).")]
    [DefaultValue("1,2,4,8")]
    public string EvalLengths { get; init; } = "1,2,4,8";

    [CommandOption("--eval-tokens <N>")]
    [Description("lm: held-out tokens evaluated at each length (default 32768).")]
    [DefaultValue(32768L)]
    public long EvalTokens { get; init; } = 32768;

    [CommandOption("--seq-len <L>")]
    [ShownDefault("the checkpoint's")]
    [Description("lm: the training length, for a checkpoint that does not record it (weights from import).")]
    public int? SeqLen { get; init; }

    [CommandOption("--tokenizer <NAME>")]
    [ShownDefault("the checkpoint's, else gpt2")]
    [Description("lm: for a checkpoint that does not record it (default gpt2).")]
    public string? Tokenizer { get; init; }

    [CommandOption("--held-out <FRACTION>")]
    [ShownDefault("the checkpoint's, else 0.02")]
    [Description("lm: for a checkpoint that does not record it (default 0.02).")]
    public double? HeldOut { get; init; }

    [CommandOption("--batch <B>")]
    [Description("lm: sequences per forward (default 4).")]
    [DefaultValue(4)]
    public int LmBatch { get; init; } = 4;

    [CommandOption("--no-recurrent")]
    [Description("lm: only the full forward (skip the chunked recurrent prefill).")]
    public bool NoRecurrent { get; init; }

    [CommandOption("--out <DIR>")]
    [ShownDefault("beside the checkpoint")]
    [Description("lm: where eval.csv and length-curve.png go. Default: beside the checkpoint.")]
    public string? Out { get; init; }


    public override ValidationResult Validate()
    {
        if (LmSettingsRules.ParseMultiples(EvalLengths) is null)
            return ValidationResult.Error($"--eval-lengths must be positive integers separated by commas, e.g. 1,2,4,8 (got '{EvalLengths}')");
        if (EvalTokens <= 0) return ValidationResult.Error($"--eval-tokens must be positive (got {EvalTokens})");
        if (LmBatch <= 0) return ValidationResult.Error($"--batch must be positive (got {LmBatch})");
        return ValidationResult.Success();
    }
}
