using System.ComponentModel;
using System.Globalization;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public sealed class CompareSettings : BudgetSettings
{
    [CommandArgument(0, "<SPECS>")]
    [Description("Two or more models: compiled-in names, .arch files (all their models) or FILE.arch#Model.")]
    public string[] Specs { get; init; } = [];

    /// <summary>compare's own defaults. Without --grid, the README's main job: <see cref="MainJobMqar"/> (L 32, kv 2 and 4),
    /// zero filler, <see cref="MainJobSteps"/> steps of <see cref="MainJobBatch"/>, a budget that keeps five tiny models
    /// within about 3 minutes on two CPU cores and lifts them well clear of chance (docs/benchmarks.md, "The main job at
    /// a budget that learns"). With --grid small or standard: that grid, random filler, <see cref="GridSteps"/> steps of
    /// <see cref="GridBatch"/> (the main job before issue 10 part 4). On a per-setting grid (zoology) the steps come from
    /// --epochs and --train-examples instead.</summary>
    public static TrainingOptions Defaults(IBudgetSettings settings)
    {
        MqarGridKind grid = settings.Grid is string g ? SettingsRules.ParseGrid(g)!.Value : MqarGridKind.Small;
        if (MqarGrid.PerSetting(grid))
            return TrainingOptions.Default(grid) with
            {
                LearningRate = 1e-3, EvalExamples = ZoologyEvalExamples, TrainExamples = ZoologyTrainExamples, RandomNonQueries = false,
            };
        TrainingOptions options = TrainingOptions.Default(grid) with { Steps = GridSteps, Batch = GridBatch, LearningRate = MainJobLearningRate, WarmupSteps = 20, EvalExamples = 128 };
        return IsMainJob(settings) ? options with { Batch = MainJobBatch, Mqar = MainJobMqar, RandomNonQueries = false } : options;
    }

    /// <summary>True where compare runs the main job's defaults: no --grid given.</summary>
    public static bool IsMainJob(IBudgetSettings settings) => settings.Grid is null;

    /// <summary>The main job's MQAR settings (no --grid): L 32 with 2 and 4 key-value pairs.</summary>
    public const string MainJobMqar = "32x2,32x4";
    public const int MainJobSteps = GridSteps;
    public const int MainJobBatch = 32;
    public const double MainJobLearningRate = 3e-3;

    /// <summary>The budget on --grid small or standard: 200 steps of 16 (the main job before issue 10 part 4).</summary>
    public const int GridSteps = 200;
    public const int GridBatch = 16;

    /// <summary>Zoology's figure 2: 100,000 training and 3,000 test examples per setting, 64 epochs, lr logspace(-4, -2, 4).</summary>
    public const int ZoologyTrainExamples = 100_000;
    public const int ZoologyEvalExamples = 3_000;
    public const int ZoologyEpochs = 64;

    [CommandOption("--out <DIR>")]
    [Description("Where results.json, results.csv, runs.json and the plots go (default compare-results).")]
    [DefaultValue("compare-results")]
    public string Out { get; init; } = "compare-results";

    [CommandOption("--seeds <N>")]
    [Description("Seeds per run (0 .. N-1, or from --seed); mean and spread reported (default 1).")]
    [DefaultValue(1)]
    public int Seeds { get; init; } = 1;

    [CommandOption("--lr-sweep <LRS>")]
    [ShownDefault("--lr alone")]
    [Description("Learning rates to try, the best per model and setting reported: 'zoology' (logspace(-4, -2, 4), as " +
                 "Zoology), 'LO:HI:N' (N log-spaced) or a comma list. Default: --lr alone.")]
    public string? LrSweep { get; init; }

    [CommandOption("--epochs <E>")]
    [ShownDefault("64")]
    [Description("Per-setting grids (zoology): epochs over --train-examples (default 64, as Zoology); the steps are " +
                 "E x train-examples / batch unless --steps is given.")]
    public int? Epochs { get; init; }

    [CommandOption("--early-stop <ACC>")]
    [ShownDefault("0.99 on zoology, else off")]
    [Description("Stop a run once its held-out accuracy reaches ACC, checked every epoch (zoology) or --eval-every " +
                 "steps (default 0.99 on zoology, off otherwise; 0: off).")]
    public double? EarlyStop { get; init; }

    [CommandOption("--eval-every <N>")]
    [ShownDefault("an epoch (zoology)")]
    [Description("Steps between early-stop checks (default: an epoch on zoology).")]
    public int? EvalEvery { get; init; }

    [CommandOption("--resume")]
    [Description("Continue the comparison in --out: runs listed in its runs.json are kept, a run stopped by " +
                 "--time-limit continues from its checkpoint, the rest run.")]
    public bool Resume { get; init; }

    [CommandOption("--time-limit <S>")]
    [ShownDefault("none")]
    [Description("Stop cleanly after S seconds (the run in progress saved for --resume); exit code 75.")]
    public double? TimeLimit { get; init; }

    public const int TimeLimitExitCode = ExitCodes.TimeLimit;

    /// <summary>The learning rates of the sweep: --lr-sweep, else the one of the options.</summary>
    public IReadOnlyList<double> LearningRates(double single)
    {
        if (LrSweep is null) return [single];
        return ParseLrSweep(LrSweep) ?? throw new UserError($"--lr-sweep must be 'zoology', 'LO:HI:N' or a comma list of positive numbers (got '{LrSweep}')");
    }

    public static IReadOnlyList<double>? ParseLrSweep(string text)
    {
        text = text.Trim();
        if (text.Equals("zoology", StringComparison.OrdinalIgnoreCase)) return LogSpace(1e-4, 1e-2, 4);
        string[] range = text.Split(':');
        if (range.Length == 3)
        {
            if (!TryPositive(range[0], out double lo) || !TryPositive(range[1], out double hi) ||
                !int.TryParse(range[2], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || (n == 1 && lo != hi))
                return null;
            return LogSpace(lo, hi, n);
        }
        var list = new List<double>();
        foreach (string part in text.Split(','))
        {
            if (!TryPositive(part, out double lr)) return null;
            list.Add(lr);
        }
        return list.Distinct().ToList();
    }

    /// <summary>numpy's logspace(log10 lo, log10 hi, n).</summary>
    public static IReadOnlyList<double> LogSpace(double lo, double hi, int n) =>
        n == 1 ? [lo] : Enumerable.Range(0, n).Select(i => Math.Pow(10, Math.Log10(lo) + (Math.Log10(hi) - Math.Log10(lo)) * i / (n - 1))).ToList();

    private static bool TryPositive(string text, out double value) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value) && value > 0 && double.IsFinite(value);

    public override ValidationResult Validate()
    {
        if (Seeds is < 1 or > 1000) return ValidationResult.Error($"--seeds must be between 1 and 1000 (got {Seeds})");
        if (LrSweep is string sweep && ParseLrSweep(sweep) is null)
            return ValidationResult.Error($"--lr-sweep must be 'zoology', 'LO:HI:N' or a comma list of positive numbers (got '{sweep}')");
        if (Epochs is <= 0) return ValidationResult.Error($"--epochs must be positive (got {Epochs})");
        if (EarlyStop is < 0 or > 1 || EarlyStop is double e && double.IsNaN(e))
            return ValidationResult.Error($"--early-stop must be an accuracy between 0 and 1 (got {EarlyStop})");
        if (EvalEvery is <= 0) return ValidationResult.Error($"--eval-every must be positive (got {EvalEvery})");
        if (TimeLimit is double limit && !(limit > 0)) return ValidationResult.Error($"--time-limit must be a positive number of seconds (got {limit})");
        return base.Validate();
    }
}
