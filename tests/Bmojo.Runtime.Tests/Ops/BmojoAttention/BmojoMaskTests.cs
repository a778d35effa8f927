using Bmojo.Runtime.Ops.BmojoAttention;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.BmojoAttention;

public sealed class BmojoMaskTests
{
    private static Tensor Selected(params int[] s) => tensor(s.Select(x => x == 1).ToArray(), [1, s.Length]);

    private static bool[,] Rows(params string[] rows)
    {
        var m = new bool[rows.Length, rows[0].Length];
        for (int t = 0; t < rows.Length; t++)
            for (int j = 0; j < rows[t].Length; j++) m[t, j] = rows[t][j] == '1';
        return m;
    }

    private static void AssertMask(bool[,] expected, Tensor mask)
    {
        Assert.Equal(new long[] { expected.GetLength(0), expected.GetLength(1) }, mask.shape[^2..]);
        bool[] got = mask.flatten().data<bool>().ToArray();
        for (int t = 0; t < expected.GetLength(0); t++)
            for (int j = 0; j < expected.GetLength(1); j++)
                Assert.True(expected[t, j] == got[t * expected.GetLength(1) + j], $"query {t}, key column {j}: expected {expected[t, j]}");
    }

    [Fact]
    public void Window_fading_band_and_fifo_eidetic_memory_on_a_hand_checked_sequence()
    {
        // L = 6, w = 2, m_f = 1, m_e = 2; selected tokens 0, 2, 3, 5. Columns: k_0..k_5 | kf_0..kf_5.
        Tensor mask = BmojoMask.Build(Selected(1, 0, 1, 1, 0, 1), window: 2, fadingTokens: 1, eideticCapacity: 2);
        Assert.Equal(new long[] { 1, 1, 6, 12 }, mask.shape);
        AssertMask(Rows(
            "100000" + "000000",   // t0: window {0}
            "110000" + "000000",   // t1: window {0, 1}
            "111000" + "100000",   // t2: window {1, 2}, eidetic {0}, fading kf_0
            "101100" + "010000",   // t3: window {2, 3}, eidetic {0}, fading kf_1
            "101110" + "001000",   // t4: window {3, 4}, eidetic {0, 2}, fading kf_2
            "001111" + "000100"),  // t5: window {4, 5}, eidetic {2, 3} (0 evicted: FIFO), fading kf_3
            mask);
    }

    [Fact]
    public void Mamba_settings_see_only_their_own_fading_token()
    {
        Tensor mask = BmojoMask.Build(Selected(1, 1, 1, 1), window: 0, fadingTokens: 1, eideticCapacity: 0);
        AssertMask(Rows("0000" + "1000", "0000" + "0100", "0000" + "0010", "0000" + "0001"), mask);
    }

    [Fact]
    public void A_window_covering_the_sequence_is_full_causal_attention()
    {
        Tensor mask = BmojoMask.Build(Selected(1, 0, 1, 0, 1), window: 5, fadingTokens: 5, eideticCapacity: 0);
        AssertMask(Rows("10000" + "00000", "11000" + "00000", "11100" + "00000", "11110" + "00000", "11111" + "00000"), mask);
    }

    [Fact]
    public void Eidetic_memory_never_holds_unselected_tokens_and_capacity_zero_holds_none()
    {
        Tensor none = BmojoMask.Build(Selected(1, 1, 1, 1), window: 1, fadingTokens: 0, eideticCapacity: 0);
        AssertMask(Rows("1000" + "0000", "0100" + "0000", "0010" + "0000", "0001" + "0000"), none);
        Tensor some = BmojoMask.Build(Selected(0, 1, 0, 0), window: 1, fadingTokens: 0, eideticCapacity: 3);
        AssertMask(Rows("1000" + "0000", "0100" + "0000", "0110" + "0000", "0101" + "0000"), some);
    }

    [Fact]
    public void Each_sequence_of_a_batch_has_its_own_memory()
    {
        Tensor selected = tensor(new[] { true, false, false, false, true, false }, [2, 3]);
        Tensor mask = BmojoMask.Build(selected, window: 1, fadingTokens: 0, eideticCapacity: 1);
        AssertMask(Rows("100" + "000", "110" + "000", "101" + "000"), mask[0]);
        AssertMask(Rows("100" + "000", "010" + "000", "011" + "000"), mask[1]);
    }

    [Fact]
    public void The_recurrent_form_equals_the_matching_columns_of_the_whole_sequence_mask()
    {
        // Same sequence as the first test; queries 4, 5 over a band 2..5 (w + m_f = 3 cached, then the new tokens)
        // and a memory holding token 0 plus an empty slot.
        Tensor selected = Selected(1, 0, 1, 1, 0, 1);
        Tensor whole = BmojoMask.Build(selected, 2, 1, 2);                                      // (1, 1, 6, 12)
        Tensor band = arange(2L, 6L);
        Tensor candidates = tensor(new[] { true, true, false, true }, [1, 4]) & band.ge(4 - 2).unsqueeze(0);
        Tensor mask = BmojoMask.Build(arange(4L, 6L), band, candidates,
                                      tensor(new long[] { 0, 99 }, [1, 2]), tensor(new[] { true, false }, [1, 2]), 2, 1, 2);
        Assert.Equal(new long[] { 1, 1, 2, 10 }, mask.shape);
        Tensor expected = cat([whole[.., .., 4..6, 2..6], whole[.., .., 4..6, 8..12], whole[.., .., 4..6, 0..1],
                               zeros(1, 1, 2, 1, ScalarType.Bool)], 3);
        Assert.True(expected.eq(mask).all().item<bool>(), "recurrent-form mask differs from the whole-sequence mask");
    }

    [Fact]
    public void Retrieval_opens_token_columns_per_head()
    {
        Tensor mask = BmojoMask.Build(Selected(1, 1, 1), window: 1, fadingTokens: 0, eideticCapacity: 0);
        var retrieved = zeros(1, 2, 3, 3, ScalarType.Bool);
        retrieved[0, 1, 2, 0] = tensor(true);
        Tensor withRetrieval = BmojoMask.WithRetrieval(mask, retrieved);
        Assert.Equal(new long[] { 1, 2, 3, 6 }, withRetrieval.shape);
        AssertMask(Rows("100" + "000", "010" + "000", "001" + "000"), withRetrieval[0, 0]);
        AssertMask(Rows("100" + "000", "010" + "000", "101" + "000"), withRetrieval[0, 1]);
    }
}
