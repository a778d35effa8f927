using static Bmojo.Runtime.Kernels.KernelTensors;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using Bmojo.Runtime.Reference;
using TorchSharp;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Kernels;

/// <summary>The gradients of the selective scan (no initial state) with respect to every tensor input.</summary>
public sealed record SelectiveScanGradients(Tensor U, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? Z, Tensor? DeltaBias);

/// <summary>
/// The selective scan's backward pass as one fused ILGPU kernel: for d_state &lt;= 16 the register-state kernel
/// (<see cref="RegisterScanBackwardKernel"/>: dB, dC summed by atomics in the kernel), above it the lane-per-state
/// one (<see cref="SelectiveScanBackwardKernel"/>: dB, dC as per-block partials); then torch sums of the per-row
/// partials (dA, dD, d delta_bias; and the lane kernel's dB, dC). Gradients come back fp32, on the inputs' device.
/// Arguments as <see cref="FusedSelectiveScan.Run"/>, plus <c>gradOutput</c> (B, d_inner, L).
/// </summary>
public static class FusedSelectiveScanBackward
{
    private const string Operation = "fused selective scan backward";

    private static readonly StreamKernel<SelectiveScanGradientArguments> LaneKernel = new(SelectiveScanBackwardKernel.Backward);
    private static readonly StreamKernel<RegisterScanGradientArguments> RegisterKernel = new(RegisterScanBackwardKernel.Backward);

    public static SelectiveScanGradients Run(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
                                             Tensor? deltaBias, bool deltaSoftplus, Tensor gradOutput)
        => Run(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, gradOutput, checkpoints: null);

    /// <param name="checkpoints">The forward kernel's states before each chunk (from the autograd function's forward
    /// pass); when null, they are recomputed: for d_state &lt;= 16 by the forward kernel first, above it by a forward
    /// sweep inside the backward kernel.</param>
    internal static SelectiveScanGradients Run(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
                                               Tensor? deltaBias, bool deltaSoftplus, Tensor gradOutput, Tensor? checkpoints)
    {
        ScanShapes.Check(u, delta, A, B, C, D, z, deltaBias, initialState: null);
        long batch = u.shape[0], dInner = u.shape[1], length = u.shape[2], dState = A.shape[1];
        if (!gradOutput.shape.SequenceEqual(u.shape))
            throw new ArgumentException($"{Operation}: gradOutput must be ({batch}, {dInner}, {length}) like u, got ({string.Join(", ", gradOutput.shape)})");
        if (dState > FusedSelectiveScan.MaxDState)
            throw new ArgumentException($"{Operation}: d_state = {dState} is over the kernel's {FusedSelectiveScan.MaxDState}; use SelectiveScanReference");
        if (FusedSelectiveScan.InRegisters(dState))
            return RunInRegisters(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, gradOutput, checkpoints);
        int lanes = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(dState, 1));
        long blocksPerBatch = SelectiveScanBackwardKernel.BlocksPerBatch((int)dInner, lanes);
        long chunks = SelectiveScanBackwardKernel.Chunks((int)length, lanes);
        if (batch * dInner * length > int.MaxValue || batch * blocksPerBatch * dState * length > int.MaxValue ||
            batch * dInner * chunks * dState > int.MaxValue)
            throw new ArgumentException($"{Operation}: (B={batch}, d_inner={dInner}, L={length}) needs more than 2^31 elements of scratch; split the batch");

        using var scope = NewDisposeScope();
        KernelHost host = KernelHost.For(u);
        Device device = u.device;
        ScalarType f = ScalarType.Float32;
        Tensor gradU = empty(batch, dInner, length, f, device), gradDelta = empty(batch, dInner, length, f, device);
        Tensor? gradZ = z is null ? null : empty(batch, dInner, length, f, device);
        Tensor gradA = empty(batch, dInner, dState, f, device);                                   // per batch row
        Tensor gradBBlocks = empty(batch, blocksPerBatch, dState, length, f, device);             // per block
        Tensor gradCBlocks = empty(batch, blocksPerBatch, dState, length, f, device);
        Tensor gradD = empty(batch, dInner, f, device), gradBias = empty(batch, dInner, f, device);
        Tensor states = checkpoints ?? empty(batch, dInner, chunks, dState, f, device);

        Tensor uf = Fp32(u), deltaf = Fp32(delta), Af = Fp32(A), Bf = Fp32(B), Cf = Fp32(C), gf = Fp32(gradOutput);
        Tensor? Df = D is null ? null : Fp32(D), zf = z is null ? null : Fp32(z), biasf = deltaBias is null ? null : Fp32(deltaBias);
        using (var views = new TorchInterop(host, Operation))
        {
            var arguments = new SelectiveScanGradientArguments
            {
                U = views.Float32(uf, "u", batch, dInner, length),
                Delta = views.Float32(deltaf, "delta", batch, dInner, length),
                A = views.Float32(Af, "A", dInner, dState),
                B = views.Float32(Bf, "B", batch, dState, length),
                C = views.Float32(Cf, "C", batch, dState, length),
                D = Df is null ? TorchInterop.Absent : views.Float32(Df, "D", dInner),
                Z = zf is null ? TorchInterop.Absent : views.Float32(zf, "z", batch, dInner, length),
                DeltaBias = biasf is null ? TorchInterop.Absent : views.Float32(biasf, "deltaBias", dInner),
                GradOutput = views.Float32(gf, "gradOutput", batch, dInner, length),
                Checkpoints = views.Float32(states, "checkpoints", batch, dInner, chunks, dState),
                GradU = views.Float32(gradU, "gradU", batch, dInner, length),
                GradDelta = views.Float32(gradDelta, "gradDelta", batch, dInner, length),
                GradZ = gradZ is null ? TorchInterop.Absent : views.Float32(gradZ, "gradZ", batch, dInner, length),
                GradA = views.Float32(gradA, "gradA", batch, dInner, dState),
                GradBBlocks = views.Float32(gradBBlocks, "gradBBlocks", batch, blocksPerBatch, dState, length),
                GradCBlocks = views.Float32(gradCBlocks, "gradCBlocks", batch, blocksPerBatch, dState, length),
                GradD = views.Float32(gradD, "gradD", batch, dInner),
                GradDeltaBias = views.Float32(gradBias, "gradDeltaBias", batch, dInner),
                Batch = (int)batch, DInner = (int)dInner, Length = (int)length, DState = (int)dState, Lanes = lanes,
                Threads = SelectiveScanBackwardKernel.Threads(lanes),
                Options = (Df is null ? 0 : ScanOptions.D) | (zf is null ? 0 : ScanOptions.Z)
                          | (biasf is null ? 0 : ScanOptions.DeltaBias) | (deltaSoftplus ? ScanOptions.DeltaSoftplus : 0)
                          | (checkpoints is null ? 0 : ScanOptions.Checkpoints),
            };
            long groups = batch * blocksPerBatch;
            if (groups > 0 && length > 0)
                host.Launch(accelerator => LaneKernel.On(accelerator)(
                    ((int)groups, arguments.Threads, SharedMemoryConfig.RequestDynamic<float>(SelectiveScanBackwardKernel.SharedFloats((int)dState, lanes))),
                    arguments));
        }

        var gradients = new SelectiveScanGradients(
            U: gradU.MoveToOuterDisposeScope(),
            Delta: gradDelta.MoveToOuterDisposeScope(),
            A: gradA.sum(dim: 0).MoveToOuterDisposeScope(),                                            // (d_inner, N)
            B: gradBBlocks.sum(dim: 1).MoveToOuterDisposeScope(),                                      // (B, N, L)
            C: gradCBlocks.sum(dim: 1).MoveToOuterDisposeScope(),
            D: D is null ? null : gradD.sum(dim: 0).MoveToOuterDisposeScope(),                         // (d_inner)
            Z: gradZ?.MoveToOuterDisposeScope(),
            DeltaBias: deltaBias is null ? null : gradBias.sum(dim: 0).MoveToOuterDisposeScope());
        return gradients;
    }

    private static SelectiveScanGradients RunInRegisters(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
                                                         Tensor? deltaBias, bool deltaSoftplus, Tensor gradOutput, Tensor? checkpoints)
    {
        long batch = u.shape[0], dInner = u.shape[1], length = u.shape[2], dState = A.shape[1];
        long chunks = FusedSelectiveScan.Chunks(length, dState);
        if (batch * dInner * length > int.MaxValue || batch * dInner * chunks * dState > int.MaxValue)
            throw new ArgumentException($"{Operation}: (B={batch}, d_inner={dInner}, L={length}) has more than 2^31 elements; split the batch");

        using var scope = NewDisposeScope();
        if (checkpoints is null)
        {
            (Tensor y, checkpoints) = FusedSelectiveScan.RunForTraining(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus);
            y.Dispose();
        }
        KernelHost host = KernelHost.For(u);
        Device device = u.device;
        ScalarType f = ScalarType.Float32;
        Tensor gradU = empty(batch, dInner, length, f, device), gradDelta = empty(batch, dInner, length, f, device);
        Tensor? gradZ = z is null ? null : empty(batch, dInner, length, f, device);
        Tensor gradA = empty(batch, dInner, dState, f, device);                                   // per batch row
        Tensor gradB = zeros(batch, dState, length, f, device), gradC = zeros(batch, dState, length, f, device);
        Tensor gradD = empty(batch, dInner, f, device), gradBias = empty(batch, dInner, f, device);

        Tensor uf = Fp32(u), deltaf = Fp32(delta), Af = Fp32(A), Bf = Fp32(B), Cf = Fp32(C), gf = Fp32(gradOutput);
        Tensor? Df = D is null ? null : Fp32(D), zf = z is null ? null : Fp32(z), biasf = deltaBias is null ? null : Fp32(deltaBias);
        using (var views = new TorchInterop(host, Operation))
        {
            var arguments = new RegisterScanGradientArguments
            {
                U = views.Float32(uf, "u", batch, dInner, length),
                Delta = views.Float32(deltaf, "delta", batch, dInner, length),
                A = views.Float32(Af, "A", dInner, dState),
                B = views.Float32(Bf, "B", batch, dState, length),
                C = views.Float32(Cf, "C", batch, dState, length),
                D = Df is null ? TorchInterop.Absent : views.Float32(Df, "D", dInner),
                Z = zf is null ? TorchInterop.Absent : views.Float32(zf, "z", batch, dInner, length),
                DeltaBias = biasf is null ? TorchInterop.Absent : views.Float32(biasf, "deltaBias", dInner),
                GradOutput = views.Float32(gf, "gradOutput", batch, dInner, length),
                Checkpoints = views.Float32(checkpoints, "checkpoints", batch, dInner, chunks, dState),
                GradU = views.Float32(gradU, "gradU", batch, dInner, length),
                GradDelta = views.Float32(gradDelta, "gradDelta", batch, dInner, length),
                GradZ = gradZ is null ? TorchInterop.Absent : views.Float32(gradZ, "gradZ", batch, dInner, length),
                GradA = views.Float32(gradA, "gradA", batch, dInner, dState),
                GradB = views.Float32(gradB, "gradB", batch, dState, length),
                GradC = views.Float32(gradC, "gradC", batch, dState, length),
                GradD = views.Float32(gradD, "gradD", batch, dInner),
                GradDeltaBias = views.Float32(gradBias, "gradDeltaBias", batch, dInner),
                Batch = (int)batch, DInner = (int)dInner, Length = (int)length, DState = (int)dState,
                Options = (Df is null ? 0 : ScanOptions.D) | (zf is null ? 0 : ScanOptions.Z)
                          | (biasf is null ? 0 : ScanOptions.DeltaBias) | (deltaSoftplus ? ScanOptions.DeltaSoftplus : 0),
            };
            long groups = batch * RegisterScanBackwardKernel.BlocksPerBatch((int)dInner);          // one batch row per block
            if (groups > 0 && length > 0)
                host.Launch(accelerator => RegisterKernel.On(accelerator)(
                    ((int)groups, RegisterScanBackwardKernel.Threads, SharedMemoryConfig.RequestDynamic<Float4>(RegisterScanBackwardKernel.SharedQuads)),
                    arguments));
        }

        return new SelectiveScanGradients(
            U: gradU.MoveToOuterDisposeScope(),
            Delta: gradDelta.MoveToOuterDisposeScope(),
            A: gradA.sum(dim: 0).MoveToOuterDisposeScope(),                                            // (d_inner, N)
            B: gradB.MoveToOuterDisposeScope(),                                                        // (B, N, L)
            C: gradC.MoveToOuterDisposeScope(),
            D: D is null ? null : gradD.sum(dim: 0).MoveToOuterDisposeScope(),                         // (d_inner)
            Z: gradZ?.MoveToOuterDisposeScope(),
            DeltaBias: deltaBias is null ? null : gradBias.sum(dim: 0).MoveToOuterDisposeScope());
    }
}
