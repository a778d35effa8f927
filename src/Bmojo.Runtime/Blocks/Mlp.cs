using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Blocks;

/// <summary>The MLP of a block (<c>fc1</c>, <c>fc2</c>), plain or gated.</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    public Mlp(int dModel, MlpOptions options) : base(nameof(Mlp))
    {
        throw new NotImplementedException("contract skeleton: implemented by the runtime work");
    }

    public override Tensor forward(Tensor x) => throw new NotImplementedException();
}
