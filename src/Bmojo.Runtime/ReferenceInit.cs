using Bmojo.Runtime.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime;

/// <summary>
/// state-spaces/mamba <c>_init_weights</c> (mixer_seq_simple.py), as <c>MixerModel</c> applies it:
/// embedding normal(0, 0.02); every Linear bias zeroed unless its module marks it not to be re-initialised
/// (<see cref="IParameterGroups.NoReinitParameters"/>: Mamba's dt bias); Linear weights keep PyTorch's default
/// (kaiming-uniform) init, except each <c>out_proj.weight</c> and <c>fc2.weight</c>, divided by
/// <c>sqrt(n_residuals_per_layer * n_layer)</c> (GPT-2's prenorm-residual rescale; 2 residuals per layer when the
/// blocks have a feed-forward, else 1). The mixers' own init (Mamba dt, A_log, D) is done by the mixers.
/// </summary>
internal static class ReferenceInit
{
    public const double EmbeddingStd = 0.02;

    public static void Apply(nn.Module root, Parameter embedding, IReadOnlyList<Block> layers)
    {
        using var noGrad = no_grad();
        nn.init.normal_(embedding, 0.0, EmbeddingStd);

        var keep = ParameterGroups.NoReinit(root).Select(p => p.Handle).ToHashSet();
        foreach (Linear linear in root.modules().OfType<Linear>())
            if (linear.bias is Parameter bias && !keep.Contains(bias.Handle)) bias.zero_();

        int residualsPerLayer = layers.Any(layer => layer.HasFeedForward) ? 2 : 1;
        double rescale = 1.0 / Math.Sqrt(residualsPerLayer * layers.Count);
        foreach (var (name, parameter) in root.named_parameters())
            if (name.EndsWith(".out_proj.weight", StringComparison.Ordinal) || name.EndsWith(".fc2.weight", StringComparison.Ordinal))
                parameter.mul_(rescale);
    }
}
