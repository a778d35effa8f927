using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The B'MOJO mixer: fading SSM, eidetic window, innovation-selected eidetic memory, retrieval;
/// one softmax over all sources (../shared/docs/bmojo-layer.md).</summary>
public sealed class BmojoMixer : nn.Module<Tensor, Tensor>, IMixer
{
    public BmojoMixer(int dModel, int layerIndex, BmojoOptions options) : base(nameof(BmojoMixer))
    {
        throw new NotImplementedException("contract skeleton: implemented by the runtime work");
    }

    public override Tensor forward(Tensor x) => throw new NotImplementedException();

    public IMixerCache AllocateCache(long batch) => throw new NotImplementedException();

    public Tensor Forward(Tensor x, IMixerCache cache) => throw new NotImplementedException();
}
