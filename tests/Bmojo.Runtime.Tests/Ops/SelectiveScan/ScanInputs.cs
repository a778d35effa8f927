using static TorchSharp.torch;

using Bmojo.Runtime.Mixers;

namespace Bmojo.Runtime.Tests.Ops.SelectiveScan;

/// <summary>Fresh random selective-scan inputs in mamba's layouts, at a scale that keeps states and outputs O(1).</summary>
internal sealed record ScanInputs(Tensor U, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor Z, Tensor DeltaBias, Tensor InitialState)
{
    public static ScanInputs Random(long batch, long dInner, long length, long dState, Device device)
    {
        ScalarType f = ScalarType.Float32;
        return new ScanInputs(
            U: randn(batch, dInner, length, f, device),
            Delta: randn(batch, dInner, length, f, device) * 0.5 - 1.0,
            A: -exp(randn(dInner, dState, f, device) * 0.5),                 // negative real, as mamba's -exp(A_log)
            B: randn(batch, dState, length, f, device),
            C: randn(batch, dState, length, f, device),
            D: randn(dInner, f, device),
            Z: randn(batch, dInner, length, f, device),
            DeltaBias: randn(dInner, f, device) * 0.1,
            InitialState: randn(batch, dInner, dState, f, device));
    }

    /// <summary>The same inputs in float64 on the CPU, for the reference.</summary>
    public ScanInputs Float64Cpu() => new(Up(U), Up(Delta), Up(A), Up(B), Up(C), Up(D), Up(Z), Up(DeltaBias), Up(InitialState));

    private static Tensor Up(Tensor t) => t.to_type(ScalarType.Float64).cpu();
}
