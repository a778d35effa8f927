using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The recurrent state of an <see cref="SsdMixer"/>: the last <c>d_conv - 1</c> inputs of its convolution
/// (x, B and C) and the SSM state of every head. It holds values only (no autograd history).</summary>
public sealed class SsdCache : IMixerCache
{
    private Tensor convState;
    private Tensor ssmState;

    internal SsdCache(Tensor convState, Tensor ssmState)
    {
        this.convState = convState.detach().DetachFromDisposeScope();
        this.ssmState = ssmState.detach().DetachFromDisposeScope();
    }

    /// <summary>The conv inputs of the last <c>d_conv - 1</c> tokens <c>(B, d_inner + 2·G·N, d_conv - 1)</c>, in the model dtype.</summary>
    public Tensor ConvState
    {
        get => convState;
        internal set => Replace(ref convState, value);
    }

    /// <summary>The SSM state <c>(B, H, P, N)</c>, in fp32 (float64 for a float64 model).</summary>
    public Tensor SsmState
    {
        get => ssmState;
        internal set => Replace(ref ssmState, value);
    }

    public long Position { get; internal set; }

    public void Dispose()
    {
        convState.Dispose();
        ssmState.Dispose();
    }

    private static void Replace(ref Tensor field, Tensor value)
    {
        Tensor old = field;
        field = value.detach().DetachFromDisposeScope();
        old.Dispose();
    }
}
