using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Blocks;

/// <summary>The gated RMSNorm of Mamba-2 (state-spaces/mamba <c>RMSNormGated</c>, norm_before_gate = false):
/// <c>g = y * silu(z)</c>, then RMSNorm of each group of <c>width / groups</c> channels, times <c>weight</c>
/// (initialised to ones). Computed in fp32 (fp64 for fp64 inputs), returned in y's dtype.</summary>
public sealed class GatedRmsNorm : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly long width, groups;
    private readonly double eps;

    public GatedRmsNorm(long width, long groups, double eps = 1e-5) : base(nameof(GatedRmsNorm))
    {
        if (groups < 1 || width % groups != 0)
            throw new ArgumentException($"GatedRmsNorm: groups ({groups}) must divide the width ({width})", nameof(groups));
        (this.width, this.groups, this.eps) = (width, groups, eps);
        weight = new Parameter(ones(width));
        RegisterComponents();
    }

    /// <param name="y">The values <c>(..., width)</c>.</param>
    /// <param name="z">The gate, y's shape.</param>
    public override Tensor forward(Tensor y, Tensor z)
    {
        using var scope = NewDisposeScope();
        ScalarType compute = y.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor gated = y.to_type(compute) * nn.functional.silu(z.to_type(compute));
        long[] grouped = y.shape[..^1].Concat(new[] { groups, width / groups }).ToArray();
        Tensor g = gated.reshape(grouped);
        Tensor normed = (g * rsqrt(g.square().mean(new long[] { -1 }, keepdim: true) + eps)).reshape(y.shape);
        return (normed * weight.to_type(compute)).to_type(y.dtype).MoveToOuterDisposeScope();
    }
}
