using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Blocks;

/// <summary>The pre-norm residual block: <c>x + mixer(norm(x))</c>, then <c>x + mlp(norm2(x))</c> when there is a
/// feed-forward. Names as state-spaces/mamba <c>Block</c>: norm, mixer, norm2, mlp.</summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    /// <param name="mixer">An <see cref="IMixer"/> module.</param>
    /// <param name="feedForward">An <see cref="Mlp"/>, a <see cref="MixtureOfExperts"/>, or null.</param>
    public Block(int dModel, int layerIndex, nn.Module<Tensor, Tensor> mixer, NormOptions norm,
                 nn.Module<Tensor, Tensor>? feedForward) : base(nameof(Block))
    {
        throw new NotImplementedException("contract skeleton: implemented by the runtime work");
    }

    public override Tensor forward(Tensor x) => throw new NotImplementedException();

    public IMixerCache AllocateCache(long batch) => throw new NotImplementedException();

    public Tensor Forward(Tensor x, IMixerCache cache) => throw new NotImplementedException();

    /// <summary>This block's MoE load-balancing loss of the last forward, or null.</summary>
    public Tensor? AuxLoss => throw new NotImplementedException();
}
