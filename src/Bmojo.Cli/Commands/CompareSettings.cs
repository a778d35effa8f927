using System.ComponentModel;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public sealed class CompareSettings : BudgetSettings
{
    [CommandArgument(0, "<SPECS>")]
    [Description("Two or more models: compiled-in names, .arch files or FILE.arch#Model.")]
    public string[] Specs { get; init; } = [];

    /// <summary>compare's own defaults: a budget that keeps five tiny models within a few minutes on two CPU cores
    /// (about 2.5 minutes idle; the SSM layers train at 3,000-8,000 tokens/s there, see docs/benchmarks.md) and is
    /// the smallest at which the recall of the hybrids leaves chance. Give --steps/--batch for more.</summary>
    public static TrainingOptions Defaults(IBudgetSettings settings) =>
        TrainingOptions.Default(settings.Grid is string grid ? SettingsRules.ParseGrid(grid)!.Value : MqarGridKind.Small)
            with { Steps = 200, Batch = 16, WarmupSteps = 20, EvalExamples = 128 };

    [CommandOption("--out <DIR>")]
    [Description("Where results.json and the accuracy plot go (default compare-results).")]
    [DefaultValue("compare-results")]
    public string Out { get; init; } = "compare-results";
}
