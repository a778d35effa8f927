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
    public static IReadOnlySet<string> Decayed(nn.Module module) => ParameterGroups.WeightDecayed(module);

    /// <summary>The optimizer and the parameter names in its state order (decayed group first).</summary>
    public static (AdamW Optimizer, IReadOnlyList<string> Names) Create(nn.Module module, TrainingOptions options) =>
        ParameterGroups.AdamW(module, options.LearningRate, options.WeightDecay);
}
