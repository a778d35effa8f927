using Bmojo.Runtime.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime;

/// <summary>
/// What every generated model is: token ids <c>(B, L)</c> to next-token logits <c>(B, L, V)</c> through a
/// <see cref="Backbone"/> (embedding, blocks, final norm) and an output head (<c>lm_head</c>, or the token embedding
/// when tied), with recurrent inference over a <see cref="ModelCache"/> and the MoE auxiliary loss. A generated class
/// supplies only its layers and constants; state-dict names are <c>backbone.*</c> and <c>lm_head</c>, as
/// state-spaces/mamba's <c>MambaLMHeadModel</c>.
/// </summary>
public abstract class LanguageModel : nn.Module<Tensor, Tensor>
{
    private readonly Backbone backbone;
    private readonly Linear? lm_head;

    /// <param name="settings">The resolved settings of the spec (the generated class's <c>SpecSettings</c>).</param>
    /// <param name="kernels">The kernel policy; null: <see cref="ModelSettings.Kernels"/>, the build's default.</param>
    /// <param name="layers">Builds the blocks, one per layer of <paramref name="settings"/>, with the resolved policy.</param>
    /// <param name="device">Where the weights live; null: the CPU. They are initialised on the CPU, then moved.</param>
    protected LanguageModel(ModelSettings settings, KernelPolicy? kernels, Func<KernelPolicy, IReadOnlyList<Block>> layers,
                            Device? device) : base(settings.Name)
    {
        KernelPolicy policy = kernels ?? settings.Kernels;
        Settings = settings with { Kernels = policy };
        IReadOnlyList<Block> blocks = layers(policy);
        if (blocks.Count != settings.Layers.Count)
            throw new ArgumentException($"{settings.Name}: {blocks.Count} blocks built for {settings.Layers.Count} layers", nameof(layers));
        backbone = new Backbone(settings.Vocab, settings.DModel, blocks, settings.Norm);
        register_module(nameof(backbone), backbone);
        if (!settings.TiedEmbeddings)
        {
            lm_head = nn.Linear(settings.DModel, settings.Vocab, hasBias: false);
            register_module(nameof(lm_head), lm_head);
        }
        if (device is not null) this.to(device);
    }

    /// <summary>The resolved settings of the spec, with the kernel policy this instance was built with.</summary>
    public ModelSettings Settings { get; }

    /// <summary>The kernel policy every mixer of this instance was built with.</summary>
    public KernelPolicy Kernels => Settings.Kernels;

    /// <summary>Next-token logits at every position of a batch of whole sequences.</summary>
    /// <param name="tokens">Token ids <c>(B, L)</c>, int64.</param>
    /// <returns>Logits <c>(B, L, V)</c>.</returns>
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor hidden = backbone.forward(tokens);                                             // (B, L, D)
        return Logits(hidden).MoveToOuterDisposeScope();                                     // (B, L, V)
    }

    /// <summary>An empty inference cache for <paramref name="batch"/> sequences, one entry per layer.</summary>
    public ModelCache AllocateCache(long batch) => backbone.AllocateCache(batch);

    /// <summary>Logits of a chunk of tokens that continues the sequences held by <paramref name="cache"/>, which it
    /// advances; chunk by chunk gives the same logits as <see cref="forward"/> on the whole.</summary>
    /// <param name="tokens">Token ids <c>(B, T)</c>, int64, T &gt;= 1.</param>
    /// <param name="cache">From <see cref="AllocateCache"/>, holding the tokens before these.</param>
    /// <returns>Logits <c>(B, T, V)</c>.</returns>
    public Tensor Forward(Tensor tokens, ModelCache cache)
    {
        using var scope = NewDisposeScope();
        Tensor hidden = backbone.Forward(tokens, cache);                                      // (B, T, D)
        return Logits(hidden).MoveToOuterDisposeScope();                                     // (B, T, V)
    }

    /// <summary>The MoE load-balancing loss of the last forward, weighted; null when no layer has MoE.</summary>
    public Tensor? AuxLoss => backbone.AuxLoss;

    // Hidden states (..., D) to logits (..., V): lm_head, or the token embedding when tied.
    private Tensor Logits(Tensor hidden) =>
        lm_head is not null ? lm_head.forward(hidden) : nn.functional.linear(hidden, backbone.EmbeddingWeight);
}
