using Bmojo.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Bench;

/// <summary>The optimizer <c>bmojo train</c> uses (the CLI's <c>OptimizerFactory</c>), built here from the same rule
/// so that the benchmark needs nothing from the CLI: AdamW, betas 0.9 / 0.95, weight decay on matrices only, none on
/// vectors (norm weights, biases) nor on what the layers mark no-weight-decay (<see cref="ParameterGroups"/>).</summary>
public static class TrainingOptimizer
{
    public const double LearningRate = 3e-4;
    public const double WeightDecay = 0.1;

    /// <summary>The names of the parameters that get weight decay.</summary>
    public static IReadOnlySet<string> Decayed(nn.Module module)
    {
        var exempt = ParameterGroups.NoWeightDecay(module).Select(p => p.Handle).ToHashSet();
        return module.named_parameters()
            .Where(p => p.parameter.dim() >= 2 && !exempt.Contains(p.parameter.Handle))
            .Select(p => p.name)
            .ToHashSet();
    }

    public static AdamW Create(nn.Module module)
    {
        IReadOnlySet<string> decays = Decayed(module);
        var named = module.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        var groups = new[]
        {
            new AdamW.ParamGroup(named.Where(p => decays.Contains(p.name)).Select(p => p.parameter),
                                 new AdamW.Options { weight_decay = WeightDecay }),
            new AdamW.ParamGroup(named.Where(p => !decays.Contains(p.name)).Select(p => p.parameter),
                                 new AdamW.Options { weight_decay = 0.0 }),
        };
        return optim.AdamW(groups, lr: LearningRate, beta1: 0.9, beta2: 0.95);
    }
}
