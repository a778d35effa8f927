using static Bmojo.Runtime.Gpu.KernelTensors;
using System.Numerics;
using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Mixers;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// The selective scan as one fused ILGPU kernel, on CUDA tensors or (through ILGPU's CPU accelerator) CPU tensors,
/// with the arguments and results of <see cref="SelectiveScanReference"/>. The state stays in registers in fp32; the
/// kernel reads <c>u, delta, z, B, C</c> once and writes <c>y</c> once. Inputs are taken as fp32 and contiguous
/// (other dtypes or layouts cost one conversion copy each); <c>y</c> comes back in <c>u</c>'s dtype.
/// This is the forward pass only: for training use <see cref="SelectiveScanFunction"/>.
/// </summary>
public static class FusedSelectiveScan
{
    private const string Operation = "fused selective scan";

    /// <summary>The largest d_state the kernels hold (up to 16 in registers, two lanes a channel; up to 32 one lane a
    /// state).</summary>
    public const int MaxDState = SelectiveScanKernel.MaxLanes;

    private static readonly StreamKernel<SelectiveScanArguments> LaneKernel = new(SelectiveScanKernel.Forward);
    private static readonly StreamKernel<SelectiveScanArguments> RegisterKernel = new(RegisterScanKernel.Forward);

    /// <inheritdoc cref="SelectiveScanReference.Run"/>
    public static Tensor Run(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D = null, Tensor? z = null,
                             Tensor? deltaBias = null, bool deltaSoftplus = false, Tensor? initialState = null)
    {
        (Tensor output, Tensor finalState) = RunWithFinalState(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState);
        finalState.Dispose();
        return output;
    }

    /// <inheritdoc cref="SelectiveScanReference.RunWithFinalState"/>
    public static (Tensor Output, Tensor FinalState) RunWithFinalState(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D = null, Tensor? z = null,
        Tensor? deltaBias = null, bool deltaSoftplus = false, Tensor? initialState = null)
    {
        (Tensor output, Tensor finalState, _) = Launch(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState, checkpoints: false);
        return (output, finalState);
    }

    /// <summary><c>y</c>, and the state before every chunk of the kernel (B, d_inner, chunks, N) for
    /// <see cref="FusedSelectiveScanBackward"/>, which then skips recomputing them.</summary>
    internal static (Tensor Output, Tensor Checkpoints) RunForTraining(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? deltaBias, bool deltaSoftplus)
    {
        (Tensor output, Tensor finalState, Tensor? checkpoints) = Launch(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, null, checkpoints: true);
        finalState.Dispose();
        return (output, checkpoints!);
    }

    /// <summary>True when d_state is small enough for the register-state kernels (<see cref="RegisterScanKernel"/>,
    /// <see cref="RegisterScanBackwardKernel"/>); larger states go to the lane-per-state ones.</summary>
    internal static bool InRegisters(long dState) => dState <= RegisterScanKernel.MaxDState;

    /// <summary>The number of checkpoint chunks along L for a given d_state (8 steps each in the register kernels,
    /// 2^⌈log2 N⌉ in the lane-per-state ones).</summary>
    internal static long Chunks(long length, long dState)
    {
        long steps = InRegisters(dState) ? RegisterScanKernel.ChunkSteps : Lanes(dState);
        return (length + steps - 1) / steps;
    }

    private static int Lanes(long dState) => (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(dState, 1));

    private static (Tensor Output, Tensor FinalState, Tensor? Checkpoints) Launch(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? deltaBias, bool deltaSoftplus, Tensor? initialState, bool checkpoints)
    {
        ScanShapes.Check(u, delta, A, B, C, D, z, deltaBias, initialState);
        long batch = u.shape[0], dInner = u.shape[1], length = u.shape[2], dState = A.shape[1];
        if (dState > MaxDState)
            throw new ArgumentException($"{Operation}: d_state = {dState} is over the kernel's {MaxDState}; use SelectiveScanReference");
        if (batch * dInner * length > int.MaxValue || batch * dInner * Chunks(length, dState) * dState > int.MaxValue)
            throw new ArgumentException($"{Operation}: (B={batch}, d_inner={dInner}, L={length}) has more than 2^31 elements; split the batch");
        foreach ((Tensor? t, string name) in new[] { (delta, "delta"), (A, "A"), (B, "B"), (C, "C"), (D, "D"), (z, "z"), (deltaBias, "deltaBias"), (initialState, "initialState") })
            if (t is not null && (t.device_type != u.device_type || t.device_index != u.device_index))
                throw new ArgumentException($"{Operation}: {name} is on {t.device}, u is on {u.device}");

        using var scope = NewDisposeScope();
        KernelHost host = KernelHost.For(u);
        Tensor output = empty(batch, dInner, length, ScalarType.Float32, u.device);       // (B, d_inner, L)
        Tensor finalState = empty(batch, dInner, dState, ScalarType.Float32, u.device);   // (B, d_inner, N)
        long chunks = Chunks(length, dState);
        Tensor? states = checkpoints ? empty(batch, dInner, chunks, dState, ScalarType.Float32, u.device) : null;
        Tensor uf = Fp32(u), deltaf = Fp32(delta), Af = Fp32(A), Bf = Fp32(B), Cf = Fp32(C);
        Tensor? Df = D is null ? null : Fp32(D), zf = z is null ? null : Fp32(z);
        Tensor? biasf = deltaBias is null ? null : Fp32(deltaBias), h0 = initialState is null ? null : Fp32(initialState);

        using (var views = new TorchInterop(host, Operation))
        {
            int lanes = Lanes(dState);
            var arguments = new SelectiveScanArguments
            {
                U = views.Float32(uf, "u", batch, dInner, length),
                Delta = views.Float32(deltaf, "delta", batch, dInner, length),
                A = views.Float32(Af, "A", dInner, dState),
                B = views.Float32(Bf, "B", batch, dState, length),
                C = views.Float32(Cf, "C", batch, dState, length),
                D = Df is null ? TorchInterop.Absent : views.Float32(Df, "D", dInner),
                Z = zf is null ? TorchInterop.Absent : views.Float32(zf, "z", batch, dInner, length),
                DeltaBias = biasf is null ? TorchInterop.Absent : views.Float32(biasf, "deltaBias", dInner),
                InitialState = h0 is null ? TorchInterop.Absent : views.Float32(h0, "initialState", batch, dInner, dState),
                Output = views.Float32(output, "output", batch, dInner, length),
                FinalState = views.Float32(finalState, "finalState", batch, dInner, dState),
                Checkpoints = states is null ? TorchInterop.Absent : views.Float32(states, "checkpoints", batch, dInner, chunks, dState),
                Batch = (int)batch, DInner = (int)dInner, Length = (int)length, DState = (int)dState, Lanes = lanes,
                Options = (Df is null ? 0 : ScanOptions.D) | (zf is null ? 0 : ScanOptions.Z)
                          | (biasf is null ? 0 : ScanOptions.DeltaBias) | (h0 is null ? 0 : ScanOptions.InitialState)
                          | (deltaSoftplus ? ScanOptions.DeltaSoftplus : 0) | (states is null ? 0 : ScanOptions.Checkpoints),
            };
            if (batch > 0 && dInner > 0 && length > 0)
            {
                if (InRegisters(dState))
                {
                    long groups = batch * RegisterScanKernel.BlocksPerBatch((int)dInner);         // one batch row per block
                    host.Launch(accelerator => RegisterKernel.On(accelerator)(
                        ((int)groups, RegisterScanKernel.Threads, SharedMemoryConfig.RequestDynamic<Float4>(RegisterScanKernel.SharedQuads)),
                        arguments));
                }
                else
                {
                    long groups = batch * SelectiveScanKernel.BlocksPerBatch((int)dInner, lanes);
                    host.Launch(accelerator => LaneKernel.On(accelerator)(
                        ((int)groups, SelectiveScanKernel.GroupSize, SharedMemoryConfig.RequestDynamic<float>(SelectiveScanKernel.SharedFloats((int)dState, lanes))),
                        arguments));
                }
            }
        }

        Tensor y = output.to_type(u.dtype);
        return (y.MoveToOuterDisposeScope(), finalState.MoveToOuterDisposeScope(), states?.MoveToOuterDisposeScope());
    }
}
