using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.SelectiveScan;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Bench;

/// <summary>Shape and repetitions of one <c>bench kernels</c> run.</summary>
public sealed record KernelBenchmarkOptions(long Batch, long DInner, long Length, long DState, int Runs, int ReferenceRuns)
{
    /// <summary>The issue's shape: fp32 scan, B 8, d_inner 2048, L 4096, N 16.</summary>
    public static KernelBenchmarkOptions Issue { get; } = new(8, 2048, 4096, 16, Runs: 20, ReferenceRuns: 2);

    /// <summary>A small shape for a dry run on the CPU (ILGPU's CPU accelerator).</summary>
    public static KernelBenchmarkOptions Quick { get; } = new(1, 16, 64, 16, Runs: 3, ReferenceRuns: 1);
}

/// <summary>
/// Times the fused selective scan against the reference paths in one run, on fresh random inputs, checks that they
/// agree, and on CUDA puts bytes/s and FLOP/s next to ceilings measured in the same run (a large device copy; a large
/// bf16 matrix product) and measures what ordering ILGPU against torch costs per launch. On the CPU it prints times
/// and agreement only (<see cref="DeviceCeilings"/> says why). Writes a report to a writer.
/// </summary>
public sealed class KernelBenchmark
{
    private const int InputSets = 3;   // rotate inputs so no timed run finds its data in L2 from the run before

    private readonly KernelBenchmarkOptions options;
    private readonly Device device;
    private readonly DeviceTimer timer;
    private readonly TextWriter output;

    public KernelBenchmark(KernelBenchmarkOptions options, Device device, TextWriter output)
    {
        this.options = options;
        this.device = device;
        this.output = output;
        timer = new DeviceTimer(device);
    }

    /// <summary>The kernels <see cref="Run"/> can time, by name.</summary>
    public static IReadOnlyList<string> Kernels { get; } = ["scan", "bmojo", "tc", "innovation"];

    /// <param name="kernels">Which kernels to time: <see cref="Kernels"/> names (scan: the selective scan and the launch
    /// overhead; bmojo: the fp32 B'MOJO attention; tc: the bf16 tensor-core B'MOJO attention, forward and backward;
    /// innovation: the fused innovation pass).</param>
    /// <param name="bmojo">The B'MOJO attention shape.</param>
    /// <param name="innovation">The innovation pass shapes.</param>
    public void Run(IReadOnlySet<string> kernels, BmojoAttentionShape bmojo, IReadOnlyList<InnovationShape> innovation)
    {
        manual_seed(20261128);
        output.WriteLine($"bench kernels on {device} ({(device.type == DeviceType.CUDA ? "CUDA" : "ILGPU CPU accelerator")}), shape {Shape}");
        DeviceCeilings? ceilings = null;
        if (device.type == DeviceType.CUDA) ceilings = Ceilings();
        else output.WriteLine($"note     {DeviceCeilings.CpuNote}");
        if (kernels.Contains("scan"))
        {
            if (ceilings is not null) LaunchOverhead();
            Scan(ceilings);
        }
        if (kernels.Contains("tc")) new TensorCoreAttentionBenchmark(bmojo, device, timer, output).Run(ceilings);
        if (kernels.Contains("bmojo")) new BmojoAttentionBenchmark(bmojo, device, timer, output).Run(ceilings);
        if (kernels.Contains("innovation"))
            foreach (InnovationShape shape in innovation) new InnovationBenchmark(shape, device, timer, output).Run(ceilings);
    }

    private string Shape => $"B={options.Batch} d_inner={options.DInner} L={options.Length} N={options.DState} fp32";

    private DeviceCeilings Ceilings()
    {
        const long elements = 1L << 29;                                                  // 2 GiB of fp32
        using var scope = NewDisposeScope();
        Tensor source = randn(elements, device: device), target = empty_like(source);
        Timing copy = timer.Measure(3, 20, _ => target.copy_(source));
        double copyRate = 2.0 * elements * sizeof(float) / copy.Median;                  // read + write
        output.WriteLine($"ceiling  device copy {elements * 4 / (1 << 20)} MiB: {copy.Milliseconds} -> {copyRate / 1e12:F2} TB/s (read+write)");

        const long n = 8192;
        const ScalarType dtype = ScalarType.BFloat16;
        Tensor a = randn(n, n, dtype, device), b = randn(n, n, dtype, device);
        Timing matmul = timer.Measure(3, 10, _ => mm(a, b).Dispose());
        double flops = 2.0 * n * n * n / matmul.Median;
        output.WriteLine($"ceiling  {dtype} matmul {n}^3 (random data): {matmul.Milliseconds} -> {flops / 1e12:F1} TFLOP/s");
        return new DeviceCeilings(copyRate, flops);
    }

    private static void Touch(Index1D i, ArrayView<float> values) => values[i] += 1f;

    /// <summary>Per launch: a bare ILGPU launch + wait; the same through KernelHost.Launch (torch sync first); and
    /// with the tensor view made and released around it (what every fused call pays on top of its kernel).</summary>
    private void LaunchOverhead()
    {
        using var scope = NewDisposeScope();
        KernelHost host = KernelHost.For(device);
        Tensor x = zeros(1, device: device);
        var kernel = host.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(Touch);
        using var views = new TorchInterop(host, "touch");
        ArrayView<float> view = views.Float32(x, "x", 1);

        Timing bare = timer.Measure(20, 200, _ => { host.Accelerator.Bind(); kernel(1, view); host.Accelerator.Synchronize(); });
        Timing ordered = timer.Measure(20, 200, _ => host.Launch(_ => kernel(1, view)));
        Timing full = timer.Measure(20, 200, _ =>
        {
            using var perCall = new TorchInterop(host, "touch");
            ArrayView<float> v = perCall.Float32(x, "x", 1);
            host.Launch(_ => kernel(1, v));
        });
        output.WriteLine($"launch   bare ILGPU launch+sync: {Micro(bare)}; + torch sync (KernelHost.Launch): {Micro(ordered)}; + tensor view: {Micro(full)}");
        output.WriteLine($"launch   ordering overhead per launch: {(ordered.Median - bare.Median) * 1e6:F1} us (torch sync), {(full.Median - ordered.Median) * 1e6:F1} us (view)");
    }

    private static string Micro(Timing t) => $"{t.Median * 1e6:F1} us";

    private void Scan(DeviceCeilings? ceilings)
    {
        long b = options.Batch, d = options.DInner, l = options.Length, n = options.DState;
        var sets = Enumerable.Range(0, InputSets).Select(_ => ScanInputs(b, d, l, n)).ToArray();

        // Bytes the kernel must move: u, delta, z read and y written (B, d_inner, L); B and C read (B, N, L).
        double bytes = 4.0 * (4 * b * d * l + 2 * b * n * l + b * d * n + d * n + 2 * d);
        // FLOPs per (b, d, t, n): dt*A, exp, *h, +, dt*u*B, *C, + (the sum over n) = 7.
        double flops = 7.0 * b * d * l * n;

        Timing fused = timer.Measure(3, options.Runs, i => Fused(sets[i % InputSets]).Dispose());
        Report("fused (ILGPU)", fused, bytes, flops, ceilings);
        int steps = FusedSelectiveScan.SegmentSteps(KernelHost.For(device), b, d, l, requested: 0);
        if (n <= RegisterScanKernelStates && steps < l)
        {
            // The register kernels cut L into segments here; the same kernels over one segment, for the ratio.
            Timing whole = timer.Measure(3, options.Runs, i => OneSegment(sets[i % InputSets]).Dispose());
            Report("fused, one segment", whole, bytes, flops, ceilings);
            output.WriteLine($"segments {(l + steps - 1) / steps} of {steps} steps: forward {whole.Median / fused.Median:F2}x faster than one segment");
        }

        Timing sequential = timer.Measure(1, options.ReferenceRuns, i => Sequential(sets[i % InputSets]).Dispose());
        Report("sequential reference", sequential, bytes, flops, ceilings);
        if (ceilings is not null) output.WriteLine($"speed-up fused vs sequential reference: {sequential.Median / fused.Median:F1}x");
        try
        {
            Timing chunked = timer.Measure(1, options.ReferenceRuns, i => Chunked(sets[i % InputSets]).Dispose());
            Report("chunked (TorchSharp ops)", chunked, bytes, flops, ceilings);
            if (ceilings is not null) output.WriteLine($"speed-up fused vs chunked: {chunked.Median / fused.Median:F1}x");
        }
        catch (System.Runtime.InteropServices.ExternalException e) when (e.Message.Contains("out of memory"))
        {
            output.WriteLine($"scan     chunked (TorchSharp ops): out of device memory at this shape ({e.Message.Split('.')[0]})");
        }

        using (var scope = NewDisposeScope())
        {
            Tensor[] s = ScanInputs(b, d, l, n);               // fresh inputs for the agreement check
            Tensor y = Fused(s), yRef = Sequential(s);
            double relative = ((y - yRef).norm() / yRef.norm()).item<float>();
            double worst = (y - yRef).abs().max().item<float>();
            bool finite = isfinite(y).all().item<bool>();
            output.WriteLine($"agree    fused vs sequential reference: |y - ref| / |ref| = {relative:E2}, max |diff| = {worst:E2}, all finite: {finite}");
        }

        Backward(sets, ceilings);
        TrainingStep(sets[0], ceilings);
        if (device.type == DeviceType.CUDA) SegmentSweep();
        Bf16Feed(ceilings is not null);
        foreach (Tensor t in sets.SelectMany(x => x)) t.Dispose();
    }

    /// <summary>The backward pass, two ways: from the forward kernel's checkpoints (what training runs: the backward
    /// kernel alone) and from none (<c>FusedSelectiveScanBackward.Run</c>'s own pass: for N &lt;= 16 the forward kernel
    /// with checkpoints first, then the backward kernel; mamba's <c>selective_scan_bwd</c> likewise recomputes the
    /// forward itself). The floor counted: read u, delta, z and the output gradient, write the gradients of u, delta
    /// and z (B, d_inner, L each), read B, C and write their gradients. Beyond it the checkpoints move
    /// B·d_inner·⌈L/8⌉·N floats each way for N &lt;= 16 (twice the size of u at N = 16), and the own pass adds the
    /// forward's reads and its discarded y.</summary>
    private void Backward(Tensor[][] sets, DeviceCeilings? ceilings)
    {
        long b = options.Batch, d = options.DInner, l = options.Length, n = options.DState;
        double bytes = 4.0 * (7 * b * d * l + 4 * b * n * l);
        // Per (b, d, t, n): the recompute (dt*A, exp, *h, + dt*u*B: ~4) and the reverse step (~18: adjoint, carry,
        // dA, dB, dC, the du and d(dt) sums) ~ 3 forwards; the own pass adds a forward (7).
        double flops = 3 * 7.0 * b * d * l * n;
        Tensor[] gradOutputs = sets.Select(_ => randn(b, d, l, device: device)).ToArray();
        Tensor[] checkpoints = sets.Select(s => FusedSelectiveScan.RunForTraining(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], true))
                                   .Select(r => { r.Output.Dispose(); return r.Checkpoints; }).ToArray();
        Timing fromCheckpoints = timer.Measure(3, options.Runs, i =>
        {
            Tensor[] s = sets[i % InputSets];
            SelectiveScanGradients g = FusedSelectiveScanBackward.Run(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], true,
                                                                      gradOutputs[i % InputSets], checkpoints[i % InputSets]);
            foreach (Tensor? t in new[] { g.U, g.Delta, g.A, g.B, g.C, g.D, g.Z, g.DeltaBias }) t?.Dispose();
        });
        Report("fused backward, checkpoints", fromCheckpoints, bytes, flops, ceilings);
        int backwardSteps = FusedSelectiveScanBackward.SegmentSteps(KernelHost.For(device), b, d, l, requested: 0);
        if (n <= RegisterScanKernelStates && backwardSteps < l)
        {
            Timing whole = timer.Measure(3, options.Runs, i =>
            {
                Tensor[] s = sets[i % InputSets];
                SelectiveScanGradients g = FusedSelectiveScanBackward.Run(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], true,
                                                                          gradOutputs[i % InputSets], checkpoints[i % InputSets], segmentSteps: (int)l);
                foreach (Tensor? t in new[] { g.U, g.Delta, g.A, g.B, g.C, g.D, g.Z, g.DeltaBias }) t?.Dispose();
            });
            Report("fused backward, one segment", whole, bytes, flops, ceilings);
            output.WriteLine($"segments backward {(l + backwardSteps - 1) / backwardSteps} of {backwardSteps} steps: {whole.Median / fromCheckpoints.Median:F2}x faster than one segment");
        }
        Timing ownPass = timer.Measure(3, options.Runs, i =>
        {
            Tensor[] s = sets[i % InputSets];
            SelectiveScanGradients g = FusedSelectiveScanBackward.Run(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], true, gradOutputs[i % InputSets]);
            foreach (Tensor? t in new[] { g.U, g.Delta, g.A, g.B, g.C, g.D, g.Z, g.DeltaBias }) t?.Dispose();
        });
        Report("fused backward, own pass", ownPass, bytes, flops + 7.0 * b * d * l * n, ceilings);
        foreach (Tensor t in gradOutputs.Concat(checkpoints)) t.Dispose();
    }

    /// <summary>Forward + backward through the autograd function (both passes fused) and through the reference's
    /// autograd, with the gradients of the two compared.</summary>
    private void TrainingStep(Tensor[] s, DeviceCeilings? ceilings)
    {
        using var scope = NewDisposeScope();
        Tensor weights = randn(s[0].shape, device: device);       // a loss that weighs every output differently
        Tensor[] fusedGrads = [];
        Timing function = timer.Measure(1, 5, _ => fusedGrads = Gradients(s, weights, fused: true));
        // One run, no warm-up: it takes tens of seconds at the issue's shape.
        Tensor[] referenceGrads = [];
        Timing reference = timer.Measure(0, 1, _ => referenceGrads = Gradients(s, weights, fused: false));
        output.WriteLine($"train    fwd+bwd SelectiveScanFunction (fused both ways, backward from the forward's checkpoints): {function.Milliseconds}");
        output.WriteLine($"train    fwd+bwd sequential reference autograd: {reference.Milliseconds}"
                         + DeviceCeilings.Faster(ceilings, $" -> fused {reference.Median / function.Median:F0}x faster"));
        string[] names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"];
        var errors = names.Select((name, i) =>
            $"d{name} {((fusedGrads[i] - referenceGrads[i]).norm() / referenceGrads[i].norm()).item<float>():E1}");
        output.WriteLine($"agree    gradients, |fused - ref| / |ref|: {string.Join(", ", errors)}");
    }

    private static Tensor[] Gradients(Tensor[] s, Tensor weights, bool fused)
    {
        Tensor[] leaves = s.Select(t => t.detach().requires_grad_(true)).ToArray();
        using (var scope = NewDisposeScope())
        {
            Tensor y = fused
                ? SelectiveScanFunction.Apply(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6], leaves[7], deltaSoftplus: true)
                : SelectiveScanReference.Run(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6], leaves[7], deltaSoftplus: true);
            (y * weights).sum().backward();
        }
        return leaves.Select(t => t.grad!).ToArray();
    }

    private void Report(string name, Timing t, double bytes, double flops, DeviceCeilings? ceilings)
    {
        double rate = bytes / t.Median, flopRate = flops / t.Median;
        output.WriteLine(ceilings is null
            ? $"scan     {name,-26} {t.Milliseconds}"
            : $"scan     {name,-26} {t.Milliseconds}: {rate / 1e12:F3} TB/s = {rate / ceilings.CopyBytesPerSecond:P1} of copy, " +
              $"{flopRate / 1e12:F2} TFLOP/s = {flopRate / ceilings.MatmulFlops:P2} of matmul");
    }

    // u, delta, A, B, C, D, z, delta_bias: mamba's layouts and value ranges (A = -exp(A_log), delta before softplus).
    private Tensor[] ScanInputs(long b, long d, long l, long n) =>
    [
        randn(b, d, l, device: device), randn(b, d, l, device: device) * 0.5 - 1.0, -exp(randn(d, n, device: device) * 0.5),
        randn(b, n, l, device: device), randn(b, n, l, device: device), randn(d, device: device),
        randn(b, d, l, device: device), randn(d, device: device) * 0.1,
    ];

    /// <summary>The register kernels at the 370M training steps' scan shapes (d_inner 2048, N 16: B 4 · L 2048 and
    /// B 1 · L 16384), forward with checkpoints and backward from them, over one segment and over the segments the
    /// automatic choice makes, with the gradients of the two compared.</summary>
    private void SegmentSweep()
    {
        KernelHost host = KernelHost.For(device);
        foreach ((long b, long l) in new[] { (4L, 2048L), (1L, 16384L) })
        {
            using var scope = NewDisposeScope();
            const long d = 2048, n = 16;
            Tensor[] s = ScanInputs(b, d, l, n);
            Tensor gradOutput = randn(b, d, l, device: device);
            int forward = FusedSelectiveScan.SegmentSteps(host, b, d, l, requested: 0);
            int backward = FusedSelectiveScanBackward.SegmentSteps(host, b, d, l, requested: 0);
            Tensor checkpoints = FusedSelectiveScan.RunForTraining(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], true).Checkpoints;
            Timing Forward(int steps) => timer.Measure(3, options.Runs, _ =>
            {
                (Tensor y, Tensor c) = FusedSelectiveScan.RunForTraining(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], true, steps);
                y.Dispose();
                c.Dispose();
            });
            SelectiveScanGradients Gradients(int steps) =>
                FusedSelectiveScanBackward.Run(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], true, gradOutput, checkpoints, steps);
            Timing Backward(int steps) => timer.Measure(3, options.Runs, _ =>
            {
                SelectiveScanGradients g = Gradients(steps);
                foreach (Tensor? t in new[] { g.U, g.Delta, g.A, g.B, g.C, g.D, g.Z, g.DeltaBias }) t?.Dispose();
            });
            Timing forwardWhole = Forward((int)l), forwardCut = Forward(forward);
            Timing backwardWhole = Backward((int)l), backwardCut = Backward(backward);
            output.WriteLine($"segments B={b} L={l}: forward {forwardWhole.Median * 1e3:F3} ms one segment, {forwardCut.Median * 1e3:F3} ms in "
                             + $"{(l + forward - 1) / forward} of {forward} ({forwardWhole.Median / forwardCut.Median:F2}x); backward "
                             + $"{backwardWhole.Median * 1e3:F3} ms, {backwardCut.Median * 1e3:F3} ms in {(l + backward - 1) / backward} of {backward} "
                             + $"({backwardWhole.Median / backwardCut.Median:F2}x)");
            SelectiveScanGradients whole = Gradients((int)l), cut = Gradients(backward);
            double worst = new[] { (whole.U, cut.U), (whole.Delta, cut.Delta), (whole.A, cut.A), (whole.B, cut.B), (whole.C, cut.C) }
                .Max(p => ((p.Item1 - p.Item2).norm() / p.Item1.norm()).item<float>());
            output.WriteLine($"agree    segments vs one segment, gradients: worst |cut - whole| / |whole| = {worst:E1}");
        }
    }

    /// <summary>A bf16 training step's scan at the sweep's shapes: the register kernels reading and writing bf16 as
    /// they are, against the same bf16 tensors through fp32 copies (u, delta, z, B, C and the output gradient made fp32
    /// first, y, du, d delta and dz cast back to bf16 after: what the scan did before it read bf16), forward with
    /// checkpoints and backward from them; and the largest difference of the two's bf16 results. On the CPU
    /// accelerator one small shape (B 1 · d_inner 64 · L 64), times and agreement only.</summary>
    private void Bf16Feed(bool ratios)
    {
        ScalarType bf16 = ScalarType.BFloat16;
        long d = device.type == DeviceType.CUDA ? 2048 : 64, n = 16;
        foreach ((long b, long l) in device.type == DeviceType.CUDA ? new[] { (4L, 2048L), (1L, 16384L) } : new[] { (1L, 64L) })
        {
            using var scope = NewDisposeScope();
            int[] perToken = [0, 1, 3, 4, 6];                                  // u, delta, B, C, z
            Tensor[] s = ScanInputs(b, d, l, n).Select((t, i) => perToken.Contains(i) ? t.to_type(bf16) : t).ToArray();
            Tensor gradOutput = randn(b, d, l, device: device).to_type(bf16);
            Tensor[] Up(Tensor[] x) => x.Select((t, i) => perToken.Contains(i) ? t.to_type(ScalarType.Float32) : t).ToArray();
            (Tensor Y, Tensor Checkpoints) Forward(bool copies)
            {
                Tensor[] x = copies ? Up(s) : s;
                (Tensor y, Tensor c) = FusedSelectiveScan.RunForTraining(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], true);
                return (copies ? y.to_type(bf16) : y, c);
            }
            Tensor checkpoints = Forward(copies: false).Checkpoints;
            Tensor[] Backward(bool copies)
            {
                Tensor[] x = copies ? Up(s) : s;
                SelectiveScanGradients g = FusedSelectiveScanBackward.Run(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], true,
                                                                          copies ? gradOutput.to_type(ScalarType.Float32) : gradOutput, checkpoints);
                return [g.U.to_type(bf16), g.Delta.to_type(bf16), g.Z!.to_type(bf16), g.A, g.B, g.C, g.D!, g.DeltaBias!];
            }
            Timing TimeForward(bool copies) => timer.Measure(3, options.Runs, _ =>
            {
                using var run = NewDisposeScope();
                Forward(copies);
            });
            Timing TimeBackward(bool copies) => timer.Measure(3, options.Runs, _ =>
            {
                using var run = NewDisposeScope();
                Backward(copies);
            });
            Timing forwardDirect = TimeForward(false), forwardCopies = TimeForward(true);
            Timing backwardDirect = TimeBackward(false), backwardCopies = TimeBackward(true);
            string Ratio(Timing copies, Timing direct) => ratios ? $" ({copies.Median / direct.Median:F2}x)" : "";
            output.WriteLine($"bf16     B={b} d_inner={d} L={l}: forward {forwardDirect.Median * 1e3:F3} ms reading bf16, {forwardCopies.Median * 1e3:F3} ms "
                             + $"through fp32 copies{Ratio(forwardCopies, forwardDirect)}; backward {backwardDirect.Median * 1e3:F3} ms, "
                             + $"{backwardCopies.Median * 1e3:F3} ms{Ratio(backwardCopies, backwardDirect)}");
            double yDiff = (Forward(false).Y.to_type(ScalarType.Float32) - Forward(true).Y.to_type(ScalarType.Float32)).abs().max().item<float>();
            Tensor[] direct = Backward(false), copied = Backward(true);
            double gradDiff = direct.Zip(copied).Take(3).Max(p => (p.First.to_type(ScalarType.Float32) - p.Second.to_type(ScalarType.Float32)).abs().max().item<float>());
            output.WriteLine($"agree    bf16 read vs fp32 copies: max |diff| y {yDiff:E1}, du / d delta / dz {gradDiff:E1} (0: the same kernels' arithmetic)");
        }
    }

    /// <summary>The largest d_state of the register kernels, the ones that cut L into segments.</summary>
    private const long RegisterScanKernelStates = 16;

    private static Tensor OneSegment(Tensor[] s)
    {
        (Tensor y, Tensor last) = FusedSelectiveScan.RunWithFinalState(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], true, null,
                                                                       segmentSteps: (int)s[0].shape[2]);
        last.Dispose();
        return y;
    }

    private static Tensor Fused(Tensor[] s) => FusedSelectiveScan.Run(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], deltaSoftplus: true);

    private static Tensor Sequential(Tensor[] s)
    {
        using var grad = no_grad();
        return SelectiveScanReference.Run(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], deltaSoftplus: true);
    }

    private static Tensor Chunked(Tensor[] s)
    {
        using var grad = no_grad();
        (Tensor y, Tensor last) = ChunkedSelectiveScan.RunWithFinalState(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], deltaSoftplus: true);
        last.Dispose();
        return y;
    }
}
