namespace Bmojo.Runtime.Mixers;

/// <summary>Causal multi-head / grouped-query attention.</summary>
/// <param name="Heads">Query heads; head size is d_model / Heads.</param>
/// <param name="KvHeads">Key/value heads (GQA); divides Heads.</param>
/// <param name="Window">null: full causal attention; w: each query sees the last w tokens, itself included.</param>
/// <param name="RotaryDim">Dimensions of each head rotated by RoPE (even, at most the head size); 0: no RoPE.</param>
/// <param name="RopeBase">RoPE frequency base (theta).</param>
/// <param name="Bias">Bias on the q/k/v and output projections.</param>
public sealed record AttentionOptions(
    int Heads,
    int KvHeads,
    int? Window = null,
    int RotaryDim = 0,
    double RopeBase = 10000.0,
    bool Bias = false) : MixerOptions;
