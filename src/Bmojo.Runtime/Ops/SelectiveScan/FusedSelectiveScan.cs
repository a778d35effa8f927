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

/// <summary>
/// The selective scan as one fused ILGPU kernel, on CUDA tensors or (through ILGPU's CPU accelerator) CPU tensors,
/// with the arguments and results of <see cref="SelectiveScanReference"/>. The state stays in registers in fp32; the
/// kernel reads <c>u, delta, z, B, C</c> once and writes <c>y</c> once. Inputs are taken as fp32 and contiguous
/// (other dtypes or layouts cost one conversion copy each), except that for d_state &lt;= 16 bf16 <c>u, delta, z, B,
/// C</c> (all of them) are read as bf16 and <c>y</c> written in bf16, with no fp32 copies (strided ones are made
/// contiguous first); <c>y</c> comes back in <c>u</c>'s dtype.
/// This is the forward pass only: for training use <see cref="SelectiveScanFunction"/>.
/// </summary>
public static class FusedSelectiveScan
{
    private const string Operation = "fused selective scan";

    /// <summary>The largest d_state the kernels hold (up to 16 in registers, two lanes a channel; up to 32 one lane a
    /// state).</summary>
    public const int MaxDState = SelectiveScanKernel.MaxLanes;

    private static readonly StreamKernel<SelectiveScanArguments> LaneKernel = new(SelectiveScanKernel.Forward);
    private static readonly StreamKernel<SelectiveScanArguments> RegisterKernel = new(RegisterScanKernel.Forward<Fp32Elements>);
    private static readonly StreamKernel<SelectiveScanArguments> RegisterKernelBf16 = new(RegisterScanKernel.Forward<Bf16Elements>);

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
        => RunWithFinalState(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState, segmentSteps: 0);

    /// <param name="segmentSteps">Steps per segment along L for the register kernels (see <see cref="SegmentSteps"/>);
    /// 0 chooses.</param>
    internal static (Tensor Output, Tensor FinalState) RunWithFinalState(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? deltaBias, bool deltaSoftplus, Tensor? initialState, int segmentSteps)
    {
        (Tensor output, Tensor finalState, _) = Launch(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState, checkpoints: false, segmentSteps);
        return (output, finalState);
    }

    /// <summary><c>y</c>, and the state before every chunk of the kernel (B, d_inner, chunks, N) for
    /// <see cref="FusedSelectiveScanBackward"/>, which then skips recomputing them.</summary>
    internal static (Tensor Output, Tensor Checkpoints) RunForTraining(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? deltaBias, bool deltaSoftplus,
        int segmentSteps = 0)
    {
        (Tensor output, Tensor finalState, Tensor? checkpoints) = Launch(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, null, checkpoints: true, segmentSteps);
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

    /// <summary>The shortest segment the automatic choice makes: each segment's pass 2 first combines the states of
    /// the segments before it (or after it, backward), so very short segments cost more than they give.</summary>
    internal const int MinSegmentSteps = 128;

    /// <summary>
    /// Steps per segment along L for the register kernels (d_state &lt;= 16). With more than one segment a scan is
    /// two launches: pass 1 runs every segment from a zero state and keeps its end state and its sum of dt, pass 2
    /// runs every segment again from the state the earlier segments combine to (<c>h = 2^(a E_j) h + h_j</c>) and
    /// writes y, the checkpoints and the final state. The backward does the same for the adjoint, from the right.
    /// Pass 1 adds work (measured on an H200: the forward 1.57x, the backward 1.28x the one-segment kernels'), so
    /// segments pay only where one block per (batch row, 64 channels) leaves multiprocessors idle: at B 4 ·
    /// d_inner 2048 that is 128 blocks where an H200 holds 2 per SM on 132 SMs.
    /// <paramref name="requested"/> &gt; 0 takes that length (rounded up to the forward's 32-step tile); 0 chooses: on
    /// the CPU one segment, on CUDA as many segments (of at least <see cref="MinSegmentSteps"/> steps) as fill one
    /// wave of <paramref name="residentPerSm"/> blocks on every SM.
    /// </summary>
    internal static int SegmentSteps(KernelHost host, long batch, long dInner, long length, int requested, int residentPerSm)
    {
        const int tile = RegisterScanKernel.TileSteps;
        if (requested < 0) throw new ArgumentOutOfRangeException(nameof(requested), requested, $"{Operation}: segment steps must be 0 (choose) or positive");
        long steps;
        if (requested > 0) steps = (requested + tile - 1) / tile * tile;
        else if (!host.IsCuda) steps = length;
        else steps = WaveSegmentSteps(batch * RegisterScanKernel.BlocksPerBatch((int)dInner),
                                      (long)Math.Max(residentPerSm, 1) * host.Accelerator.NumMultiprocessors, length);
        return (int)Math.Clamp(steps, 1, Math.Max(length, 1));
    }

    /// <summary>Steps per segment when <paramref name="blocks"/> blocks a segment and a wave of
    /// <paramref name="wave"/> resident blocks: as many segments as fit in the wave (whole multiples of the blocks),
    /// none shorter than <see cref="MinSegmentSteps"/>, the length a multiple of the 32-step tile.</summary>
    internal static long WaveSegmentSteps(long blocks, long wave, long length)
    {
        const int tile = RegisterScanKernel.TileSteps;
        long segments = Math.Clamp(wave / Math.Max(blocks, 1), 1, Math.Max(length / MinSegmentSteps, 1));
        return segments == 1 ? length : ((length + segments - 1) / segments + tile - 1) / tile * tile;
    }

    /// <summary><see cref="SegmentSteps(KernelHost, long, long, long, int, int)"/> for the forward register kernel
    /// (its fp32 or, with <paramref name="bf16"/>, its bf16 instance).</summary>
    internal static int SegmentSteps(KernelHost host, long batch, long dInner, long length, int requested, bool bf16 = false) =>
        SegmentSteps(host, batch, dInner, length, requested, host.IsCuda && requested == 0 ? ResidentBlocks(host, bf16) : 1);

    private static int ResidentBlocks(KernelHost host, bool bf16) =>
        Register(bf16).ResidentGroups(host.Accelerator, RegisterScanKernel.Threads, RegisterScanKernel.SharedQuads * 16);

    private static StreamKernel<SelectiveScanArguments> Register(bool bf16) => bf16 ? RegisterKernelBf16 : RegisterKernel;

    private static int Lanes(long dState) => (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(dState, 1));

    private static (Tensor Output, Tensor FinalState, Tensor? Checkpoints) Launch(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? deltaBias, bool deltaSoftplus, Tensor? initialState, bool checkpoints, int segmentSteps)
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
        // The register kernels read bf16 inputs as they are and write y in bf16; otherwise the inputs go in as fp32.
        bool bf16 = InRegisters(dState) && ScanViews.AllBf16(u, delta, z, B, C);
        Tensor output = empty(batch, dInner, length, bf16 ? ScalarType.BFloat16 : ScalarType.Float32, u.device);  // (B, d_inner, L)
        Tensor finalState = empty(batch, dInner, dState, ScalarType.Float32, u.device);   // (B, d_inner, N)
        long chunks = Chunks(length, dState);
        Tensor? states = checkpoints ? empty(batch, dInner, chunks, dState, ScalarType.Float32, u.device) : null;
        Tensor uf = ScanViews.Prepare(u, bf16), deltaf = ScanViews.Prepare(delta, bf16), Af = Fp32(A);
        Tensor Bf = ScanViews.Prepare(B, bf16), Cf = ScanViews.Prepare(C, bf16);
        Tensor? Df = D is null ? null : Fp32(D), zf = z is null ? null : ScanViews.Prepare(z, bf16);
        Tensor? biasf = deltaBias is null ? null : Fp32(deltaBias), h0 = initialState is null ? null : Fp32(initialState);

        using (var views = new TorchInterop(host, Operation))
        {
            int lanes = Lanes(dState);
            var (uView, u16) = ScanViews.Of(views, uf, bf16, "u", batch, dInner, length);
            var (deltaView, delta16) = ScanViews.Of(views, deltaf, bf16, "delta", batch, dInner, length);
            var (bView, b16) = ScanViews.Of(views, Bf, bf16, "B", batch, dState, length);
            var (cView, c16) = ScanViews.Of(views, Cf, bf16, "C", batch, dState, length);
            var (zView, z16) = ScanViews.Of(views, zf, bf16, "z", batch, dInner, length);
            var (outputView, output16) = ScanViews.Of(views, output, bf16, "output", batch, dInner, length);
            var arguments = new SelectiveScanArguments
            {
                U = uView, Delta = deltaView, B = bView, C = cView, Z = zView, Output = outputView,
                U16 = u16, Delta16 = delta16, B16 = b16, C16 = c16, Z16 = z16, Output16 = output16,
                A = views.Float32(Af, "A", dInner, dState),
                D = Df is null ? TorchInterop.Absent : views.Float32(Df, "D", dInner),
                DeltaBias = biasf is null ? TorchInterop.Absent : views.Float32(biasf, "deltaBias", dInner),
                InitialState = h0 is null ? TorchInterop.Absent : views.Float32(h0, "initialState", batch, dInner, dState),
                FinalState = views.Float32(finalState, "finalState", batch, dInner, dState),
                Checkpoints = states is null ? TorchInterop.Absent : views.Float32(states, "checkpoints", batch, dInner, chunks, dState),
                Batch = (int)batch, DInner = (int)dInner, Length = (int)length, DState = (int)dState, Lanes = lanes,
                Options = (Df is null ? 0 : ScanOptions.D) | (zf is null ? 0 : ScanOptions.Z)
                          | (biasf is null ? 0 : ScanOptions.DeltaBias) | (h0 is null ? 0 : ScanOptions.InitialState)
                          | (deltaSoftplus ? ScanOptions.DeltaSoftplus : 0) | (states is null ? 0 : ScanOptions.Checkpoints)
                          | (bf16 ? ScanOptions.Bf16 : 0),
            };
            if (batch > 0 && dInner > 0 && length > 0)
            {
                if (InRegisters(dState))
                {
                    LaunchInRegisters(host, views, u.device, arguments, segmentSteps);
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

        Tensor y = output.to_type(u.dtype);                                                 // itself in bf16 mode
        return (y.MoveToOuterDisposeScope(), finalState.MoveToOuterDisposeScope(), states?.MoveToOuterDisposeScope());
    }

    /// <summary>The register kernel over (batch row, segment, 64 channels) blocks: one launch, or with segments pass 1
    /// and pass 2 (<see cref="SegmentSteps"/>) one after the other on the accelerator's stream.</summary>
    private static void LaunchInRegisters(KernelHost host, TorchInterop views, Device device, SelectiveScanArguments arguments, int requested)
    {
        bool bf16 = arguments.Has(ScanOptions.Bf16);
        StreamKernel<SelectiveScanArguments> kernel = Register(bf16);
        int steps = SegmentSteps(host, arguments.Batch, arguments.DInner, arguments.Length, requested, bf16);
        int segments = (arguments.Length + steps - 1) / steps;
        arguments.SegmentSteps = steps;
        arguments.Segments = segments;
        long groups = (long)arguments.Batch * segments * RegisterScanKernel.BlocksPerBatch(arguments.DInner);
        var config = ((int)groups, RegisterScanKernel.Threads, SharedMemoryConfig.RequestDynamic<Float4>(RegisterScanKernel.SharedQuads));
        if (segments == 1)
        {
            host.Launch(accelerator => kernel.On(accelerator)(config, arguments));
            return;
        }
        // In the caller's dispose scope: freed after the launch and the views.
        Tensor states = empty(arguments.Batch, segments, arguments.DInner, arguments.DState, ScalarType.Float32, device);
        Tensor sums = empty(arguments.Batch, segments, arguments.DInner, ScalarType.Float32, device);
        SelectiveScanArguments local = arguments, main = arguments;
        local.SegmentStates = main.SegmentStates = views.Float32(states, "segmentStates", arguments.Batch, segments, arguments.DInner, arguments.DState);
        local.SegmentSums = main.SegmentSums = views.Float32(sums, "segmentSums", arguments.Batch, segments, arguments.DInner);
        local.Options |= ScanOptions.SegmentLocal;
        main.Options |= ScanOptions.Segmented;
        host.Launch(accelerator =>
        {
            kernel.On(accelerator)(config, local);
            kernel.On(accelerator)(config, main);
        });
    }
}
