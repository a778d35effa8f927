using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>What every token mixer shares: the layer index, the kernel policy it was built with (resolved once, in
/// the constructor, never changed) and the <see cref="LastPath"/> of its last forward.</summary>
public abstract class Mixer : nn.Module<Tensor, Tensor>, IMixer
{
    protected Mixer(string name, int layerIndex, KernelPolicy? kernels) : base(name)
    {
        LayerIndex = layerIndex;
        Kernels = kernels ?? KernelPolicy.Auto;
    }

    /// <summary>The layer this mixer belongs to (named in its errors).</summary>
    public int LayerIndex { get; }

    /// <summary>The policy given to the constructor (null there: <see cref="KernelPolicy.Auto"/>).</summary>
    public KernelPolicy Kernels { get; }

    /// <inheritdoc/>
    public MixerPath? LastPath { get; private set; }

    public abstract IMixerCache AllocateCache(long batch);

    public abstract Tensor Forward(Tensor x, IMixerCache cache);

    /// <summary>Records the path the forward now running takes.</summary>
    protected void Ran(MixerPath path) => LastPath = path;
}
