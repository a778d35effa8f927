using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Cli.Training;

/// <summary>AdamW over two parameter groups, as nanoGPT and state-spaces/mamba train: weight decay on matrices
/// (projections, embeddings), none on vectors (norm weights, biases, dt bias, D) nor on Mamba's <c>A_log</c>
/// (the reference marks <c>A_log</c> and <c>D</c> <c>_no_weight_decay</c>).</summary>
public static class OptimizerFactory
{
    private static readonly HashSet<string> NoWeightDecayNames = ["A_log", "D"];

    public static bool Decays(string name, Parameter parameter) =>
        parameter.dim() >= 2 && !NoWeightDecayNames.Contains(name[(name.LastIndexOf('.') + 1)..]);

    /// <summary>The optimizer and the parameter names in its state order (decayed group first).</summary>
    public static (AdamW Optimizer, IReadOnlyList<string> Names) Create(nn.Module module, TrainingOptions options)
    {
        var named = module.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        var decayed = named.Where(p => Decays(p.name, p.parameter)).ToList();
        var plain = named.Where(p => !Decays(p.name, p.parameter)).ToList();
        var groups = new[]
        {
            new AdamW.ParamGroup(decayed.Select(p => p.parameter), new AdamW.Options { weight_decay = options.WeightDecay }),
            new AdamW.ParamGroup(plain.Select(p => p.parameter), new AdamW.Options { weight_decay = 0.0 }),
        };
        AdamW optimizer = optim.AdamW(groups, lr: options.LearningRate, beta1: 0.9, beta2: 0.95);
        return (optimizer, decayed.Concat(plain).Select(p => p.name).ToList());
    }
}
