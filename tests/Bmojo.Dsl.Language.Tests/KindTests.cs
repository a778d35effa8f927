using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>The kinds' registry and what each kind computes of a bound plan beyond its parameters.</summary>
public sealed class KindTests
{
    private const string Gqa = "heads = 8, kv_heads = 2";   // d_model 64: Dh 8, 2·2·8 = 32 floats a token

    private static IReadOnlyList<LayerPlan> Layers(params string[] mixers) => TestSpecs.Model(
        $"model M {{\n  vocab = 64\n  d_model = 64\n  layers = {mixers.Length}\n" +
        string.Concat(mixers.Select((m, i) => $"  mixer at [{i}] = {m}\n")) + "}\n").Layers;

    private static MemoryPlan Memory(LayerPlan layer) => ComponentKindRegistry.Of(layer.Mixer).Memory(layer.Mixer, 64);

    [Fact]
    public void Each_mixer_states_the_state_it_keeps_and_how_its_keys_and_values_grow()
    {
        IReadOnlyList<LayerPlan> layers = Layers(
            "mamba { d_state = 8, d_conv = 4, expand = 2 }",
            $"attention {{ {Gqa} }}",
            $"attention {{ {Gqa}, window = 16 }}",
            $"bmojo {{ {Gqa}, d_state = 8, window = 4, fading_tokens = 4, eidetic_capacity = 8, retrieval = retrieval {{ top_k = 2, chunk_size = 8 }} }}",
            $"bmojo_f {{ {Gqa}, ssm = false, window = 4 }}");
        Assert.Equal(new MemoryPlan(128 * 8 + 128 * 3, 0, 0, 0), Memory(layers[0]));   // d_inner·N + d_inner·(d_conv - 1)
        Assert.Equal(new MemoryPlan(0, 32, null, 0), Memory(layers[1]));               // full attention: every token
        Assert.Equal(new MemoryPlan(0, 32, 16, 0), Memory(layers[2]));                 // the window
        Assert.Equal(new MemoryPlan(128 * 8 + 128 * 3, 32, 4 + 4 + 8, 32 * 2 * 8), Memory(layers[3])); // w + m_f + m_e; k chunks of c
        Assert.Equal(new MemoryPlan(0, 32, 4, 0), Memory(layers[4]));
    }

    [Fact]
    public void The_registry_knows_each_kind_once_and_finds_the_kind_of_every_plan_it_binds()
    {
        Assert.Equal(ComponentKindRegistry.All.Count, ComponentKindRegistry.All.Select(kind => kind.Name).Distinct().Count());
        IReadOnlyList<LayerPlan> layers = Layers($"attention {{ {Gqa} }}", "mamba", $"bmojo {{ {Gqa} }}", $"bmojo_f {{ {Gqa} }}");
        Assert.Equal(["attention", "mamba(d_state 16)", "bmojo(w 512, m_f 512, m_e 256)", "bmojo-f(w 512, m_f 512)"],
                     layers.Select(layer => layer.Mixer.Describe()));
        Assert.Equal("bmojo(8 heads, w 512, m_f 512, m_e 256, d_state 16)", layers[2].Mixer.Detail());
    }
}
