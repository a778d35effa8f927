using Bmojo.Cli.Models;

namespace Bmojo.Cli.Tests;

/// <summary>The budget of generated settings: each layer's memory as its kind in the spec compiler states it, at a length.</summary>
public sealed class MemoryBudgetTests : IDisposable
{
    private const string Gqa = "heads = 8, kv_heads = 2";   // d_model 64: Dh 8, 2·2·8 = 32 floats a token

    private readonly string directory = Directory.CreateTempSubdirectory("bmojo-memory-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>A d_model 64 model of the given mixers, one layer each, compiled at run time as a spec file.</summary>
    private IReadOnlyList<LayerMemory> Budget(int seqLen, params string[] mixers)
    {
        string path = Path.Combine(directory, "m.arch");
        File.WriteAllText(path, $"model M {{\n  vocab = 64\n  d_model = 64\n  layers = {mixers.Length}\n" +
                                string.Concat(mixers.Select((m, i) => $"  mixer at [{i}] = {m}\n")) + "}\n");
        return MemoryBudget.Of(SpecLoader.LoadOne(path, TextWriter.Null).Settings, seqLen);
    }

    [Fact]
    public void Each_mixer_keeps_what_its_recurrence_needs_per_sequence()
    {
        IReadOnlyList<LayerMemory> layers = Budget(128,
            "mamba { d_state = 8, d_conv = 4, expand = 2 }",
            $"attention {{ {Gqa} }}",
            $"attention {{ {Gqa}, window = 16 }}",
            $"bmojo {{ {Gqa}, d_state = 8, window = 4, fading_tokens = 4, eidetic_capacity = 8, retrieval = retrieval {{ top_k = 2, chunk_size = 8 }} }}",
            $"bmojo {{ {Gqa}, ssm = false, window = 4, eidetic_capacity = 8 }}");
        Assert.Equal(new LayerMemory(0, 128 * 8 + 128 * 3, 0, 0), layers[0]);                   // d_inner·N + d_inner·(d_conv - 1)
        Assert.Equal(new LayerMemory(1, 0, 32 * 128, 0), layers[1]);                             // full attention: every token
        Assert.Equal(new LayerMemory(2, 0, 32 * 16, 0), layers[2]);                              // the window
        Assert.Equal(new LayerMemory(3, 128 * 8 + 128 * 3, 32 * (4 + 4 + 8), 32 * 2 * 8), layers[3]); // SSM; w + m_f + m_e; k chunks of c
        Assert.Equal(new LayerMemory(4, 0, 32 * (4 + 8), 0), layers[4]);                         // no SSM: no state, no fading tokens
    }

    [Fact]
    public void Nothing_is_kept_for_tokens_a_short_sequence_never_had()
    {
        IReadOnlyList<LayerMemory> layers = Budget(8, $"attention {{ {Gqa}, window = 16 }}", $"attention {{ {Gqa} }}");
        Assert.Equal(32 * 8, layers[0].KvCache);
        Assert.Equal(32 * 8, layers[1].KvCache);
    }
}
