using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The recurrent state of a <see cref="MambaMixer"/>: the last <c>d_conv - 1</c> conv inputs and the SSM state.
/// It holds values only (no autograd history).</summary>
public sealed class MambaCache : IMixerCache
{
    private Tensor convState;
    private Tensor ssmState;

    internal MambaCache(Tensor convState, Tensor ssmState)
    {
        this.convState = convState.detach().DetachFromDisposeScope();
        this.ssmState = ssmState.detach().DetachFromDisposeScope();
    }

    /// <summary>The inputs of the causal conv of the last <c>d_conv - 1</c> tokens <c>(B, d_inner, d_conv - 1)</c>, in the model dtype.</summary>
    public Tensor ConvState
    {
        get => convState;
        internal set => Replace(ref convState, value);
    }

    /// <summary>The selective SSM state <c>(B, d_inner, N)</c>, in fp32 (float64 for a float64 model).</summary>
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
