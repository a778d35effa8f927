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

    /// <summary>The parameters a cast below fp32 (bf16, half) leaves in fp32, in the order <see cref="RestoreFp32"/>
    /// takes them back (the SSMs' A_log, D and dt bias: the scan runs in fp32 anyway). None by default.</summary>
    protected virtual IReadOnlyList<Tensor> Fp32Parameters => [];

    /// <summary>Puts back fp32 copies of <see cref="Fp32Parameters"/>, in their order, after a cast.</summary>
    protected virtual void RestoreFp32(IReadOnlyList<Tensor> kept) { }

    protected override nn.Module _to(ScalarType dtype, bool non_blocking)
    {
        IReadOnlyList<Tensor>? kept = Fp32Copies(dtype, device: null);
        base._to(dtype, non_blocking);
        if (kept is not null) RestoreFp32(kept);
        return this;
    }

    protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking)
    {
        IReadOnlyList<Tensor>? kept = Fp32Copies(dtype, device);
        base._to(device, dtype, non_blocking);
        if (kept is not null) RestoreFp32(kept);
        return this;
    }

    /// <summary>Before a cast below fp32: fp32 copies of <see cref="Fp32Parameters"/> (on the target device); null
    /// for casts that lose nothing or a mixer that keeps none.</summary>
    private IReadOnlyList<Tensor>? Fp32Copies(ScalarType dtype, Device? device)
    {
        if (dtype is not (ScalarType.BFloat16 or ScalarType.Float16) || Fp32Parameters.Count == 0) return null;
        return Fp32Parameters.Select(p => p.detach().to(ScalarType.Float32, device ?? p.device).clone().DetachFromDisposeScope()).ToList();
    }
}
