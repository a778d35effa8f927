using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>Causal MHA/GQA attention, full or sliding-window, optional RoPE. State-dict names as
/// state-spaces/mamba <c>modules/mha.MHA</c>: <c>in_proj</c> (fused q, k, v), <c>out_proj</c>.</summary>
public sealed class AttentionMixer : nn.Module<Tensor, Tensor>, IMixer
{
    public AttentionMixer(int dModel, int layerIndex, AttentionOptions options) : base(nameof(AttentionMixer))
    {
        throw new NotImplementedException("contract skeleton: implemented by the runtime work");
    }

    public override Tensor forward(Tensor x) => throw new NotImplementedException();

    public IMixerCache AllocateCache(long batch) => throw new NotImplementedException();

    public Tensor Forward(Tensor x, IMixerCache cache) => throw new NotImplementedException();
}
