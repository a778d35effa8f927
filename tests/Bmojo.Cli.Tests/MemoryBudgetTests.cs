using Bmojo.Cli.Models;
using Bmojo.Runtime;
using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Mixers;

namespace Bmojo.Cli.Tests;

public sealed class MemoryBudgetTests
{
    private static readonly AttentionOptions Gqa = new(Heads: 8, KvHeads: 2);   // d_model 64: Dh 8, 2·2·8 = 32 floats a token

    private static ModelSettings Model(params MixerOptions[] mixers) =>
        new("M", 64, 64, new NormOptions(NormKind.RmsNorm), true, mixers.Select((m, i) => new LayerSettings(i, m, null)).ToList(), 0);

    [Fact]
    public void Each_mixer_keeps_what_its_recurrence_needs_per_sequence()
    {
        IReadOnlyList<LayerMemory> layers = MemoryBudget.Of(Model(
            new MambaOptions(DState: 8, DConv: 4, Expand: 2),
            Gqa,
            Gqa with { Window = 16 },
            new BmojoOptions(Gqa, Fading: null, Window: 4, FadingTokens: 4, EideticCapacity: 8, Threshold: 1.0,
                             Retrieval: new RetrievalOptions(TopK: 2, ChunkSize: 8))), seqLen: 128);
        Assert.Equal(new LayerMemory(0, 128 * 8 + 128 * 3, 0, 0), layers[0]);       // d_inner·N + d_inner·(d_conv - 1)
        Assert.Equal(new LayerMemory(1, 0, 32 * 128, 0), layers[1]);                 // full attention: every token
        Assert.Equal(new LayerMemory(2, 0, 32 * 16, 0), layers[2]);                  // the window
        Assert.Equal(new LayerMemory(3, 0, 32 * (4 + 4 + 8), 32 * 2 * 8), layers[3]); // w + m_f + m_e; k chunks of c
    }

    [Fact]
    public void Nothing_is_kept_for_tokens_a_short_sequence_never_had()
    {
        IReadOnlyList<LayerMemory> layers = MemoryBudget.Of(Model(Gqa with { Window = 16 }, Gqa), seqLen: 8);
        Assert.Equal(32 * 8, layers[0].KvCache);
        Assert.Equal(32 * 8, layers[1].KvCache);
    }
}
