using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Models;

/// <summary>A model the CLI can build: a compiled-in generated class or a spec compiled at run time.</summary>
/// <param name="Name">The generated class name (the spec's model name).</param>
/// <param name="Settings">The resolved settings the generated class exposes.</param>
/// <param name="Origin">"compiled-in", or the spec file it was compiled from.</param>
/// <param name="Create">Builds a fresh module (its initialisation draws from torch's global generator).</param>
public sealed record ModelDefinition(string Name, ModelSettings Settings, string Origin, Func<TrainableModel> Create)
{
    public long ParameterCount => Settings.ParameterCount;
}

/// <summary>A built model: the module, and its auxiliary (MoE load-balancing) loss of the last forward.</summary>
public sealed class TrainableModel(nn.Module<Tensor, Tensor> module, Func<Tensor?> auxLoss) : IDisposable
{
    public nn.Module<Tensor, Tensor> Module { get; } = module;

    /// <summary>The auxiliary loss of the last forward, or null when the model has none.</summary>
    public Tensor? AuxLoss => auxLoss();

    public void Dispose() => Module.Dispose();
}
