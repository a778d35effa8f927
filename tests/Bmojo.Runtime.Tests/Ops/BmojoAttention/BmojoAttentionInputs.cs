using Bmojo.Runtime.Ops.BmojoAttention;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.BmojoAttention;

/// <summary>Random inputs of the B'MOJO softmax as the mixer makes them: q (B, H, L, Dh); k, v, kf, vf (B, Hkv, L, Dh);
/// the selection flags s (B, L) with about <c>density</c> of them set.</summary>
internal sealed record BmojoAttentionInputs(Tensor Q, Tensor K, Tensor V, Tensor Kf, Tensor Vf, Tensor Selected)
{
    public static BmojoAttentionInputs Random(long batch, long heads, long kvHeads, long length, long headDim,
                                              double density, Device device, ScalarType dtype = ScalarType.Float32)
    {
        Tensor Make(long h) => randn(batch, h, length, headDim, dtype, device);
        return new BmojoAttentionInputs(Make(heads), Make(kvHeads), Make(kvHeads), Make(kvHeads), Make(kvHeads),
                                        rand(batch, length, device: device).lt(density));
    }

    /// <summary>The oracle: the exact (B, 1, L, 2L) mask and masked attention over [k | kf].</summary>
    public Tensor Reference(int window, int fadingTokens, int eideticCapacity) =>
        Reference(Q, K, V, Kf, Vf, window, fadingTokens, eideticCapacity);

    public Tensor Reference(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, int window, int fadingTokens, int eideticCapacity) =>
        MaskedAttention.Run(q, cat([k, kf], 2), cat([v, vf], 2), BmojoMask.Build(Selected, window, fadingTokens, eideticCapacity));

    public BmojoAttentionInputs Float64Cpu() =>
        new(Q.to(float64, CPU), K.to(float64, CPU), V.to(float64, CPU), Kf.to(float64, CPU), Vf.to(float64, CPU), Selected.to(CPU));
}
