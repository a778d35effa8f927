using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Blocks;

/// <summary>Top-k mixture of experts (<c>router</c>, <c>experts.{e}.fc1/fc2</c>) with a load-balancing loss.</summary>
public sealed class MixtureOfExperts : nn.Module<Tensor, Tensor>
{
    public MixtureOfExperts(int dModel, MoeOptions options) : base(nameof(MixtureOfExperts))
    {
        throw new NotImplementedException("contract skeleton: implemented by the runtime work");
    }

    /// <summary>The weighted load-balancing loss of the last forward (a scalar), or null before any.</summary>
    public Tensor? AuxLoss => throw new NotImplementedException();

    public override Tensor forward(Tensor x) => throw new NotImplementedException();
}
