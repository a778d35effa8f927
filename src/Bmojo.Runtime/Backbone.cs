using Bmojo.Runtime.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime;

/// <summary>Embedding, blocks, final norm: <c>(B, L)</c> token ids to <c>(B, L, D)</c> hidden states.
/// Names as state-spaces/mamba <c>MixerModel</c>: embedding, layers.{i}, norm_f.</summary>
/// <remarks>The constructor initialises the whole stack as the reference's <c>_init_weights</c> (see
/// <see cref="ReferenceInit"/>).</remarks>
public sealed class Backbone : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embedding;
    private readonly ModuleList<Block> layers;
    private readonly nn.Module<Tensor, Tensor> norm_f;
    private readonly long vocab;

    public Backbone(int vocab, int dModel, IReadOnlyList<Block> layers, NormOptions norm) : base(nameof(Backbone))
    {
        if (vocab < 1) throw new ArgumentOutOfRangeException(nameof(vocab), vocab, "Backbone: vocab must be at least 1");
        if (dModel < 1) throw new ArgumentOutOfRangeException(nameof(dModel), dModel, "Backbone: d_model must be at least 1");
        if (layers.Count == 0) throw new ArgumentException("Backbone: at least one layer is needed", nameof(layers));
        this.vocab = vocab;
        embedding = nn.Embedding(vocab, dModel);
        this.layers = nn.ModuleList(layers.ToArray());
        norm_f = Norms.Create(dModel, norm);
        RegisterComponents();
        ReferenceInit.Apply(this, embedding.weight!, layers);
    }

    /// <summary>The token embedding weight <c>(V, D)</c>, shared with the output head when embeddings are tied.</summary>
    public Parameter EmbeddingWeight => embedding.weight!;

    public override Tensor forward(Tensor tokens)
    {
        CheckTokens(tokens);
        using var scope = NewDisposeScope();
        Tensor h = embedding.forward(tokens);                                                 // (B, L, D)
        foreach (Block layer in layers) h = layer.forward(h);
        return norm_f.forward(h).MoveToOuterDisposeScope();
    }

    public ModelCache AllocateCache(long batch) => new(layers.Select(layer => layer.AllocateCache(batch)).ToList());

    /// <summary>Runs a chunk <c>(B, T)</c> of tokens continuing <paramref name="cache"/>; returns <c>(B, T, D)</c>.</summary>
    public Tensor Forward(Tensor tokens, ModelCache cache)
    {
        CheckTokens(tokens);
        if (cache.Layers.Count != layers.Count)
            throw new ArgumentException($"Backbone: the cache has {cache.Layers.Count} layers, the model {layers.Count}", nameof(cache));
        using var scope = NewDisposeScope();
        Tensor h = embedding.forward(tokens);                                                 // (B, T, D)
        for (int i = 0; i < layers.Count; i++) h = layers[i].Forward(h, cache.Layers[i]);
        return norm_f.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>Sum of the MoE load-balancing losses of the last forward, or null when no layer has MoE.
    /// A new tensor each call (in the caller's dispose scope), differentiable.</summary>
    public Tensor? AuxLoss
    {
        get
        {
            Tensor[] losses = layers.Select(layer => layer.AuxLoss).OfType<Tensor>().ToArray();
            return losses.Length == 0 ? null : stack(losses).sum();
        }
    }

    private void CheckTokens(Tensor tokens)
    {
        if (tokens.dim() != 2 || tokens.shape[1] < 1 || tokens.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new ArgumentException($"Backbone: tokens must be (B, L >= 1) of int64, got ({string.Join(", ", tokens.shape)}) of {tokens.dtype}", nameof(tokens));
        long min = tokens.min().item<long>(), max = tokens.max().item<long>();
        if (min < 0 || max >= vocab)
            throw new ArgumentException($"Backbone: token ids must be in [0, {vocab}), got values in [{min}, {max}]", nameof(tokens));
    }
}
