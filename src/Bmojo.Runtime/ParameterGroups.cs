using TorchSharp;
using TorchSharp.Modules;

namespace Bmojo.Runtime;

/// <summary>A module whose parameters the training code must treat apart from the generic rules, as
/// state-spaces/mamba marks them with <c>_no_weight_decay</c> and <c>_no_reinit</c>.</summary>
public interface IParameterGroups
{
    /// <summary>Parameters the optimiser must not decay (Mamba: A_log, D, the dt bias).</summary>
    IEnumerable<Parameter> NoWeightDecayParameters();

    /// <summary>Parameters carrying their own initialisation that a generic re-initialisation must leave alone
    /// (Mamba: dt_proj's weight and bias, A_log, D).</summary>
    IEnumerable<Parameter> NoReinitParameters();
}

/// <summary>Collects <see cref="IParameterGroups"/> over a whole module tree.</summary>
public static class ParameterGroups
{
    public static IReadOnlyList<Parameter> NoWeightDecay(torch.nn.Module root) =>
        Groups(root).SelectMany(g => g.NoWeightDecayParameters()).ToList();

    public static IReadOnlyList<Parameter> NoReinit(torch.nn.Module root) =>
        Groups(root).SelectMany(g => g.NoReinitParameters()).ToList();

    private static IEnumerable<IParameterGroups> Groups(torch.nn.Module root) =>
        root.modules().Prepend(root).OfType<IParameterGroups>();
}
