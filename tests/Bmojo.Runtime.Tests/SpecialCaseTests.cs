using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;
using static Bmojo.Runtime.Tests.BmojoFixtures;

namespace Bmojo.Runtime.Tests;

/// <summary>The special cases of docs/bmojo-layer.md: same weights, same outputs.</summary>
public sealed class SpecialCaseTests
{
    private const int Length = 11;

    private static AttentionMixer Attention(int? window) =>
        new(D, 0, new AttentionOptions(4, 2, window, RotaryDim: 2, RopeBase: 100.0, Bias: true));

    // A B'MOJO mixer holding the attention's in_proj and out_proj (its other parameters stay as initialised).
    private static BmojoMixer WithAttentionWeights(AttentionMixer attention, BmojoOptions options, BmojoPath path)
    {
        var bmojo = Mixer(options, path);
        var (missing, unexpected) = bmojo.load_state_dict(attention.state_dict(), strict: false);
        Assert.Empty(unexpected);
        Assert.DoesNotContain("in_proj.weight", missing);
        return bmojo;
    }

    [Theory]
    [InlineData(BmojoPath.Reference)]
    [InlineData(BmojoPath.Blockwise)]
    [InlineData(BmojoPath.Banded)]
    public void No_ssm_a_window_covering_the_sequence_and_no_memory_is_full_causal_attention(BmojoPath path)
    {
        manual_seed(41);
        using var attention = Attention(window: null);
        using var bmojo = WithAttentionWeights(attention, Options(Length, 4, 0, 1.0, fading: false), path);
        Tensor x = randn(2, Length, D);
        TensorAssert.Close(attention.forward(x), bmojo.forward(x), atol: 1e-5, what: "B'MOJO vs full attention");
        TensorAssert.Close(attention.forward(x), Recurrent(bmojo, x, 5, 1, 1, 4), atol: 1e-5, what: "recurrent");
    }

    [Theory]
    [InlineData(1, BmojoPath.Reference)]
    [InlineData(1, BmojoPath.Blockwise)]
    [InlineData(1, BmojoPath.Banded)]
    [InlineData(4, BmojoPath.Blockwise)]
    [InlineData(4, BmojoPath.Banded)]
    public void Every_token_stored_with_room_for_all_and_no_fading_tokens_is_full_causal_attention(int window, BmojoPath path)
    {
        manual_seed(42);
        using var attention = Attention(window: null);
        using var bmojo = WithAttentionWeights(attention, Options(window, 0, Length, -1.0), path);  // SSM on, unused
        Tensor x = randn(2, Length, D);
        TensorAssert.Close(attention.forward(x), bmojo.forward(x), atol: 1e-5, what: "B'MOJO vs full attention");
        TensorAssert.Close(attention.forward(x), Recurrent(bmojo, x, 3, 1, 1, 1, 5), atol: 1e-5, what: "recurrent");
    }

    [Theory]
    [InlineData(1, BmojoPath.Blockwise)]
    [InlineData(1, BmojoPath.Banded)]
    [InlineData(3, BmojoPath.Reference)]
    [InlineData(3, BmojoPath.Blockwise)]
    [InlineData(3, BmojoPath.Banded)]
    public void No_ssm_window_w_and_no_memory_is_sliding_window_attention(int window, BmojoPath path)
    {
        manual_seed(43);
        using var attention = Attention(window);
        using var bmojo = WithAttentionWeights(attention, Options(window, 2, 0, -1.0, fading: false), path);
        Tensor x = randn(2, Length, D);
        TensorAssert.Close(attention.forward(x), bmojo.forward(x), atol: 1e-5, what: "B'MOJO vs sliding window");
        TensorAssert.Close(attention.forward(x), Recurrent(bmojo, x, 2, 1, 8), atol: 1e-5, what: "recurrent");
    }

    [Theory]
    [InlineData(BmojoPath.Reference)]
    [InlineData(BmojoPath.Blockwise)]
    [InlineData(BmojoPath.Banded)]
    public void No_window_one_fading_token_and_no_memory_with_identity_projections_is_mamba(BmojoPath path)
    {
        manual_seed(44);
        // Hkv * Dh = D, so the value part of fading_proj and out_proj can be identities; q and k stay random.
        using var bmojo = Mixer(Options(0, 1, 0, 1.0, heads: 2, kvHeads: 2), path);
        using (no_grad())
        {
            Tensor fading = Parameter(bmojo, "fading_proj.weight");                              // (2 D, D): [kf; vf]
            fading.narrow(0, D, D).copy_(eye(D));
            Parameter(bmojo, "fading_proj.bias").zero_();
            Parameter(bmojo, "out_proj.weight").copy_(eye(D));
            Parameter(bmojo, "out_proj.bias").zero_();
        }
        using var mamba = new MambaMixer(D, 0, SmallMamba);
        var ssmWeights = bmojo.state_dict().Where(p => p.Key.StartsWith("ssm.")).ToDictionary(p => p.Key[4..], p => p.Value);
        mamba.load_state_dict(ssmWeights);
        Tensor x = randn(2, Length, D);
        TensorAssert.Close(mamba.forward(x), bmojo.forward(x), atol: 1e-6, what: "B'MOJO vs Mamba");
        TensorAssert.Close(mamba.forward(x), Recurrent(bmojo, x, 4, 1, 6), atol: 1e-5, what: "recurrent");
    }

    [Theory]
    [InlineData(BmojoPath.Reference)]
    [InlineData(BmojoPath.Blockwise)]
    [InlineData(BmojoPath.Banded)]
    public void Bmojo_f_no_eidetic_capacity_equals_an_infinite_threshold(BmojoPath path)
    {
        manual_seed(45);
        using var noCapacity = Mixer(Options(3, 3, 0, 1.5), path);
        using var neverSelected = Copy(noCapacity, Options(3, 3, 6, double.PositiveInfinity), path);
        using var selecting = Copy(noCapacity, Options(3, 3, 6, 1.5), path);
        Tensor x = randn(2, Length, D);
        TensorAssert.Close(noCapacity.forward(x), neverSelected.forward(x), atol: 1e-6, what: "m_e = 0 vs tau = +inf");
        Assert.True((noCapacity.forward(x) - selecting.forward(x)).abs().max().item<float>() > 1e-4,
                    "with a finite threshold and room in the memory the output must differ");
    }
}
