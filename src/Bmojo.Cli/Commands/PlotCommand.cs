using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bmojo.Cli.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public sealed class PlotSettings : CommandSettings
{
    [CommandArgument(0, "<DIR>")]
    [Description("A comparison's output folder (compare --out): the one holding results.json.")]
    public string Directory { get; init; } = "";
}

/// <summary><c>bmojo plot DIR</c>: draws a comparison's two plots again from its <c>results.json</c>, without training.
/// For results made where no fonts are installed (the GPU machine's plots have no text), or after a change of the
/// plots' code.</summary>
public sealed class PlotCommand(IAnsiConsole output) : Command<PlotSettings>
{
    public override int Execute(CommandContext context, PlotSettings settings, CancellationToken cancellation)
    {
        string json = Path.Combine(settings.Directory, "results.json");
        IReadOnlyList<ComparisonEntry> models = Read(json);
        IReadOnlyList<MqarConfig> grid = models.SelectMany(m => m.Accuracy.Select(a => a.Config)).Distinct()
            .OrderBy(c => c.SeqLen).ThenBy(c => c.KvPairs).ToList();
        if (grid.Count == 0) throw new UserError($"{json}: no finished runs to plot");
        string plot = Path.Combine(settings.Directory, ComparisonPlot.AccuracyFile), memory = Path.Combine(settings.Directory, ComparisonPlot.MemoryFile);
        ComparisonPlot.Save(plot, models, grid);
        ComparisonPlot.SaveMemory(memory, models);
        output.MarkupLine(Markup.Escape($"wrote {plot} and {memory} ({models.Count} models, {grid.Count} settings)"));
        return 0;
    }

    /// <summary>The per-model summaries of a results.json that compare wrote; a clear error for anything else.</summary>
    public static IReadOnlyList<ComparisonEntry> Read(string json)
    {
        if (System.IO.Directory.Exists(json)) throw new UserError($"'{json}' is a directory; give the folder that holds results.json");
        if (!File.Exists(json)) throw new UserError($"{json}: no such file (plot takes a folder that compare --out wrote)");
        try
        {
            JsonNode? models = JsonNode.Parse(File.ReadAllText(json))?["models"];
            return models?.Deserialize<List<ComparisonEntry>>(ComparisonReport.Json)
                   ?? throw new UserError($"{json}: not a comparison's results (no 'models')");
        }
        catch (JsonException e)
        {
            throw new UserError($"{json}: not a comparison's results ({e.Message})");
        }
    }
}
