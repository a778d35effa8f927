using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Models;

/// <summary>A model the CLI can build: a compiled-in generated class or a spec compiled at run time (both from the
/// registry of their assembly, <see cref="ModelRegistry"/>), or a hand-built module in tests.</summary>
/// <param name="Name">The generated class name (the spec's model name).</param>
/// <param name="Settings">The resolved settings the generated class exposes.</param>
/// <param name="Origin">"compiled-in", or the spec file it was compiled from.</param>
/// <param name="Create">Builds a fresh module (its initialisation draws from torch's global generator); a
/// <see cref="LanguageModel"/> for every generated model.</param>
public sealed record ModelDefinition(string Name, ModelSettings Settings, string Origin, Func<nn.Module<Tensor, Tensor>> Create)
{
    public long ParameterCount => Settings.ParameterCount;

    /// <summary>A registry entry, built on the CPU with the build's kernel policy.</summary>
    public static ModelDefinition Of(ModelEntry model, string origin) =>
        new(model.Name, model.Settings, origin, () => model.Create());

    /// <summary>The auxiliary (MoE load-balancing) loss of <paramref name="module"/>'s last forward, or null when it has
    /// none (a model without MoE, or a module that is no <see cref="LanguageModel"/>).</summary>
    public static Tensor? AuxLoss(nn.Module<Tensor, Tensor> module) => (module as LanguageModel)?.AuxLoss;
}
