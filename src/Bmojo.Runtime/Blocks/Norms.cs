using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Blocks;

/// <summary>Builds the norm a <see cref="NormOptions"/> names: RMSNorm (<c>weight</c>) or LayerNorm (<c>weight</c>, <c>bias</c>).</summary>
public static class Norms
{
    public static nn.Module<Tensor, Tensor> Create(long dModel, NormOptions options) => options.Kind switch
    {
        NormKind.RmsNorm => new RmsNorm(dModel, options.Eps),
        NormKind.LayerNorm => nn.LayerNorm(dModel, options.Eps),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Kind, "unknown norm kind"),
    };

    /// <summary>Parameters of one norm: D for RMSNorm, 2D for LayerNorm (docs/architecture.md).</summary>
    public static long ParameterCount(long dModel, NormOptions options) => options.Kind == NormKind.RmsNorm ? dModel : 2 * dModel;
}
