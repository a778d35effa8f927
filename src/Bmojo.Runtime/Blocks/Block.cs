using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Blocks;

/// <summary>The pre-norm residual block: <c>x + mixer(norm(x))</c>, then <c>x + mlp(norm2(x))</c> when there is a
/// feed-forward. Names as state-spaces/mamba <c>Block</c>: norm, mixer, norm2, mlp.</summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> norm;
    private readonly nn.Module<Tensor, Tensor> mixer;
    private readonly nn.Module<Tensor, Tensor>? norm2;
    private readonly nn.Module<Tensor, Tensor>? mlp;

    /// <param name="mixer">An <see cref="IMixer"/> module.</param>
    /// <param name="feedForward">An <see cref="Mlp"/>, a <see cref="MixtureOfExperts"/>, or null.</param>
    public Block(int dModel, int layerIndex, nn.Module<Tensor, Tensor> mixer, NormOptions norm,
                 nn.Module<Tensor, Tensor>? feedForward) : base(nameof(Block))
    {
        if (mixer is not IMixer)
            throw new ArgumentException($"Block (layer {layerIndex}): the mixer must implement {nameof(IMixer)}, got {mixer.GetType().Name}", nameof(mixer));
        this.norm = Norms.Create(dModel, norm);
        this.mixer = mixer;
        if (feedForward is not null)
        {
            norm2 = Norms.Create(dModel, norm);
            mlp = feedForward;
        }
        LayerIndex = layerIndex;
        RegisterComponents();
    }

    public int LayerIndex { get; }

    /// <summary>True when the block has a feed-forward half (two residual branches, else one).</summary>
    public bool HasFeedForward => mlp is not null;

    public override Tensor forward(Tensor x) => Run(x, TokenMixer.forward);

    public IMixerCache AllocateCache(long batch) => TokenMixer.AllocateCache(batch);

    public Tensor Forward(Tensor x, IMixerCache cache) => Run(x, h => TokenMixer.Forward(h, cache));

    /// <summary>This block's MoE load-balancing loss of the last forward, or null.</summary>
    public Tensor? AuxLoss => (mlp as MixtureOfExperts)?.AuxLoss;

    // Not a field: TorchSharp would register it as a second copy of the mixer.
    private IMixer TokenMixer => (IMixer)mixer;

    private Tensor Run(Tensor x, Func<Tensor, Tensor> mix)
    {
        using var scope = NewDisposeScope();
        Tensor h = x + mix(norm.forward(x));                                                   // (B, L, D)
        if (mlp is not null) h = h + mlp.forward(norm2!.forward(h));
        return h.MoveToOuterDisposeScope();
    }
}
