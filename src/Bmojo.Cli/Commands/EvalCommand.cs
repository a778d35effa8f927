using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

/// <summary><c>bmojo eval SPEC --checkpoint F --task mqar</c>: accuracy per MQAR setting of a saved run.</summary>
public sealed class EvalCommand(IAnsiConsole output, Streams streams) : Command<EvalSettings>
{
    public override int Execute(CommandContext context, EvalSettings settings, CancellationToken cancellation)
    {
        SettingsRules.ApplyThreads(settings);
        ModelDefinition model = SpecLoader.LoadOne(settings.Spec, streams.Error);
        Placement placement = SettingsRules.ResolvePlacement(settings, output);
        using Trainer trainer = Trainer.Resume(settings.Checkpoint, model, placement);
        IReadOnlyList<MqarConfig> grid = settings.Grid is string g ? MqarGrid.Of(SettingsRules.ParseGrid(g)!.Value) : trainer.Options.AllSettings();
        IReadOnlyList<EvalResult> results = trainer.Evaluate(grid, settings.EvalExamples ?? trainer.Options.EvalExamples);
        output.MarkupLine(Markup.Escape($"checkpoint: {settings.Checkpoint}"));
        Results.WriteAccuracy(output, $"{model.Name} at step {trainer.Step}", results);
        return 0;
    }
}
