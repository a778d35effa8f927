using System.Globalization;
using Bmojo.Cli.Models;
using Bmojo.Dsl.Language.Plan;
using Bmojo.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

/// <summary><c>bmojo inspect SPEC</c>: the resolved layer plan, the parameter count and the memory budget per sequence; each
/// layer's text comes from its kind in the spec compiler (<see cref="MixerPlan.Detail"/>).</summary>
public sealed class InspectCommand(IAnsiConsole output, Streams streams) : Command<InspectSettings>
{
    public override int Execute(CommandContext context, InspectSettings settings, CancellationToken cancellation)
    {
        ModelDefinition model = SpecLoader.LoadOne(settings.Spec, streams.Error);
        ModelSettings s = model.Settings;
        output.MarkupLine(Markup.Escape($"{model.Name} ({model.Origin}): vocab {s.Vocab}, d_model {s.DModel}, {s.Layers.Count} layers, " +
                                        $"{s.Norm.Kind}, {(s.TiedEmbeddings ? "tied embeddings" : "separate lm_head")}"));
        output.MarkupLineInterpolated($"parameters: [bold]{Format.Count(model.ParameterCount)}[/]");

        ModelPlan plan = SpecLoader.Plan(settings.Spec, model);
        IReadOnlyList<LayerMemory> memory = MemoryBudget.Of(s, settings.SeqLen);
        var table = new Table().Title($"layer plan and memory per sequence (floats, L = {settings.SeqLen})")
            .AddColumns("layer", "mixer", "feed-forward")
            .AddColumn(new TableColumn("SSM state").RightAligned())
            .AddColumn(new TableColumn("KV cache").RightAligned())
            .AddColumn(new TableColumn("retrieval").RightAligned())
            .AddColumn(new TableColumn("total").RightAligned());
        foreach ((LayerPlan layer, LayerMemory m) in plan.Layers.Zip(memory))
            table.AddRow(Cell(layer.Index.ToString(CultureInfo.InvariantCulture)), Cell(layer.Mixer.Detail()), Cell(layer.FeedForward?.Detail() ?? "none"),
                         Cell(Format.Count(m.SsmState)), Cell(Format.Count(m.KvCache)), Cell(Format.Count(m.Retrieval)), Cell(Format.Count(m.Total)));
        table.AddRow(Cell("all"), Cell(""), Cell(""), Cell(Format.Count(memory.Sum(m => m.SsmState))), Cell(Format.Count(memory.Sum(m => m.KvCache))),
                     Cell(Format.Count(memory.Sum(m => m.Retrieval))), new Markup($"[bold]{Format.Count(memory.Sum(m => m.Total))}[/]"));
        output.Write(table);
        return 0;
    }

    private static Text Cell(string text) => new(text);
}
