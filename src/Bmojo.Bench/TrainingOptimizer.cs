using Bmojo.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Bench;

/// <summary>The optimizer <c>bmojo train</c> uses (<see cref="ParameterGroups.AdamW"/>, as the CLI's <c>OptimizerFactory</c>)
/// at the benchmark's fixed learning rate and weight decay.</summary>
public static class TrainingOptimizer
{
    public const double LearningRate = 3e-4;
    public const double WeightDecay = 0.1;

    /// <summary>The names of the parameters that get weight decay.</summary>
    public static IReadOnlySet<string> Decayed(nn.Module module) => ParameterGroups.WeightDecayed(module);

    /// <param name="fused">False: TorchSharp's AdamW, the reference of the fused step.</param>
    public static AdamW Create(nn.Module module, bool fused = true) =>
        ParameterGroups.AdamW(module, LearningRate, WeightDecay, fused).Optimizer;
}
