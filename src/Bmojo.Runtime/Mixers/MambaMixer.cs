using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The Mamba selective SSM mixer; state-dict names as state-spaces/mamba <c>mamba_simple.Mamba</c>:
/// <c>in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj</c>.</summary>
public sealed class MambaMixer : nn.Module<Tensor, Tensor>, IMixer
{
    public MambaMixer(int dModel, int layerIndex, MambaOptions options) : base(nameof(MambaMixer))
    {
        throw new NotImplementedException("contract skeleton: implemented by the runtime work");
    }

    public override Tensor forward(Tensor x) => throw new NotImplementedException();

    public IMixerCache AllocateCache(long batch) => throw new NotImplementedException();

    public Tensor Forward(Tensor x, IMixerCache cache) => throw new NotImplementedException();
}
