using System.Reflection;
using Bmojo.Cli.Models;
using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>
/// A built model seen as a language model: the full forward <c>(B, L)</c> to logits <c>(B, L, V)</c>, and the
/// recurrent path (<c>AllocateCache</c>, then <c>Forward(tokens, cache)</c> chunk by chunk) that every generated
/// model class has. The generated classes share no base type yet, so the two recurrent members are found once by
/// reflection on the class.
/// </summary>
public sealed class LanguageModel : IDisposable
{
    private readonly TrainableModel model;
    private readonly MethodInfo allocateCache;
    private readonly MethodInfo forwardCached;

    public LanguageModel(ModelDefinition definition, TrainableModel model)
    {
        Definition = definition;
        this.model = model;
        Type type = model.Module.GetType();
        allocateCache = type.GetMethod("AllocateCache", [typeof(long)])
                        ?? throw new InvalidOperationException($"{type.Name} has no AllocateCache(long)");
        forwardCached = type.GetMethod("Forward", [typeof(Tensor), typeof(ModelCache)])
                        ?? throw new InvalidOperationException($"{type.Name} has no Forward(Tensor, ModelCache)");
    }

    public ModelDefinition Definition { get; }

    public nn.Module<Tensor, Tensor> Module => model.Module;

    public Tensor? AuxLoss => model.AuxLoss;

    /// <summary>The device of the model's weights.</summary>
    public Device Device => Module.parameters().First().device;

    public Tensor Forward(Tensor tokens) => Module.forward(tokens);

    public ModelCache AllocateCache(long batch) => (ModelCache)Invoke(allocateCache, batch);

    /// <summary>Logits <c>(B, T, V)</c> of a chunk continuing the sequences in <paramref name="cache"/>, which it advances.</summary>
    public Tensor Forward(Tensor tokens, ModelCache cache) => (Tensor)Invoke(forwardCached, tokens, cache);

    public void Dispose() => model.Dispose();

    private object Invoke(MethodInfo method, params object[] arguments)
    {
        try
        {
            return method.Invoke(Module, arguments)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
