using static Bmojo.Runtime.Gpu.KernelTensors;
using System.Numerics;
using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Mixers;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>The gradients of the selective scan (no initial state) with respect to every tensor input.</summary>
public sealed record SelectiveScanGradients(Tensor U, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? Z, Tensor? DeltaBias);

/// <summary>
/// The selective scan's backward pass as one fused ILGPU kernel: for d_state &lt;= 16 the register-state kernel
/// (<see cref="RegisterScanBackwardKernel"/>: dB, dC summed by atomics in the kernel), above it the lane-per-state
/// one (<see cref="SelectiveScanBackwardKernel"/>: dB, dC as per-block partials); then torch sums of the per-row
/// partials (dA, dD, d delta_bias; and the lane kernel's dB, dC). Gradients come back fp32, on the inputs' device,
/// except that when the register kernel reads bf16 (u, delta, z, B, C and gradOutput all bf16, no fp32 copies) du,
/// d delta and dz come back bf16.
/// Arguments as <see cref="FusedSelectiveScan.Run"/>, plus <c>gradOutput</c> (B, d_inner, L).
/// </summary>
public static class FusedSelectiveScanBackward
{
    private const string Operation = "fused selective scan backward";

    private static readonly StreamKernel<SelectiveScanGradientArguments> LaneKernel = new(SelectiveScanBackwardKernel.Backward);
    private static readonly StreamKernel<RegisterScanGradientArguments> RegisterKernel = new(RegisterScanBackwardKernel.Backward<Fp32Elements>);
    private static readonly StreamKernel<RegisterScanGradientArguments> RegisterKernelBf16 = new(RegisterScanBackwardKernel.Backward<Bf16Elements>);

    public static SelectiveScanGradients Run(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
                                             Tensor? deltaBias, bool deltaSoftplus, Tensor gradOutput)
        => Run(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, gradOutput, checkpoints: null);

    /// <param name="checkpoints">The forward kernel's states before each chunk (from the autograd function's forward
    /// pass); when null, they are recomputed: for d_state &lt;= 16 by the forward kernel first, above it by a forward
    /// sweep inside the backward kernel.</param>
    /// <param name="segmentSteps">Steps per segment along L for the register kernels
    /// (<see cref="FusedSelectiveScan.SegmentSteps"/>); 0 chooses.</param>
    internal static SelectiveScanGradients Run(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
                                               Tensor? deltaBias, bool deltaSoftplus, Tensor gradOutput, Tensor? checkpoints,
                                               int segmentSteps = 0)
    {
        ScanShapes.Check(u, delta, A, B, C, D, z, deltaBias, initialState: null);
        long batch = u.shape[0], dInner = u.shape[1], length = u.shape[2], dState = A.shape[1];
        if (!gradOutput.shape.SequenceEqual(u.shape))
            throw new ArgumentException($"{Operation}: gradOutput must be ({batch}, {dInner}, {length}) like u, got ({string.Join(", ", gradOutput.shape)})");
        if (dState > FusedSelectiveScan.MaxDState)
            throw new ArgumentException($"{Operation}: d_state = {dState} is over the kernel's {FusedSelectiveScan.MaxDState}; use SelectiveScanReference");
        if (FusedSelectiveScan.InRegisters(dState))
            return RunInRegisters(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, gradOutput, checkpoints, segmentSteps);
        int lanes = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(dState, 1));
        long blocksPerBatch = SelectiveScanBackwardKernel.BlocksPerBatch((int)dInner, lanes);
        long chunks = SelectiveScanBackwardKernel.Chunks((int)length, lanes);
        if (batch * dInner * length > int.MaxValue || batch * blocksPerBatch * dState * length > int.MaxValue ||
            batch * dInner * chunks * dState > int.MaxValue)
            throw new ArgumentException($"{Operation}: (B={batch}, d_inner={dInner}, L={length}) needs more than 2^31 elements of scratch; split the batch");

        using var scope = NewDisposeScope();
        KernelHost host = KernelHost.For(u);
        var t = new Buffers(u, delta, A, B, C, D, z, deltaBias, gradOutput, segments: 1, bf16: false);
        ScalarType f = ScalarType.Float32;
        Tensor gradBBlocks = empty(batch, blocksPerBatch, dState, length, f, u.device);           // per block
        Tensor gradCBlocks = empty(batch, blocksPerBatch, dState, length, f, u.device);
        Tensor states = checkpoints ?? empty(batch, dInner, chunks, dState, f, u.device);
        using (var views = new TorchInterop(host, Operation))
        {
            Views v = t.Views(views);
            var arguments = new SelectiveScanGradientArguments
            {
                U = v.U, Delta = v.Delta, A = v.A, B = v.B, C = v.C, D = v.D, Z = v.Z, DeltaBias = v.DeltaBias,
                GradOutput = v.GradOutput, GradU = v.GradU, GradDelta = v.GradDelta, GradZ = v.GradZ, GradA = v.GradA,
                GradD = v.GradD, GradDeltaBias = v.GradDeltaBias,
                Checkpoints = views.Float32(states, "checkpoints", batch, dInner, chunks, dState),
                GradBBlocks = views.Float32(gradBBlocks, "gradBBlocks", batch, blocksPerBatch, dState, length),
                GradCBlocks = views.Float32(gradCBlocks, "gradCBlocks", batch, blocksPerBatch, dState, length),
                Batch = (int)batch, DInner = (int)dInner, Length = (int)length, DState = (int)dState, Lanes = lanes,
                Threads = SelectiveScanBackwardKernel.Threads(lanes),
                Options = t.Options(deltaSoftplus) | (checkpoints is null ? 0 : ScanOptions.Checkpoints),
            };
            long groups = batch * blocksPerBatch;
            if (groups > 0 && length > 0)
                host.Launch(accelerator => LaneKernel.On(accelerator)(
                    ((int)groups, arguments.Threads, SharedMemoryConfig.RequestDynamic<float>(SelectiveScanBackwardKernel.SharedFloats((int)dState, lanes))),
                    arguments));
        }
        return t.Result(gradBBlocks.sum(dim: 1), gradCBlocks.sum(dim: 1));                       // (B, N, L)
    }

    private static SelectiveScanGradients RunInRegisters(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
                                                         Tensor? deltaBias, bool deltaSoftplus, Tensor gradOutput, Tensor? checkpoints,
                                                         int segmentSteps)
    {
        long batch = u.shape[0], dInner = u.shape[1], length = u.shape[2], dState = A.shape[1];
        long chunks = FusedSelectiveScan.Chunks(length, dState);
        if (batch * dInner * length > int.MaxValue || batch * dInner * chunks * dState > int.MaxValue)
            throw new ArgumentException($"{Operation}: (B={batch}, d_inner={dInner}, L={length}) has more than 2^31 elements; split the batch");

        using var scope = NewDisposeScope();
        KernelHost host = KernelHost.For(u);
        // bf16 tensors go in as they are, and du, d delta, dz come out in bf16 (dB, dC, dA, dD, d delta_bias: fp32).
        bool bf16 = ScanViews.AllBf16(u, delta, z, B, C, gradOutput);
        StreamKernel<RegisterScanGradientArguments> kernel = bf16 ? RegisterKernelBf16 : RegisterKernel;
        int steps = SegmentSteps(host, batch, dInner, length, segmentSteps, bf16);
        int segments = (int)((length + steps - 1) / Math.Max(steps, 1));
        if (checkpoints is null)
        {
            (Tensor y, checkpoints) = FusedSelectiveScan.RunForTraining(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, steps);
            y.Dispose();
        }
        var t = new Buffers(u, delta, A, B, C, D, z, deltaBias, gradOutput, Math.Max(segments, 1), bf16);
        Tensor gradB = zeros(batch, dState, length, ScalarType.Float32, u.device);               // summed by atomics
        Tensor gradC = zeros(batch, dState, length, ScalarType.Float32, u.device);
        using (var views = new TorchInterop(host, Operation))
        {
            Views v = t.Views(views);
            var arguments = new RegisterScanGradientArguments
            {
                U = v.U, Delta = v.Delta, A = v.A, B = v.B, C = v.C, D = v.D, Z = v.Z, DeltaBias = v.DeltaBias,
                GradOutput = v.GradOutput, GradU = v.GradU, GradDelta = v.GradDelta, GradZ = v.GradZ, GradA = v.GradA,
                GradD = v.GradD, GradDeltaBias = v.GradDeltaBias,
                U16 = v.Raw.U, Delta16 = v.Raw.Delta, Z16 = v.Raw.Z, B16 = v.Raw.B, C16 = v.Raw.C,
                GradOutput16 = v.Raw.GradOutput, GradU16 = v.Raw.GradU, GradDelta16 = v.Raw.GradDelta, GradZ16 = v.Raw.GradZ,
                Checkpoints = views.Float32(checkpoints, "checkpoints", batch, dInner, chunks, dState),
                GradB = views.Float32(gradB, "gradB", batch, dState, length),
                GradC = views.Float32(gradC, "gradC", batch, dState, length),
                Batch = (int)batch, DInner = (int)dInner, Length = (int)length, DState = (int)dState,
                SegmentSteps = steps, Segments = segments,
                Options = t.Options(deltaSoftplus),
            };
            // One block per (batch row, segment, 64 channels); with segments, pass 1 (each segment's local adjoint)
            // and pass 2 one after the other on the accelerator's stream.
            long groups = batch * segments * RegisterScanBackwardKernel.BlocksPerBatch((int)dInner);
            var config = ((int)groups, RegisterScanBackwardKernel.Threads, SharedMemoryConfig.RequestDynamic<Float4>(RegisterScanBackwardKernel.SharedQuads));
            if (groups > 0 && length > 0 && segments == 1)
                host.Launch(accelerator => kernel.On(accelerator)(config, arguments));
            else if (groups > 0 && length > 0)
            {
                Tensor carries = empty(batch, segments, dInner, dState, ScalarType.Float32, u.device);
                Tensor sums = empty(batch, segments, dInner, ScalarType.Float32, u.device);
                RegisterScanGradientArguments local = arguments, main = arguments;
                local.SegmentCarries = main.SegmentCarries = views.Float32(carries, "segmentCarries", batch, segments, dInner, dState);
                local.SegmentSums = main.SegmentSums = views.Float32(sums, "segmentSums", batch, segments, dInner);
                local.Options |= ScanOptions.SegmentLocal;
                main.Options |= ScanOptions.Segmented;
                host.Launch(accelerator =>
                {
                    kernel.On(accelerator)(config, local);
                    kernel.On(accelerator)(config, main);
                });
            }
        }
        return t.Result(gradB, gradC);
    }

    /// <summary><see cref="FusedSelectiveScan.SegmentSteps(KernelHost, long, long, long, int, int)"/> for the backward
    /// register kernel (its own residency: its registers and shared memory differ from the forward's), its fp32 or,
    /// with <paramref name="bf16"/>, its bf16 instance.</summary>
    internal static int SegmentSteps(KernelHost host, long batch, long dInner, long length, int requested, bool bf16 = false) =>
        FusedSelectiveScan.SegmentSteps(host, batch, dInner, length, requested, host.IsCuda && requested == 0
            ? (bf16 ? RegisterKernelBf16 : RegisterKernel).ResidentGroups(host.Accelerator, RegisterScanBackwardKernel.Threads, RegisterScanBackwardKernel.SharedQuads * 16)
            : 1);

    /// <summary>What both kernels read and the per-channel gradients both write: the inputs as contiguous fp32 (or,
    /// for the register kernel, the per-token ones as contiguous bf16) and the buffers of du, d delta, dz, dA, dD,
    /// d delta_bias (the last three per batch row, summed in <see cref="Result"/>).</summary>
    private sealed class Buffers
    {
        private readonly long batch, dInner, length, dState, rows;
        private readonly bool bf16;
        private readonly Tensor u, delta, a, b, c, gradOutput, gradU, gradDelta, gradA, gradD, gradBias;
        private readonly Tensor? d, z, bias, gradZ;

        /// <param name="segments">Segments along L: dA, dD and d delta_bias are kept per (batch row, segment).</param>
        /// <param name="bf16">u, delta, z, B, C and gradOutput read as bf16, du, d delta and dz written as bf16
        /// (<see cref="ScanOptions.Bf16"/>, the register kernel only).</param>
        public Buffers(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? deltaBias, Tensor gradOutput,
                       int segments, bool bf16)
        {
            (batch, dInner, length, dState, this.bf16) = (u.shape[0], u.shape[1], u.shape[2], A.shape[1], bf16);
            (this.u, this.delta, a) = (ScanViews.Prepare(u, bf16), ScanViews.Prepare(delta, bf16), Fp32(A));
            (b, c, this.gradOutput) = (ScanViews.Prepare(B, bf16), ScanViews.Prepare(C, bf16), ScanViews.Prepare(gradOutput, bf16));
            (d, this.z, bias) = (D is null ? null : Fp32(D), z is null ? null : ScanViews.Prepare(z, bf16), deltaBias is null ? null : Fp32(deltaBias));
            ScalarType f = ScalarType.Float32, perToken = bf16 ? ScalarType.BFloat16 : f;
            Device device = u.device;
            gradU = empty(batch, dInner, length, perToken, device);
            gradDelta = empty(batch, dInner, length, perToken, device);
            gradZ = z is null ? null : empty(batch, dInner, length, perToken, device);
            rows = batch * segments;
            gradA = empty(rows, dInner, dState, f, device);                                       // per batch row, segment
            gradD = empty(rows, dInner, f, device);
            gradBias = empty(rows, dInner, f, device);
        }

        public ScanOptions Options(bool deltaSoftplus) =>
            (d is null ? 0 : ScanOptions.D) | (z is null ? 0 : ScanOptions.Z) | (bias is null ? 0 : ScanOptions.DeltaBias)
            | (deltaSoftplus ? ScanOptions.DeltaSoftplus : 0) | (bf16 ? ScanOptions.Bf16 : 0);

        public Views Views(TorchInterop views)
        {
            var (uView, u16) = ScanViews.Of(views, u, bf16, "u", batch, dInner, length);
            var (deltaView, delta16) = ScanViews.Of(views, delta, bf16, "delta", batch, dInner, length);
            var (bView, b16) = ScanViews.Of(views, b, bf16, "B", batch, dState, length);
            var (cView, c16) = ScanViews.Of(views, c, bf16, "C", batch, dState, length);
            var (zView, z16) = ScanViews.Of(views, z, bf16, "z", batch, dInner, length);
            var (gradOutputView, gradOutput16) = ScanViews.Of(views, gradOutput, bf16, "gradOutput", batch, dInner, length);
            var (gradUView, gradU16) = ScanViews.Of(views, gradU, bf16, "gradU", batch, dInner, length);
            var (gradDeltaView, gradDelta16) = ScanViews.Of(views, gradDelta, bf16, "gradDelta", batch, dInner, length);
            var (gradZView, gradZ16) = ScanViews.Of(views, gradZ, bf16, "gradZ", batch, dInner, length);
            return new(
                U: uView, Delta: deltaView, A: views.Float32(a, "A", dInner, dState), B: bView, C: cView,
                D: d is null ? TorchInterop.Absent : views.Float32(d, "D", dInner),
                Z: zView,
                DeltaBias: bias is null ? TorchInterop.Absent : views.Float32(bias, "deltaBias", dInner),
                GradOutput: gradOutputView, GradU: gradUView, GradDelta: gradDeltaView, GradZ: gradZView,
                GradA: views.Float32(gradA, "gradA", rows, dInner, dState),
                GradD: views.Float32(gradD, "gradD", rows, dInner),
                GradDeltaBias: views.Float32(gradBias, "gradDeltaBias", rows, dInner),
                Raw: new RawViews(u16, delta16, z16, b16, c16, gradOutput16, gradU16, gradDelta16, gradZ16));
        }

        /// <summary>The gradients, moved out of the caller's dispose scope, with <paramref name="gradB"/> and
        /// <paramref name="gradC"/> (B, N, L) as the kernel left them.</summary>
        public SelectiveScanGradients Result(Tensor gradB, Tensor gradC) => new(
            U: gradU.MoveToOuterDisposeScope(),
            Delta: gradDelta.MoveToOuterDisposeScope(),
            A: gradA.sum(dim: 0).MoveToOuterDisposeScope(),                                            // (d_inner, N)
            B: gradB.MoveToOuterDisposeScope(),
            C: gradC.MoveToOuterDisposeScope(),
            D: d is null ? null : gradD.sum(dim: 0).MoveToOuterDisposeScope(),                         // (d_inner)
            Z: gradZ?.MoveToOuterDisposeScope(),
            DeltaBias: bias is null ? null : gradBias.sum(dim: 0).MoveToOuterDisposeScope());
    }

    private readonly record struct Views(
        ArrayView<float> U, ArrayView<float> Delta, ArrayView<float> A, ArrayView<float> B, ArrayView<float> C,
        ArrayView<float> D, ArrayView<float> Z, ArrayView<float> DeltaBias, ArrayView<float> GradOutput,
        ArrayView<float> GradU, ArrayView<float> GradDelta, ArrayView<float> GradZ, ArrayView<float> GradA,
        ArrayView<float> GradD, ArrayView<float> GradDeltaBias, RawViews Raw);

    /// <summary>The register kernel's bf16 views (<see cref="ScanOptions.Bf16"/>); empty in fp32 mode.</summary>
    private readonly record struct RawViews(
        ArrayView<ushort> U, ArrayView<ushort> Delta, ArrayView<ushort> Z, ArrayView<ushort> B, ArrayView<ushort> C,
        ArrayView<ushort> GradOutput, ArrayView<ushort> GradU, ArrayView<ushort> GradDelta, ArrayView<ushort> GradZ);
}
