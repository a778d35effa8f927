using System.Globalization;
using Bmojo.Cli.Models;
using Bmojo.Runtime;
using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Mixers;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

/// <summary><c>bmojo inspect SPEC</c>: the resolved layer plan, the parameter count and the memory budget per sequence.</summary>
public sealed class InspectCommand(IAnsiConsole output, Streams streams) : Command<InspectSettings>
{
    public override int Execute(CommandContext context, InspectSettings settings, CancellationToken cancellation)
    {
        ModelDefinition model = SpecLoader.LoadOne(settings.Spec, streams.Error);
        ModelSettings s = model.Settings;
        output.MarkupLine(Markup.Escape($"{model.Name} ({model.Origin}): vocab {s.Vocab}, d_model {s.DModel}, {s.Layers.Count} layers, " +
                                        $"{s.Norm.Kind}, {(s.TiedEmbeddings ? "tied embeddings" : "separate lm_head")}"));
        output.MarkupLineInterpolated($"parameters: [bold]{Format.Count(model.ParameterCount)}[/]");

        IReadOnlyList<LayerMemory> memory = MemoryBudget.Of(s, settings.SeqLen);
        var table = new Table().Title($"layer plan and memory per sequence (floats, L = {settings.SeqLen})")
            .AddColumns("layer", "mixer", "feed-forward")
            .AddColumn(new TableColumn("SSM state").RightAligned())
            .AddColumn(new TableColumn("KV cache").RightAligned())
            .AddColumn(new TableColumn("retrieval").RightAligned())
            .AddColumn(new TableColumn("total").RightAligned());
        foreach ((LayerSettings layer, LayerMemory m) in s.Layers.Zip(memory))
            table.AddRow(Cell(layer.Index.ToString(CultureInfo.InvariantCulture)), Cell(Describe(layer.Mixer)), Cell(Describe(layer.FeedForward)),
                         Cell(Format.Count(m.SsmState)), Cell(Format.Count(m.KvCache)), Cell(Format.Count(m.Retrieval)), Cell(Format.Count(m.Total)));
        table.AddRow(Cell("all"), Cell(""), Cell(""), Cell(Format.Count(memory.Sum(m => m.SsmState))), Cell(Format.Count(memory.Sum(m => m.KvCache))),
                     Cell(Format.Count(memory.Sum(m => m.Retrieval))), new Markup($"[bold]{Format.Count(memory.Sum(m => m.Total))}[/]"));
        output.Write(table);
        return 0;
    }

    private static Text Cell(string text) => new(text);

    internal static string Describe(MixerOptions mixer) => mixer switch
    {
        AttentionOptions a => $"attention({a.Heads} heads, {a.KvHeads} kv{(a.Window is int w ? $", window {w}" : "")}{(a.RotaryDim > 0 ? $", rope {a.RotaryDim}" : "")})",
        MambaOptions m => $"mamba(d_state {m.DState}, d_conv {m.DConv}, expand {m.Expand})",
        BmojoOptions b => (b.EideticCapacity == 0 ? "bmojo-f" : "bmojo") +
                          $"({b.Attention.Heads} heads, w {b.Window}, m_f {b.FadingTokens}, m_e {b.EideticCapacity}" +
                          (b.Fading is MambaOptions f ? $", d_state {f.DState}" : ", no SSM") +
                          (b.Retrieval is RetrievalOptions r ? $", retrieval top {r.TopK} x {r.ChunkSize}" : "") + ")",
        _ => mixer.GetType().Name,
    };

    internal static string Describe(FeedForwardOptions? feedForward) => feedForward switch
    {
        null => "none",
        MlpOptions m => $"{(m.Gated ? "gated mlp" : "mlp")}({m.Hidden}, {m.Activation.ToString().ToLowerInvariant()})",
        MoeOptions e => $"moe({e.Experts} x {e.Expert.Hidden}, top {e.TopK})",
        _ => feedForward.GetType().Name,
    };
}
