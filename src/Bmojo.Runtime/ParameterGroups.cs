using TorchSharp;
using Bmojo.Runtime.Ops.AdamWStep;
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

    /// <summary>The names of the parameters that get weight decay, as nanoGPT and state-spaces/mamba train: matrices
    /// (projections, embeddings), not vectors (norm weights, biases) nor what the layers mark no-weight-decay.</summary>
    public static IReadOnlySet<string> WeightDecayed(torch.nn.Module root)
    {
        var exempt = NoWeightDecay(root).Select(p => p.Handle).ToHashSet();
        return root.named_parameters()
            .Where(p => p.parameter.dim() >= 2 && !exempt.Contains(p.parameter.Handle))
            .Select(p => p.name)
            .ToHashSet();
    }

    /// <summary>AdamW (betas 0.9 / 0.95; <see cref="FusedAdamW"/>, one kernel a parameter on CUDA) over two groups:
    /// <see cref="WeightDecayed"/> with <paramref name="weightDecay"/>,
    /// the rest without; and the parameter names in the optimizer's state order (decayed group first).</summary>
    /// <param name="fused">False: TorchSharp's own AdamW (the reference the benchmarks compare the fused step with).</param>
    public static (AdamW Optimizer, IReadOnlyList<string> Names) AdamW(torch.nn.Module root, double learningRate, double weightDecay,
                                                                       bool fused = true)
    {
        IReadOnlySet<string> decays = WeightDecayed(root);
        var named = root.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        var decayed = named.Where(p => decays.Contains(p.name)).ToList();
        var plain = named.Where(p => !decays.Contains(p.name)).ToList();
        var groups = new[]
        {
            new AdamW.ParamGroup(decayed.Select(p => p.parameter), new AdamW.Options { weight_decay = weightDecay }),
            new AdamW.ParamGroup(plain.Select(p => p.parameter), new AdamW.Options { weight_decay = 0.0 }),
        };
        AdamW optimizer = fused
            ? new FusedAdamW(groups, learningRate, beta1: 0.9, beta2: 0.95)
            : torch.optim.AdamW(groups, lr: learningRate, beta1: 0.9, beta2: 0.95);
        return (optimizer, decayed.Concat(plain).Select(p => p.name).ToList());
    }

    private static IEnumerable<IParameterGroups> Groups(torch.nn.Module root) =>
        root.modules().Prepend(root).OfType<IParameterGroups>();
}
