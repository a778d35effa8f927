using Bmojo.Runtime;
using Bmojo.Runtime.Mixers;

namespace Bmojo.Cli.Models;

/// <summary>What one layer keeps per sequence at inference, in floats.</summary>
/// <param name="SsmState">Fading memory: the SSM state <c>d_inner·N</c> plus the conv state <c>d_inner·(d_conv-1)</c>.</param>
/// <param name="KvCache">Keys and values kept: <c>2·Hkv·Dh</c> per token (window, fading tokens, eidetic memory, or
/// all L tokens for full attention).</param>
/// <param name="Retrieval">Retrieved tokens attended per chunk, <c>2·Hkv·Dh·k·c</c>; the store itself is outside.</param>
public sealed record LayerMemory(int Layer, long SsmState, long KvCache, long Retrieval)
{
    public long Total => SsmState + KvCache + Retrieval;
}

/// <summary>The inference memory budget per sequence of a resolved architecture (the paper's "equal memory").</summary>
public static class MemoryBudget
{
    /// <param name="seqLen">The sequence length full attention keeps keys and values for.</param>
    public static IReadOnlyList<LayerMemory> Of(ModelSettings settings, int seqLen) =>
        settings.Layers.Select(layer => Of(layer.Index, layer.Mixer, settings.DModel, seqLen)).ToList();

    public static long Total(ModelSettings settings, int seqLen) => Of(settings, seqLen).Sum(m => m.Total);

    private static LayerMemory Of(int index, MixerOptions mixer, int dModel, int seqLen) => mixer switch
    {
        MambaOptions mamba => new(index, SsmState(mamba, dModel), 0, 0),
        AttentionOptions { Window: int w } attention => new(index, 0, KvPerToken(attention, dModel) * Math.Min(w, seqLen), 0),
        AttentionOptions attention => new(index, 0, KvPerToken(attention, dModel) * seqLen, 0),
        BmojoOptions bmojo => new(index,
            bmojo.Fading is MambaOptions fading ? SsmState(fading, dModel) : 0,
            KvPerToken(bmojo.Attention, dModel) * Math.Min(bmojo.Window + bmojo.FadingTokens + bmojo.EideticCapacity, seqLen),
            bmojo.Retrieval is RetrievalOptions r ? KvPerToken(bmojo.Attention, dModel) * r.TopK * r.ChunkSize : 0),
        _ => throw new ArgumentOutOfRangeException(nameof(mixer), mixer, "unknown mixer options"),
    };

    private static long SsmState(MambaOptions mamba, int dModel)
    {
        long dInner = (long)mamba.Expand * dModel;
        return dInner * mamba.DState + dInner * (mamba.DConv - 1);
    }

    private static long KvPerToken(AttentionOptions attention, int dModel) => 2L * attention.KvHeads * (dModel / attention.Heads);
}
