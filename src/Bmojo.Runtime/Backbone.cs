using Bmojo.Runtime.Blocks;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime;

/// <summary>Embedding, blocks, final norm: <c>(B, L)</c> token ids to <c>(B, L, D)</c> hidden states.
/// Names as state-spaces/mamba <c>MixerModel</c>: embedding, layers.{i}, norm_f.</summary>
public sealed class Backbone : nn.Module<Tensor, Tensor>
{
    public Backbone(int vocab, int dModel, IReadOnlyList<Block> layers, NormOptions norm) : base(nameof(Backbone))
    {
        throw new NotImplementedException("contract skeleton: implemented by the runtime work");
    }

    /// <summary>The token embedding weight <c>(V, D)</c>, shared with the output head when embeddings are tied.</summary>
    public TorchSharp.Modules.Parameter EmbeddingWeight => throw new NotImplementedException();

    public override Tensor forward(Tensor tokens) => throw new NotImplementedException();

    public ModelCache AllocateCache(long batch) => throw new NotImplementedException();

    /// <summary>Runs a chunk <c>(B, T)</c> of tokens continuing <paramref name="cache"/>; returns <c>(B, T, D)</c>.</summary>
    public Tensor Forward(Tensor tokens, ModelCache cache) => throw new NotImplementedException();

    /// <summary>Sum of the MoE load-balancing losses of the last forward, or null when no layer has MoE.</summary>
    public Tensor? AuxLoss => throw new NotImplementedException();
}
