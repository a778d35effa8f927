using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.SelectiveScan;
using Bmojo.Runtime.Tests.Gpu;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Tests.Ops.SelectiveScan;

/// <summary>
/// The register-state scan kernels (d_state &lt;= 16: <see cref="RegisterScanKernel"/>,
/// <see cref="RegisterScanBackwardKernel"/>) through <see cref="FusedSelectiveScan"/> and
/// <see cref="FusedSelectiveScanBackward"/>, against the float64 reference and its autograd, on ILGPU's CPU accelerator
/// (always) and on CUDA (when present). Shapes probe the tiles' edges: L = 1, L odd and not a multiple of the forward's
/// 32-step or the backward's 8-step tile, d_inner not a multiple of the 64 channels of a block, N = 1 and N &lt; 16
/// (padded states), each optional input on and off.
/// </summary>
public sealed class RegisterScanTests
{
    // As FusedSelectiveScanTests and FusedSelectiveScanBackwardTests: fp32 against float64 over a few hundred steps.
    private const double Atol = 2e-5, Rtol = 2e-4, GradAtol = 5e-5, GradRtol = 5e-4;

    /// <summary>Which optional inputs a case passes.</summary>
    [Flags]
    public enum Options
    {
        None = 0,
        D = 1,
        Z = 2,
        DeltaBias = 4,
        Softplus = 8,
        InitialState = 16,                   // forward only: the backward takes no initial state
        All = D | Z | DeltaBias | Softplus | InitialState,
    }

    public static TheoryData<long, long, long, long, Options> Shapes => new()
    {
        // batch, d_inner, L, d_state, options
        { 1, 1, 1, 1, Options.All },                                   // L = 1, one state
        { 2, 3, 37, 16, Options.All },                                 // odd L, a part tile of each kernel
        { 1, 70, 45, 5, Options.All },                                 // a second block of 6 channels; N = 5 padded
        { 2, 65, 64, 16, Options.None },                               // two whole forward tiles; 1 channel in block 2
        { 1, 4, 100, 1, Options.D | Options.Z },                       // N = 1
        { 3, 2, 8, 16, Options.DeltaBias | Options.Softplus },         // one whole backward tile
        { 1, 9, 33, 12, Options.Z | Options.InitialState },
        { 2, 5, 17, 16, Options.D | Options.DeltaBias },               // bias without softplus
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardMatchesTheReferenceOnCpu(long batch, long dInner, long length, long dState, Options options) =>
        CheckForward(new Case(batch, dInner, length, dState, options), CPU);

    [Fact]
    public void ForwardMatchesTheReferenceAtRandomShapesOnCpu()
    {
        foreach (Case c in Case.Random(seed: 5, count: 6, maxBatch: 3, maxDInner: 150, maxLength: 90)) CheckForward(c, CPU);
    }

    [CudaFact]
    public void ForwardMatchesTheReferenceOnCuda()
    {
        foreach (object[] row in Shapes) CheckForward(Case.Of(row), CUDA);
        foreach (Case c in Case.Random(seed: 5, count: 20, maxBatch: 4, maxDInner: 300, maxLength: 500)) CheckForward(c, CUDA);
        CheckForward(new Case(2, 200, 1500, 16, Options.All), CUDA);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesReferenceAutogradOnCpu(long batch, long dInner, long length, long dState, Options options) =>
        CheckBackward(new Case(batch, dInner, length, dState, options), CPU);

    [Fact]
    public void BackwardMatchesReferenceAutogradAtRandomShapesOnCpu()
    {
        // The CPU accelerator syncs its simulated warp at every shuffle (144 per 8-step tile): small shapes only.
        foreach (Case c in Case.Random(seed: 6, count: 4, maxBatch: 2, maxDInner: 100, maxLength: 40)) CheckBackward(c, CPU);
    }

    [CudaFact]
    public void BackwardMatchesReferenceAutogradOnCuda()
    {
        foreach (object[] row in Shapes) CheckBackward(Case.Of(row), CUDA);
        foreach (Case c in Case.Random(seed: 6, count: 20, maxBatch: 4, maxDInner: 300, maxLength: 500)) CheckBackward(c, CUDA);
        CheckBackward(new Case(2, 200, 600, 16, Options.All), CUDA);
    }

    /// <summary>Segments along L (pass 1: each segment's local state or adjoint and its sum of dt; pass 2: each segment
    /// from the combination of the others'): 2 to 5 segments of 32 or 64 steps, the last one short, with and without
    /// each option, against the float64 reference.</summary>
    public static TheoryData<long, long, long, long, Options, int> SegmentedShapes => new()
    {
        // batch, d_inner, L, d_state, options, steps per segment
        { 2, 3, 70, 16, Options.All, 32 },                             // 3 segments, the last of 6 steps
        { 1, 70, 64, 5, Options.All, 32 },                             // 2 whole segments, a second block of channels
        { 3, 2, 160, 16, Options.DeltaBias | Options.Softplus, 32 },   // 5 segments
        { 1, 9, 129, 12, Options.Z | Options.InitialState, 64 },       // 3 segments, the last of 1 step
        { 2, 5, 100, 1, Options.None, 64 },                            // N = 1, no options
    };

    [Theory]
    [MemberData(nameof(SegmentedShapes))]
    public void SegmentedForwardMatchesTheReferenceOnCpu(long batch, long dInner, long length, long dState, Options options, int steps) =>
        CheckForward(new Case(batch, dInner, length, dState, options), CPU, steps);

    [Theory]
    [MemberData(nameof(SegmentedShapes))]
    public void SegmentedBackwardMatchesReferenceAutogradOnCpu(long batch, long dInner, long length, long dState, Options options, int steps) =>
        CheckBackward(new Case(batch, dInner, length, dState, options), CPU, steps);

    [Fact]
    public void SegmentedRunsMatchOneSegmentsOnCpu()
    {
        // The same kernels with and without segments: equal up to the order of rounding (and dB, dC's atomics).
        var c = new Case(2, 67, 150, 16, Options.All & ~Options.InitialState);
        Arguments s = Arguments.For(c, CPU);
        Tensor gradOutput = randn(c.Batch, c.DInner, c.Length);
        (Tensor whole, Tensor wholeStates) = FusedSelectiveScan.RunForTraining(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, true, segmentSteps: 150);
        (Tensor cut, Tensor cutStates) = FusedSelectiveScan.RunForTraining(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, true, segmentSteps: 32);
        TensorAssert.Close(whole, cut, 1e-5, 1e-4, "y");
        TensorAssert.Close(wholeStates, cutStates, 1e-5, 1e-4, "checkpoints");
        SelectiveScanGradients one = FusedSelectiveScanBackward.Run(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, true, gradOutput, wholeStates, segmentSteps: 150);
        SelectiveScanGradients five = FusedSelectiveScanBackward.Run(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, true, gradOutput, wholeStates, segmentSteps: 32);
        Tensor[] expected = [one.U, one.Delta, one.A, one.B, one.C, one.D!, one.Z!, one.DeltaBias!];
        Tensor[] actual = [five.U, five.Delta, five.A, five.B, five.C, five.D!, five.Z!, five.DeltaBias!];
        for (int i = 0; i < expected.Length; i++) TensorAssert.Close(expected[i], actual[i], 1e-5, 1e-4, $"gradient {i}");
    }

    [Fact]
    public void SegmentStepsRoundToTheTileAndChooseOneSegmentOnCpu()
    {
        var host = Bmojo.Runtime.Gpu.KernelHost.For(CPU);
        Assert.Equal(64, FusedSelectiveScan.SegmentSteps(host, 4, 2048, 2048, requested: 33));    // up to the 32-step tile
        Assert.Equal(2048, FusedSelectiveScan.SegmentSteps(host, 4, 2048, 2048, requested: 0));   // the CPU: one segment
        Assert.Equal(40, FusedSelectiveScan.SegmentSteps(host, 1, 8, 40, requested: 64));         // never past L
        Assert.Throws<ArgumentOutOfRangeException>(() => FusedSelectiveScan.SegmentSteps(host, 1, 8, 40, requested: -1));
    }

    [Fact]
    public void SegmentsFillOneWaveOfResidentBlocks()
    {
        // An H200's 132 SMs at 2 resident blocks: a wave of 264.
        Assert.Equal(2048, FusedSelectiveScan.WaveSegmentSteps(blocks: 256, wave: 264, length: 2048));   // B 8: one segment
        Assert.Equal(1024, FusedSelectiveScan.WaveSegmentSteps(blocks: 128, wave: 264, length: 2048));   // B 4: two
        Assert.Equal(2048, FusedSelectiveScan.WaveSegmentSteps(blocks: 32, wave: 264, length: 16384));   // B 1 at 16K: eight
        Assert.Equal(160, FusedSelectiveScan.WaveSegmentSteps(blocks: 1, wave: 264, length: 1000));      // 7 segments: none under 128
        Assert.Equal(352, FusedSelectiveScan.WaveSegmentSteps(blocks: 100, wave: 264, length: 700));     // rounded up to the tile
        Assert.Equal(100, FusedSelectiveScan.WaveSegmentSteps(blocks: 1, wave: 264, length: 100));       // short L: one segment
    }

    [CudaFact]
    public void SegmentedScanMatchesTheReferenceOnCuda()
    {
        // The automatic choice cuts these into segments on an H200 (few blocks: B x d_inner / 64 << 8 per SM).
        var host = Bmojo.Runtime.Gpu.KernelHost.For(CUDA);
        var big = new Case(2, 200, 1500, 16, Options.All);
        Assert.True(FusedSelectiveScan.SegmentSteps(host, big.Batch, big.DInner, big.Length, 0) < big.Length, "expected segments on CUDA");
        CheckForward(big, CUDA);
        CheckBackward(new Case(2, 200, 1500, 16, Options.All & ~Options.InitialState), CUDA);
        foreach (object[] row in SegmentedShapes)
        {
            CheckForward(Case.Of(row), CUDA, (int)row[5]);
            CheckBackward(Case.Of(row), CUDA, (int)row[5]);
        }
    }

    /// <summary>bf16 tensors go into the register kernels as they are (<c>ScanOptions.Bf16</c>, no fp32 copies): the
    /// arithmetic is the fp32 kernels', so on the same values every result is exactly theirs, y, du, d delta and dz
    /// rounded once to bf16 (ties to even, as torch rounds). Shapes as <see cref="Shapes"/> and a segmented one.</summary>
    public static TheoryData<long, long, long, long, Options, int> Bf16Shapes => new()
    {
        // batch, d_inner, L, d_state, options, steps per segment (0: one segment)
        { 2, 3, 37, 16, Options.All, 0 },
        { 1, 70, 45, 5, Options.All, 0 },
        { 1, 4, 100, 1, Options.D | Options.Z, 0 },
        { 3, 2, 8, 16, Options.DeltaBias | Options.Softplus, 0 },
        { 2, 5, 70, 16, Options.All, 32 },                             // 3 segments
    };

    [Theory]
    [MemberData(nameof(Bf16Shapes))]
    public void Bf16ForwardIsTheFp32KernelRoundedOnCpu(long batch, long dInner, long length, long dState, Options options, int steps) =>
        CheckBf16Forward(new Case(batch, dInner, length, dState, options), CPU, steps);

    [Theory]
    [MemberData(nameof(Bf16Shapes))]
    public void Bf16BackwardIsTheFp32KernelRoundedOnCpu(long batch, long dInner, long length, long dState, Options options, int steps) =>
        CheckBf16Backward(new Case(batch, dInner, length, dState, options & ~Options.InitialState), CPU, steps);

    [Fact]
    public void Bf16ReadsStridedInputsAsTheMambaMixerPassesThem()
    {
        // z a half of in_proj's (B, 2 d_inner, L) output, B and C slices of x_proj's (B, r + 2N, L) output: strided
        // along the batch, as MambaMixer hands them over.
        manual_seed(11);
        long batch = 2, dInner = 6, length = 40, dState = 16, rank = 3;
        Tensor xz = randn(batch, 2 * dInner, length).to_type(ScalarType.BFloat16);
        Tensor dtBC = randn(batch, rank + 2 * dState, length).to_type(ScalarType.BFloat16);
        Tensor u = xz[.., ..(int)dInner], z = xz[.., (int)dInner..];
        Tensor[] parts = dtBC.split([rank, dState, dState], 1);
        Tensor delta = (randn(batch, dInner, length) * 0.5 - 1.0).to_type(ScalarType.BFloat16);
        Tensor A = -exp(randn(dInner, dState) * 0.5), D = randn(dInner), bias = randn(dInner) * 0.1;
        Assert.False(z.is_contiguous() || parts[1].is_contiguous() || parts[2].is_contiguous() || u.is_contiguous());
        (Tensor y, Tensor states) = FusedSelectiveScan.RunForTraining(u, delta, A, parts[1], parts[2], D, z, bias, true);
        (Tensor y32, Tensor states32) = FusedSelectiveScan.RunForTraining(Up(u), Up(delta), A, Up(parts[1]), Up(parts[2]), D, Up(z), bias, true);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        TensorAssert.Close(y32.to_type(ScalarType.BFloat16), y, 0, 0, "y (bf16, strided inputs)");
        TensorAssert.Close(states32, states, 0, 0, "checkpoints (bf16, strided inputs)");
        Tensor gradOutput = randn(batch, dInner, length).to_type(ScalarType.BFloat16);
        SelectiveScanGradients g = FusedSelectiveScanBackward.Run(u, delta, A, parts[1], parts[2], D, z, bias, true, gradOutput, states);
        SelectiveScanGradients g32 = FusedSelectiveScanBackward.Run(Up(u), Up(delta), A, Up(parts[1]), Up(parts[2]), D, Up(z), bias, true, Up(gradOutput), states32);
        TensorAssert.Close(g32.Z!.to_type(ScalarType.BFloat16), g.Z!, 0, 0, "dz (bf16, strided inputs)");
        TensorAssert.Close(g32.C, g.C, 1e-6, 1e-6, "dC (bf16, strided inputs)");
    }

    [CudaFact]
    public void Bf16IsTheFp32KernelRoundedOnCuda()
    {
        foreach (object[] row in Bf16Shapes)
        {
            Case c = Case.Of(row);
            CheckBf16Forward(c, CUDA, (int)row[5]);
            CheckBf16Backward(c with { Options = c.Options & ~Options.InitialState }, CUDA, (int)row[5]);
        }
        CheckBf16Forward(new Case(2, 200, 1500, 16, Options.All), CUDA, 0);
        CheckBf16Backward(new Case(2, 200, 1500, 16, Options.All & ~Options.InitialState), CUDA, 0);
    }

    [Fact]
    public void BackwardWithoutCheckpointsRunsTheForwardKernelFirst()
    {
        var c = new Case(2, 67, 19, 7, Options.All);
        Arguments s = Arguments.For(c, CPU);
        Tensor gradOutput = randn(c.Batch, c.DInner, c.Length);
        (_, Tensor checkpoints) = FusedSelectiveScan.RunForTraining(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, true);
        SelectiveScanGradients given = FusedSelectiveScanBackward.Run(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, true, gradOutput, checkpoints);
        SelectiveScanGradients own = FusedSelectiveScanBackward.Run(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, true, gradOutput);
        Tensor[] expected = [given.U, given.Delta, given.A, given.B, given.C, given.D!, given.Z!, given.DeltaBias!];
        Tensor[] actual = [own.U, own.Delta, own.A, own.B, own.C, own.D!, own.Z!, own.DeltaBias!];
        // The same kernels on the same inputs; dB and dC sum by atomics, whose order may differ between runs.
        for (int i = 0; i < expected.Length; i++) TensorAssert.Close(expected[i], actual[i], 1e-6, 1e-5, $"gradient {i}");
    }

    [Fact]
    public void ZeroStatesLeaveTheSkipAndTheGate()
    {
        var c = new Case(2, 3, 11, 0, Options.All & ~Options.InitialState);
        CheckForward(c, CPU);
        CheckBackward(c, CPU);
    }

    [Fact]
    public void StatesUpTo16RunInRegistersAndLargerOnesOneLaneAState()
    {
        // The checkpoints tell the kernels apart: every 8 steps in registers, every 2^ceil(log2 N) steps otherwise.
        foreach ((long dState, long chunks) in new[] { (1L, 5L), (16L, 5L), (17L, 2L), (20L, 2L), (32L, 2L) })
        {
            manual_seed(dState);
            ScanInputs s = ScanInputs.Random(1, 3, 33, dState, CPU);
            (Tensor y, Tensor checkpoints) = FusedSelectiveScan.RunForTraining(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, true);
            Assert.Equal(new long[] { 1, 3, chunks, dState }, checkpoints.shape);
            TensorAssert.Close(SelectiveScanReference.Run(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, deltaSoftplus: true),
                               y, Atol, Rtol, $"y, N = {dState}");
        }
    }

    /// <summary>One test case: a shape and its options.</summary>
    public sealed record Case(long Batch, long DInner, long Length, long DState, Options Options)
    {
        public static Case Of(object[] row) => new((long)row[0], (long)row[1], (long)row[2], (long)row[3], (Options)row[4]);

        /// <summary>Shapes drawn at random up to the given sizes, with 1 to 16 states and any options.</summary>
        public static IEnumerable<Case> Random(int seed, int count, int maxBatch, int maxDInner, int maxLength)
        {
            var random = new Random(seed);
            for (int i = 0; i < count; i++)
                yield return new Case(random.Next(1, maxBatch + 1), random.Next(1, maxDInner + 1), random.Next(1, maxLength + 1),
                                      random.Next(1, 17), (Options)random.Next(0, (int)Options.All + 1));
        }

        public bool Has(Options option) => (Options & option) != 0;

        public override string ToString() => $"(B={Batch}, d_inner={DInner}, L={Length}, N={DState}, {Options})";
    }

    /// <summary>The case's inputs on the device; absent options are null. Without softplus the steps are made
    /// positive (softplus(delta) + 0.5), as the model's are.</summary>
    private sealed record Arguments(Tensor U, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? Z, Tensor? DeltaBias, Tensor? InitialState)
    {
        public static Arguments For(Case c, Device device)
        {
            manual_seed(c.Batch * 100003 + c.DInner * 1009 + c.Length * 17 + c.DState + (long)c.Options * 7919);
            ScanInputs s = ScanInputs.Random(c.Batch, c.DInner, c.Length, c.DState, device);
            return new Arguments(s.U, c.Has(Options.Softplus) ? s.Delta : nn.functional.softplus(s.Delta) + 0.5, s.A, s.B, s.C,
                                 c.Has(Options.D) ? s.D : null, c.Has(Options.Z) ? s.Z : null,
                                 c.Has(Options.DeltaBias) ? s.DeltaBias : null, c.Has(Options.InitialState) ? s.InitialState : null);
        }

        public Arguments Float64Cpu() => new(Up(U)!, Up(Delta)!, Up(A)!, Up(B)!, Up(C)!, Up(D), Up(Z), Up(DeltaBias), Up(InitialState));

        private static Tensor? Up(Tensor? t) => t?.detach().to_type(ScalarType.Float64).cpu();
    }

    /// <summary>Every input's gradient, from the forward kernel's checkpoints (as training runs), against float64
    /// autograd through the reference.</summary>
    private static void CheckBackward(Case c, Device device, int segmentSteps = 0)
    {
        Arguments s = Arguments.For(c, device);
        bool softplus = c.Has(Options.Softplus);
        Tensor gradOutput = randn(c.Batch, c.DInner, c.Length, device: device);
        (_, Tensor checkpoints) = FusedSelectiveScan.RunForTraining(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, softplus, segmentSteps);
        SelectiveScanGradients g = FusedSelectiveScanBackward.Run(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, softplus, gradOutput, checkpoints, segmentSteps);

        Tensor?[] inputs = [s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias];
        Tensor?[] leaves = inputs.Select(t => t?.detach().to_type(ScalarType.Float64).cpu().requires_grad_(true)).ToArray();
        Tensor y = SelectiveScanReference.Run(leaves[0]!, leaves[1]!, leaves[2]!, leaves[3]!, leaves[4]!, leaves[5], leaves[6], leaves[7], softplus);
        (y * gradOutput.to_type(ScalarType.Float64).cpu()).sum().backward();

        string[] names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"];
        Tensor?[] fused = [g.U, g.Delta, g.A, g.B, g.C, g.D, g.Z, g.DeltaBias];
        for (int i = 0; i < names.Length; i++)
        {
            string what = $"d{names[i]} {c} on {device}";
            if (leaves[i] is null)
            {
                Assert.True(fused[i] is null, what + " should be absent");
                continue;
            }
            Assert.Equal(device.type, fused[i]!.device_type);
            Close(leaves[i]!.grad!, fused[i]!, GradAtol, GradRtol, what);
        }
    }

    private static void CheckForward(Case c, Device device, int segmentSteps = 0)
    {
        Arguments s = Arguments.For(c, device), r = s.Float64Cpu();
        bool softplus = c.Has(Options.Softplus);
        (Tensor y, Tensor last) = FusedSelectiveScan.RunWithFinalState(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, softplus, s.InitialState, segmentSteps);
        (Tensor yRef, Tensor lastRef) = SelectiveScanReference.RunWithFinalState(r.U, r.Delta, r.A, r.B, r.C, r.D, r.Z, r.DeltaBias, softplus, r.InitialState);
        Assert.Equal(device.type, y.device_type);
        Close(yRef, y, Atol, Rtol, $"y {c} on {device}");
        Close(lastRef, last, Atol, Rtol, $"final state {c} on {device}");
    }

    private static Tensor Up(Tensor t) => t.to_type(ScalarType.Float32);

    /// <summary>The case's per-token inputs (u, delta, z, B, C) rounded to bf16, and the same values in fp32.</summary>
    private static (Arguments Bf16, Arguments Fp32) Rounded(Case c, Device device)
    {
        Arguments s = Arguments.For(c, device);
        Tensor? Half(Tensor? t) => t?.to_type(ScalarType.BFloat16);
        Arguments half = s with { U = Half(s.U)!, Delta = Half(s.Delta)!, B = Half(s.B)!, C = Half(s.C)!, Z = Half(s.Z) };
        return (half, half with { U = Up(half.U), Delta = Up(half.Delta), B = Up(half.B), C = Up(half.C), Z = half.Z is null ? null : Up(half.Z) });
    }

    private static void CheckBf16Forward(Case c, Device device, int segmentSteps)
    {
        (Arguments h, Arguments f) = Rounded(c, device);
        bool softplus = c.Has(Options.Softplus);
        (Tensor y, Tensor last) = FusedSelectiveScan.RunWithFinalState(h.U, h.Delta, h.A, h.B, h.C, h.D, h.Z, h.DeltaBias, softplus, h.InitialState, segmentSteps);
        (Tensor y32, Tensor last32) = FusedSelectiveScan.RunWithFinalState(f.U, f.Delta, f.A, f.B, f.C, f.D, f.Z, f.DeltaBias, softplus, f.InitialState, segmentSteps);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        TensorAssert.Close(y32.to_type(ScalarType.BFloat16), y, 0, 0, $"y (bf16) {c} on {device}");
        TensorAssert.Close(last32, last, 0, 0, $"final state (bf16) {c} on {device}");
        if (c.Has(Options.InitialState)) return;
        (_, Tensor states) = FusedSelectiveScan.RunForTraining(h.U, h.Delta, h.A, h.B, h.C, h.D, h.Z, h.DeltaBias, softplus, segmentSteps);
        (_, Tensor states32) = FusedSelectiveScan.RunForTraining(f.U, f.Delta, f.A, f.B, f.C, f.D, f.Z, f.DeltaBias, softplus, segmentSteps);
        TensorAssert.Close(states32, states, 0, 0, $"checkpoints (bf16) {c} on {device}");
    }

    private static void CheckBf16Backward(Case c, Device device, int segmentSteps)
    {
        (Arguments h, Arguments f) = Rounded(c, device);
        bool softplus = c.Has(Options.Softplus);
        Tensor gradOutput = randn(c.Batch, c.DInner, c.Length, device: device).to_type(ScalarType.BFloat16);
        (_, Tensor checkpoints) = FusedSelectiveScan.RunForTraining(f.U, f.Delta, f.A, f.B, f.C, f.D, f.Z, f.DeltaBias, softplus, segmentSteps);
        SelectiveScanGradients g = FusedSelectiveScanBackward.Run(h.U, h.Delta, h.A, h.B, h.C, h.D, h.Z, h.DeltaBias, softplus, gradOutput, checkpoints, segmentSteps);
        SelectiveScanGradients g32 = FusedSelectiveScanBackward.Run(f.U, f.Delta, f.A, f.B, f.C, f.D, f.Z, f.DeltaBias, softplus, Up(gradOutput), checkpoints, segmentSteps);
        string where = $"{c} on {device}";
        foreach ((Tensor? half, Tensor? full, string name) in new[] { (g.U, g32.U, "du"), (g.Delta, g32.Delta, "d delta"), (g.Z, g32.Z, "dz") })
        {
            if (full is null) { Assert.Null(half); continue; }
            Assert.Equal(ScalarType.BFloat16, half!.dtype);
            TensorAssert.Close(full.to_type(ScalarType.BFloat16), half, 0, 0, $"{name} (bf16) {where}");
        }
        // dA, dD, d delta_bias: per-row sums in a fixed order; dB, dC: sums by atomics, in an order that may vary.
        foreach ((Tensor? half, Tensor? full, string name) in new[] { (g.A, g32.A, "dA"), (g.D, g32.D, "dD"), (g.DeltaBias, g32.DeltaBias, "d delta_bias") })
            if (full is not null) Close(full, half!, 0, 0, $"{name} (bf16) {where}");
        Close(g32.B, g.B, 1e-6, 1e-6, $"dB (bf16) {where}");
        Close(g32.C, g.C, 1e-6, 1e-6, $"dC (bf16) {where}");
    }

    /// <summary><see cref="TensorAssert.Close"/>, which needs elements; an empty tensor (N = 0) must match in shape.</summary>
    private static void Close(Tensor expected, Tensor actual, double atol, double rtol, string what)
    {
        if (expected.numel() == 0) Assert.Equal(expected.shape, actual.shape);
        else TensorAssert.Close(expected, actual, atol, rtol, what);
    }
}
