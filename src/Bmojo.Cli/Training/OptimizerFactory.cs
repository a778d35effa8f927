using Bmojo.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Cli.Training;

/// <summary>AdamW over two parameter groups, as nanoGPT and state-spaces/mamba train: weight decay on matrices
/// (projections, embeddings), none on vectors (norm weights, biases) nor on what the layers mark as
/// no-weight-decay (<see cref="ParameterGroups.NoWeightDecay"/>: Mamba's <c>A_log</c>, <c>D</c>, dt bias).</summary>
public static class OptimizerFactory
{
    /// <summary>The names of the parameters that get weight decay.</summary>
    public static IReadOnlySet<string> Decayed(nn.Module module)
    {
        var exempt = ParameterGroups.NoWeightDecay(module).Select(p => p.Handle).ToHashSet();
        return module.named_parameters()
            .Where(p => p.parameter.dim() >= 2 && !exempt.Contains(p.parameter.Handle))
            .Select(p => p.name)
            .ToHashSet();
    }

    /// <summary>The optimizer and the parameter names in its state order (decayed group first).</summary>
    public static (AdamW Optimizer, IReadOnlyList<string> Names) Create(nn.Module module, TrainingOptions options)
    {
        IReadOnlySet<string> decays = Decayed(module);
        var named = module.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        var decayed = named.Where(p => decays.Contains(p.name)).ToList();
        var plain = named.Where(p => !decays.Contains(p.name)).ToList();
        var groups = new[]
        {
            new AdamW.ParamGroup(decayed.Select(p => p.parameter), new AdamW.Options { weight_decay = options.WeightDecay }),
            new AdamW.ParamGroup(plain.Select(p => p.parameter), new AdamW.Options { weight_decay = 0.0 }),
        };
        AdamW optimizer = optim.AdamW(groups, lr: options.LearningRate, beta1: 0.9, beta2: 0.95);
        return (optimizer, decayed.Concat(plain).Select(p => p.name).ToList());
    }
}
