namespace Bmojo.Runtime.Mixers;

/// <summary>How a B'MOJO layer predicts u_t from the SSM state in the innovation test.</summary>
public enum Predictor
{
    /// <summary>P is the identity: e_t = ||norm(u_t) - norm(y_{t-1})||^2 / D.</summary>
    Identity,

    /// <summary>P is a learned D x D matrix (parameter <c>predictor.weight</c>).</summary>
    Learned,
}

/// <summary>Which implementation computes the B'MOJO softmax of a full forward (<see cref="KernelPolicy.BmojoAttention"/>).</summary>
public enum BmojoPath
{
    /// <summary><see cref="Banded"/> on CUDA tensors (not float64) without retrieval, training and inference;
    /// <see cref="Blockwise"/> otherwise (the CPU, float64, retrieval).</summary>
    Auto,

    /// <summary>The exact (L x 2L) boolean mask and masked attention: O(L^2) memory, the test oracle.</summary>
    Reference,

    /// <summary>Query blocks over the gathered window, fading band and eidetic entries:
    /// O(L * (w + m_f + m_e)) memory; equals the reference.</summary>
    Blockwise,

    /// <summary>The fused ILGPU kernels (<see cref="Ops.BmojoAttention.BmojoAttentionFunction"/>): on CUDA, or for CPU tensors on
    /// ILGPU's CPU accelerator. bf16 with heads of at most 64: both passes on the tensor cores (bf16 operands, fp32
    /// softmax and accumulation); otherwise an fp32 forward kernel whose backward recomputes through
    /// <see cref="Blockwise"/>. No retrieval (a layer with retrieval refuses this path).</summary>
    Fused,

    /// <summary>The query blocks of <see cref="Blockwise"/> as the batch of one torch <c>scaled_dot_product_attention</c>
    /// call over each block's gathered keys and a mask (<see cref="Ops.BmojoAttention.BmojoBanded"/>): torch's fused
    /// attention kernels on CUDA, forward and backward; O(L * (3C + w + m_f + m_e)) work and memory; equals the
    /// reference. No retrieval (a layer with retrieval refuses this path).</summary>
    Banded,
}

/// <summary>Long-term eidetic memory in storage: chunks of evicted tokens, read by top-k retrieval.</summary>
/// <param name="TopK">Chunks fetched per query head at each chunk boundary.</param>
/// <param name="ChunkSize">c: tokens per stored chunk, and the query chunk length.</param>
/// <param name="StorePath">null: the in-process store; otherwise a directory for persistent stores, one file per layer
/// and sequence (<see cref="Bmojo.Runtime.Memory.FileChunkStore"/>).</param>
public sealed record RetrievalOptions(int TopK, int ChunkSize, string? StorePath = null);

/// <summary>The B'MOJO mixer (docs/bmojo-layer.md): one softmax over window, fading tokens,
/// eidetic memory and retrieved chunks.</summary>
/// <param name="Attention">Heads, key/value heads and RoPE of the attention; its Window is ignored.</param>
/// <param name="Fading">The fading-memory SSM; null: no SSM path (the Transformer special cases).</param>
/// <param name="Window">w, the eidetic window (0 allowed).</param>
/// <param name="FadingTokens">m_f, fading tokens per query; with no SSM path there are no fading tokens and it is
/// ignored.</param>
/// <param name="EideticCapacity">m_e, the most recent selected tokens kept; 0 is B'MOJO-F.</param>
/// <param name="Threshold">tau: token t is selected iff e_t &gt; tau.</param>
/// <param name="Predictor">Identity or learned P of the innovation test.</param>
/// <param name="TiedFadingProjections">kf, vf from the k, v projections instead of their own.</param>
/// <param name="Retrieval">null: no retrieval.</param>
public sealed record BmojoOptions(
    AttentionOptions Attention,
    MambaOptions? Fading,
    int Window,
    int FadingTokens,
    int EideticCapacity,
    double Threshold,
    Predictor Predictor = Predictor.Identity,
    bool TiedFadingProjections = false,
    RetrievalOptions? Retrieval = null) : MixerOptions
{
    /// <summary>Query block length of the blockwise path without retrieval (with retrieval a block is one query chunk of
    /// <see cref="RetrievalOptions.ChunkSize"/> tokens).</summary>
    public int BlockSize { get; init; } = 64;

    /// <summary>Query block length of the banded path (CUDA). A block's keys are gathered once for its C queries, so a
    /// larger C gathers fewer key rows a query ((3C + w + m_f + m_e) / C) at the price of more masked slots; the gather
    /// and its atomic backward dominate, and C 256 measured fastest of 64, 128 and 256 on the H200 (docs/benchmarks.md).
    /// A performance knob only: every C computes the same function.</summary>
    public int BandedBlockSize { get; init; } = 256;

    /// <summary>m_f in effect: <see cref="FadingTokens"/>, or 0 without an SSM path.</summary>
    public int EffectiveFadingTokens => Fading is null ? 0 : FadingTokens;
}
