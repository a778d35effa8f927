using System.Numerics;
using Bmojo.Runtime.Mixers;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>A scan's inputs as contiguous CPU tensors of the compute dtype, B and C transposed to <c>(B, L, N)</c>;
/// made inside the caller's dispose scope, which keeps them alive while <see cref="Memory{T}"/> points into them.</summary>
internal sealed class CpuScanTensors
{
    public CpuScanTensors(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? deltaBias, Tensor? initialState)
    {
        ScalarType compute = ScanShapes.ComputeType(u.dtype);
        Tensor Prepare(Tensor t) => t.detach().to_type(compute).contiguous();
        U = Prepare(u);
        Delta = Prepare(delta);
        this.A = Prepare(A);
        Bt = Prepare(B.transpose(1, 2));                                   // (B, L, N)
        Ct = Prepare(C.transpose(1, 2));                                   // (B, L, N)
        this.D = D is null ? null : Prepare(D);
        Z = z is null ? null : Prepare(z);
        DeltaBias = deltaBias is null ? null : Prepare(deltaBias);
        InitialState = initialState is null ? null : Prepare(initialState);
    }

    public Tensor U { get; }
    public Tensor Delta { get; }
    public Tensor A { get; }
    public Tensor Bt { get; }
    public Tensor Ct { get; }
    public Tensor? D { get; }
    public Tensor? Z { get; }
    public Tensor? DeltaBias { get; }
    public Tensor? InitialState { get; }

    /// <summary>Pointers to the inputs; the outputs are for the caller to set.</summary>
    public unsafe ScanMemory<T> Memory<T>(bool deltaSoftplus) where T : unmanaged, IFloatingPointIeee754<T> => new()
    {
        Batch = checked((int)U.shape[0]),
        DInner = checked((int)U.shape[1]),
        Length = checked((int)U.shape[2]),
        DState = checked((int)A.shape[1]),
        DeltaSoftplus = deltaSoftplus,
        U = CpuSelectiveScan.Pointer<T>(U),
        Delta = CpuSelectiveScan.Pointer<T>(Delta),
        A = CpuSelectiveScan.Pointer<T>(A),
        Bt = CpuSelectiveScan.Pointer<T>(Bt),
        Ct = CpuSelectiveScan.Pointer<T>(Ct),
        D = CpuSelectiveScan.Pointer<T>(D),
        Z = CpuSelectiveScan.Pointer<T>(Z),
        DeltaBias = CpuSelectiveScan.Pointer<T>(DeltaBias),
        InitialState = CpuSelectiveScan.Pointer<T>(InitialState),
    };
}

/// <summary>The gradients of a selective scan, in the compute dtype; null for an absent optional input.</summary>
internal sealed record CpuScanGradients(Tensor U, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? Z,
                                        Tensor? DeltaBias, Tensor? InitialState)
{
    public CpuScanGradients MoveToOuterDisposeScope()
    {
        foreach (Tensor? t in new[] { U, Delta, A, B, C, D, Z, DeltaBias, InitialState }) t?.MoveToOuterDisposeScope();
        return this;
    }
}
