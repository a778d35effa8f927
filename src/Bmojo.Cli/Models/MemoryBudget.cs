using Bmojo.Runtime;

namespace Bmojo.Cli.Models;

/// <summary>What one layer keeps per sequence at inference at a sequence length, in floats.</summary>
/// <param name="SsmState">Fading memory of a fixed size: the SSM state plus the conv state.</param>
/// <param name="KvCache">Keys and values kept (window, fading tokens, eidetic memory, or all L tokens for full attention).</param>
/// <param name="Retrieval">Retrieved tokens attended per chunk; the store itself is outside.</param>
public sealed record LayerMemory(int Layer, long SsmState, long KvCache, long Retrieval)
{
    public long Total => SsmState + KvCache + Retrieval;
}

/// <summary>The inference memory budget per sequence of a resolved architecture (the paper's "equal memory"): each
/// layer's <see cref="InferenceMemory"/>, which its kind computed at compile time, at a sequence length.</summary>
public static class MemoryBudget
{
    /// <param name="seqLen">The sequence length full attention keeps keys and values for.</param>
    public static IReadOnlyList<LayerMemory> Of(ModelSettings settings, int seqLen) =>
        settings.Layers.Select(layer => Of(layer.Index, layer.Memory, seqLen)).ToList();

    public static long Total(ModelSettings settings, int seqLen) => Of(settings, seqLen).Sum(m => m.Total);

    private static LayerMemory Of(int index, InferenceMemory memory, int seqLen) =>
        new(index, memory.FixedFloats, memory.KvFloatsPerToken * Math.Min(memory.KvTokenCap ?? seqLen, seqLen), memory.RetrievalFloats);
}
