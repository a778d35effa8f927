using Bmojo.Cli.Models;
using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>A built model and its definition, seen as a language model: the full forward <c>(B, L)</c> to logits
/// <c>(B, L, V)</c> and the recurrent path (<c>AllocateCache</c>, then <c>Forward(tokens, cache)</c> chunk by chunk)
/// of <see cref="LanguageModel"/>, which every generated model is.</summary>
public sealed class LmModel : IDisposable
{
    public LmModel(ModelDefinition definition, nn.Module<Tensor, Tensor> module)
    {
        Definition = definition;
        Model = module as LanguageModel
                ?? throw new UserError($"{definition.Name} is not a generated language model ({module.GetType().Name}); the LM commands need one");
    }

    /// <summary>Builds a fresh <paramref name="definition"/> (initialised from torch's global generator).</summary>
    public static LmModel Create(ModelDefinition definition) => new(definition, definition.Create());

    public ModelDefinition Definition { get; }

    public LanguageModel Model { get; }

    public nn.Module<Tensor, Tensor> Module => Model;

    public Tensor? AuxLoss => Model.AuxLoss;

    /// <summary>The device of the model's weights.</summary>
    public Device Device => Model.parameters().First().device;

    public Tensor Forward(Tensor tokens) => Model.forward(tokens);

    public ModelCache AllocateCache(long batch) => Model.AllocateCache(batch);

    /// <summary>Logits <c>(B, T, V)</c> of a chunk continuing the sequences in <paramref name="cache"/>, which it advances.</summary>
    public Tensor Forward(Tensor tokens, ModelCache cache) => Model.Forward(tokens, cache);

    public void Dispose() => Model.Dispose();
}
