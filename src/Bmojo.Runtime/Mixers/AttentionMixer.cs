using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>Causal MHA/GQA attention, full or sliding-window, optional RoPE. State-dict names as
/// state-spaces/mamba <c>modules/mha.MHA</c>: <c>in_proj</c> (fused q, k, v), <c>out_proj</c>.</summary>
/// <remarks>
/// <c>q, k, v = in_proj(x)</c> split as <c>(H, Hkv, Hkv)</c> heads of size <c>Dh = D / H</c>; RoPE on q and k at their
/// positions; <c>softmax(q k^T / sqrt(Dh) + mask) v</c> where query t sees keys j &lt;= t (and j &gt; t - w with a
/// window w); output <c>out_proj</c> of the heads concatenated.
/// </remarks>
public sealed class AttentionMixer : Mixer
{
    private readonly Linear in_proj;
    private readonly Linear out_proj;

    private readonly long dModel, heads, kvHeads, headDim;
    private readonly long? window;
    private readonly RotaryEmbedding rotary;

    /// <param name="kernels">The model's kernel policy (attention has one path: torch's SDPA).</param>
    public AttentionMixer(int dModel, int layerIndex, AttentionOptions options, KernelPolicy? kernels = null)
        : base(nameof(AttentionMixer), layerIndex, kernels)
    {
        CheckOptions(dModel, options);
        (this.dModel, heads, kvHeads, headDim, window) = (dModel, options.Heads, options.KvHeads, dModel / options.Heads, options.Window);
        rotary = new RotaryEmbedding(options.RotaryDim, options.RopeBase);
        in_proj = nn.Linear(dModel, headDim * (heads + 2 * kvHeads), hasBias: options.Bias);
        out_proj = nn.Linear(heads * headDim, dModel, hasBias: options.Bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Run(x, cache: null);

    public override IMixerCache AllocateCache(long batch)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"{Where}: batch must be at least 1");
        Tensor empty = zeros(batch, kvHeads, 0, headDim, in_proj.weight!.dtype, in_proj.weight.device);     // (B, Hkv, 0, Dh)
        return new AttentionCache(empty, empty.clone());
    }

    public override Tensor Forward(Tensor x, IMixerCache cache) => cache is AttentionCache attention
        ? Run(x, attention)
        : throw new ArgumentException($"{Where}: expected an {nameof(AttentionCache)}, got {cache?.GetType().Name ?? "null"}", nameof(cache));

    private static readonly MixerPath TorchSdpa = new(TorchAttention: true);

    private string Where => $"{nameof(AttentionMixer)} (layer {LayerIndex})";

    private Tensor Run(Tensor x, AttentionCache? cache)
    {
        MixerInput.Check(x, dModel, Where);
        Ran(TorchSdpa);
        using var scope = NewDisposeScope();
        long batch = x.shape[0], length = x.shape[1], offset = cache?.Position ?? 0;
        Tensor[] qkv = in_proj.forward(x).split(new[] { heads * headDim, kvHeads * headDim, kvHeads * headDim }, -1);
        Tensor q = rotary.Apply(qkv[0].view(batch, length, heads, headDim).transpose(1, 2), offset);     // (B, H, L, Dh)
        Tensor k = rotary.Apply(qkv[1].view(batch, length, kvHeads, headDim).transpose(1, 2), offset);   // (B, Hkv, L, Dh)
        Tensor v = qkv[2].view(batch, length, kvHeads, headDim).transpose(1, 2);                          // (B, Hkv, L, Dh)

        if (cache is not null)
        {
            k = cat(new[] { cache.Keys, k }, 2);                                                          // (B, Hkv, S + L, Dh)
            v = cat(new[] { cache.Values, v }, 2);
            cache.Append(k[.., .., ^(int)length..], v[.., .., ^(int)length..], window);
        }
        long group = heads / kvHeads;
        Tensor context = Attend(q, k.repeat_interleave(group, dim: 1), v.repeat_interleave(group, dim: 1), offset); // (B, H, L, Dh)
        Tensor merged = context.transpose(1, 2).reshape(batch, length, heads * headDim);                 // (B, L, H * Dh)
        return out_proj.forward(merged).MoveToOuterDisposeScope();                                        // (B, L, D)
    }

    /// <summary>Queries at positions <c>offset..</c> against keys ending at the last query's position.</summary>
    private Tensor Attend(Tensor q, Tensor k, Tensor v, long offset)
    {
        long queries = q.shape[2], keys = k.shape[2];
        bool plainCausal = keys == queries && (window is null || window >= queries);
        if (plainCausal) return nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        Tensor queryPosition = arange(offset, offset + queries, device: q.device).unsqueeze(1);          // (L, 1)
        Tensor keyPosition = arange(offset + queries - keys, offset + queries, device: q.device);        // (S + L)
        Tensor mask = keyPosition <= queryPosition;                                                       // (L, S + L)
        if (window is long w) mask = mask.logical_and(keyPosition > queryPosition - w);
        return nn.functional.scaled_dot_product_attention(q, k, v, mask);
    }

    private void CheckOptions(int d, AttentionOptions options)
    {
        string? problem = options switch
        {
            _ when d < 1 => $"d_model must be at least 1, got {d}",
            { Heads: < 1 } => $"heads must be at least 1, got {options.Heads}",
            _ when d % options.Heads != 0 => $"heads ({options.Heads}) must divide d_model ({d})",
            { KvHeads: < 1 } => $"kv_heads must be at least 1, got {options.KvHeads}",
            _ when options.Heads % options.KvHeads != 0 => $"kv_heads ({options.KvHeads}) must divide heads ({options.Heads})",
            { Window: < 1 } => $"window must be at least 1, got {options.Window}",
            _ when options.RotaryDim < 0 || options.RotaryDim % 2 != 0 || options.RotaryDim > d / options.Heads =>
                $"rotary_dim must be even and at most the head size {d / options.Heads}, got {options.RotaryDim}",
            _ when !(options.RopeBase > 1) => $"the RoPE base must be above 1, got {options.RopeBase}",
            _ => null,
        };
        if (problem is not null) throw new ArgumentException($"{Where}: {problem}", nameof(options));
    }
}
