using System.Text.Json;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

/// <summary><c>bmojo compare SPEC... --task mqar</c>: every model trained with the same options, seed and data stream,
/// then evaluated on the same held-out examples; a table, <c>results.json</c> and <c>mqar-accuracy.png</c>.</summary>
public sealed class CompareCommand(IAnsiConsole output, Streams streams) : Command<CompareSettings>
{
    public override int Execute(CommandContext context, CompareSettings settings, CancellationToken cancellation)
    {
        SettingsRules.ApplyThreads(settings);
        TrainingOptions options = SettingsRules.Options(settings, CompareSettings.Defaults(settings));
        List<ModelDefinition> models = settings.Specs.SelectMany(spec => SpecLoader.Load(spec, streams.Error)).ToList();
        if (models.Count == 0) throw new UserError("compare needs at least one SPEC");
        IReadOnlyList<MqarConfig> grid = MqarGrid.Of(options.Grid);
        int memorySeqLen = grid.Max(c => c.SeqLen);
        output.MarkupLine(Markup.Escape($"MQAR {options.Grid} grid: {options.Steps} steps of {options.Batch}, lr {options.LearningRate}, " +
                                        $"seed {options.Seed}, {TorchSharp.torch.get_num_threads()} threads; same data for every model"));

        var comparison = new List<ComparisonEntry>();
        foreach (ModelDefinition model in models)
        {
            using Trainer trainer = Trainer.Start(model, options);
            TrainingProgress.Outcome outcome = TrainingProgress.Run(output, [trainer], evalEvery: 0, checkpoint: null, cancellation);
            if (outcome.Cancelled)
            {
                streams.Error.WriteLine($"stopped during {model.Name} at step {trainer.Step}; no comparison written");
                return 130;
            }
            comparison.Add(new ComparisonEntry(model.Name, model.Origin, model.ParameterCount, MemoryBudget.Total(model.Settings, memorySeqLen),
                                               outcome.WallTimes[0].TotalSeconds, outcome.Tokens[0] / outcome.WallTimes[0].TotalSeconds,
                                               trainer.Evaluate()));
        }

        WriteTable(comparison, grid, memorySeqLen);
        Directory.CreateDirectory(settings.Out);
        string json = Path.Combine(settings.Out, "results.json");
        File.WriteAllText(json, JsonSerializer.Serialize(new ComparisonReport("mqar", options, memorySeqLen, comparison), ComparisonReport.Json));
        string plot = Path.Combine(settings.Out, "mqar-accuracy.png");
        ComparisonPlot.Save(plot, comparison, grid);
        output.MarkupLine(Markup.Escape($"wrote {json} and {plot}"));
        return 0;
    }

    private void WriteTable(IReadOnlyList<ComparisonEntry> comparison, IReadOnlyList<MqarConfig> grid, int memorySeqLen)
    {
        var table = new Table().Title("MQAR accuracy at the answer positions (held-out)").AddColumn("model")
            .AddColumn(new TableColumn("params").RightAligned())
            .AddColumn(new TableColumn($"memory/seq (L {memorySeqLen})").RightAligned());
        foreach (MqarConfig config in grid) table.AddColumn(new TableColumn($"L {config.SeqLen} kv {config.KvPairs}").RightAligned());
        table.AddColumn(new TableColumn("mean").RightAligned())
            .AddColumn(new TableColumn("tok/s").RightAligned())
            .AddColumn(new TableColumn("wall").RightAligned());
        foreach (ComparisonEntry e in comparison)
        {
            var cells = new List<string> { e.Model, Format.Count(e.Parameters), Format.Count(e.MemoryFloatsPerSequence) };
            cells.AddRange(e.Accuracy.Select(r => Format.Percent(r.Accuracy)));
            cells.Add(Format.Percent(e.Accuracy.Average(r => r.Accuracy)));
            cells.Add(Format.Count((long)e.TokensPerSecond));
            cells.Add(Format.Number(e.WallSeconds, "F1") + " s");
            table.AddRow(cells.Select(c => new Text(c)));
        }
        output.Write(table);
    }
}
