using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Blocks;

/// <summary>RMSNorm over the last dimension, <c>x / sqrt(mean(x^2) + eps) * weight</c>, computed in fp32 and returned
/// in x's dtype (state-spaces/mamba <c>RMSNorm</c>: parameter <c>weight</c>, initialised to ones).</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double eps;

    public RmsNorm(long dModel, double eps) : base(nameof(RmsNorm))
    {
        this.eps = eps;
        weight = new Parameter(ones(dModel));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        ScalarType compute = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor xf = x.to_type(compute);
        Tensor normed = xf * rsqrt(xf.square().mean(new long[] { -1 }, keepdim: true) + eps) * weight.to_type(compute);
        return normed.to_type(x.dtype).MoveToOuterDisposeScope();
    }
}
