using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.BmojoAttention;
using TorchSharp;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Bench;

/// <summary>Shape of one B'MOJO attention benchmark: heads of Dh over L tokens, window w, m_f fading tokens, m_e
/// eidetic entries, a share <paramref name="Selected"/> of tokens passing the innovation test.</summary>
public sealed record BmojoAttentionShape(long Batch, long Heads, long Length, long HeadDim, int Window, int FadingTokens,
                                         int EideticCapacity, double Selected, int Runs)
{
    /// <summary>The issue's shape: L 16384, w 512, m_f 512, m_e 256, 16 heads of 64, fp32.</summary>
    public static BmojoAttentionShape Issue { get; } = new(1, 16, 16384, 64, 512, 512, 256, 0.25, Runs: 10);

    /// <summary>A small shape for a dry run on the CPU (ILGPU's CPU accelerator).</summary>
    public static BmojoAttentionShape Quick { get; } = new(1, 1, 64, 16, 8, 8, 4, 0.25, Runs: 2);

    public override string ToString() =>
        $"B={Batch} H={Heads} L={Length} Dh={HeadDim} w={Window} m_f={FadingTokens} m_e={EideticCapacity} s={Selected} fp32";
}

/// <summary>
/// Times the fused B'MOJO attention (<see cref="FusedBmojoAttention"/>) against the blockwise TorchSharp path and the
/// masked reference (at a smaller L when the reference's (L x 2L) scores do not fit), the training step through
/// <see cref="BmojoAttentionFunction"/>, and checks agreement; on CUDA rates are put next to the ceilings of the same
/// run and the queries-per-block variants are timed (on the CPU: the default's times and agreement only,
/// <see cref="DeviceCeilings"/>).
/// </summary>
public sealed class BmojoAttentionBenchmark
{
    private const int InputSets = 3;

    private readonly BmojoAttentionShape shape;
    private readonly Device device;
    private readonly DeviceTimer timer;
    private readonly TextWriter output;

    public BmojoAttentionBenchmark(BmojoAttentionShape shape, Device device, DeviceTimer timer, TextWriter output)
    {
        this.shape = shape;
        this.device = device;
        this.timer = timer;
        this.output = output;
    }

    public void Run(DeviceCeilings? ceilings)
    {
        manual_seed(20261129);
        output.WriteLine($"bmojo    shape {shape}");
        Rates? rates = ceilings is null ? null : new Rates(Fp32MatmulCeiling(), ceilings.MatmulFlops, ceilings.CopyBytesPerSecond);
        var sets = Enumerable.Range(0, InputSets).Select(_ => Inputs(shape.Length)).ToArray();
        long visible = VisibleKeys(sets[0].Selected, shape.Length);
        // Useful work: per visible (query, key) pair a Dh dot product and a Dh multiply-add into the output.
        double flops = 4.0 * shape.Heads * visible * shape.HeadDim;
        // Bytes the kernel must move: q, k, v, kf, vf read, o written.
        double bytes = 6.0 * sizeof(float) * shape.Batch * shape.Heads * shape.Length * shape.HeadDim;
        output.WriteLine($"bmojo    work: {visible / (double)(shape.Batch * shape.Length):F0} visible keys per query on average, "
                         + $"{flops / 1e9:F1} GFLOP, {bytes / 1e6:F0} MB to move at least");

        // Block sizes are a GPU tuning: on the CPU accelerator only the default is timed.
        foreach (int queries in rates is null ? [] : new[] { 8, 32 })
        {
            Timing variant = timer.Measure(3, shape.Runs, i => Fused(sets[i % InputSets], queries).Dispose());
            Report($"fused forward, {queries} queries/block", variant, flops, bytes, rates);
        }
        Timing fused = timer.Measure(3, shape.Runs, i => Fused(sets[i % InputSets]).Dispose());
        Report($"fused forward (default, {FusedBmojoAttention.DefaultQueriesPerBlock} queries/block)", fused, flops, bytes, rates);
        Timing blockwise = timer.Measure(1, 3, i => Blockwise(sets[i % InputSets]).Dispose());
        Report("blockwise forward (TorchSharp)", blockwise, flops, bytes, rates);
        if (rates is not null) output.WriteLine($"bmojo    fused vs blockwise: {blockwise.Median / fused.Median:F1}x faster");
        Agreement("fused vs blockwise", Fused(sets[0]), Blockwise(sets[0]));

        Timing step = timer.Measure(1, 3, i => TrainingStep(sets[i % InputSets]));
        output.WriteLine($"bmojo    fwd+bwd BmojoAttentionFunction (fused forward, blockwise-recompute backward): {step.Milliseconds}");
        Timing blockwiseStep = timer.Measure(1, 3, i => TrainingStep(sets[i % InputSets], fused: false));
        output.WriteLine($"bmojo    fwd+bwd blockwise autograd: {blockwiseStep.Milliseconds}"
                         + DeviceCeilings.Faster(ceilings, $" -> function {blockwiseStep.Median / step.Median:F2}x"));

        foreach (Tensor t in sets.SelectMany(s => s.All)) t.Dispose();
        Reference(shape.Length, flops, bytes, rates);
    }

    /// <summary>The ceilings a rate is put next to: fp32 and bf16 matrix products, the device copy.</summary>
    private sealed record Rates(double Fp32Flops, double Bf16Flops, double CopyBytesPerSecond);

    // The masked reference at L; when its scores do not fit on the device, again at L / 2 (and L / 4), with the fused
    // kernel timed at the same L for the ratio.
    private void Reference(long length, double flops, double bytes, Rates? rates)
    {
        for (long l = length; l >= Math.Max(1, length / 4); l /= 2)
        {
            AttentionInputs s = Inputs(l);
            try
            {
                Timing reference = timer.Measure(1, 2, _ => MaskedReference(s).Dispose());
                double scale = (double)l / length;
                Report($"masked reference, L={l}", reference, flops * scale, bytes * scale, rates);
                if (rates is not null)                          // the ratio's other side (on the CPU: no ratio)
                {
                    Timing fused = timer.Measure(3, shape.Runs, _ => Fused(s).Dispose());
                    Report($"fused forward, L={l}", fused, flops * scale, bytes * scale, rates);
                    output.WriteLine($"bmojo    fused vs masked reference at L={l}: {reference.Median / fused.Median:F1}x faster");
                }
                Agreement($"fused vs masked reference at L={l}", Fused(s), MaskedReference(s));
                return;
            }
            catch (System.Runtime.InteropServices.ExternalException e) when (e.Message.Contains("out of memory"))
            {
                output.WriteLine($"bmojo    masked reference at L={l}: out of device memory ({e.Message.Split('.')[0]})");
            }
            finally
            {
                foreach (Tensor t in s.All) t.Dispose();
            }
        }
    }

    private double Fp32MatmulCeiling()
    {
        using var scope = NewDisposeScope();
        const long n = 8192;
        Tensor a = randn(n, n, device: device), b = randn(n, n, device: device);
        Timing matmul = timer.Measure(3, 10, _ => mm(a, b).Dispose());
        double rate = 2.0 * n * n * n / matmul.Median;
        output.WriteLine($"ceiling  fp32 matmul {n}^3 (torch default: TF32 off): {matmul.Milliseconds} -> {rate / 1e12:F1} TFLOP/s");
        return rate;
    }

    private void Report(string name, Timing t, double flops, double bytes, Rates? rates)
    {
        double flopRate = flops / t.Median, byteRate = bytes / t.Median;
        output.WriteLine(rates is null
            ? $"bmojo    {name,-34} {t.Milliseconds}"
            : $"bmojo    {name,-34} {t.Milliseconds}: {flopRate / 1e12:F2} TFLOP/s = {flopRate / rates.Fp32Flops:P1} of fp32 matmul, "
              + $"{flopRate / rates.Bf16Flops:P2} of bf16 matmul; {byteRate / 1e12:F3} TB/s = {byteRate / rates.CopyBytesPerSecond:P1} of copy");
    }

    private void Agreement(string what, Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        double relative = ((actual - expected).norm() / expected.norm()).item<float>();
        double worst = (actual - expected).abs().max().item<float>();
        output.WriteLine($"agree    {what}: |o - ref| / |ref| = {relative:E2}, max |diff| = {worst:E2}, "
                         + $"all finite: {isfinite(actual).all().item<bool>()}");
        actual.Dispose();
        expected.Dispose();
    }

    // Sum over queries of the keys each one sees: min(w, t + 1) window keys, min(m_f, t - w + 1) fading ones (0 for
    // t < w) and min(m_e, S[t - w]) eidetic entries.
    private long VisibleKeys(Tensor selected, long length)
    {
        using var scope = NewDisposeScope();
        Tensor t = arange(length, device: device);
        long band = (t + 1).clamp(0, shape.Window).sum().item<long>()
                    + (t - shape.Window + 1).clamp(0, shape.FadingTokens).sum().item<long>();
        Tensor prefix = selected.to_type(ScalarType.Int64).cumsum(1);                          // (B, L): S
        Tensor edge = shape.Window >= length ? zeros_like(prefix)
            : cat([zeros(shape.Batch, shape.Window, ScalarType.Int64, device), prefix.narrow(1, 0, length - shape.Window)], 1);
        return shape.Batch * band + edge.clamp(0, shape.EideticCapacity).sum().item<long>();
    }

    private Tensor Fused(AttentionInputs s, int? queriesPerBlock = null) =>
        FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, shape.Window, shape.FadingTokens, shape.EideticCapacity,
                                queriesPerBlock);

    private Tensor Blockwise(AttentionInputs s)
    {
        using var grad = no_grad();
        return BmojoBlockwise.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, shape.Window, shape.FadingTokens, shape.EideticCapacity,
                                  plan: null, blockSize: 64);
    }

    private Tensor MaskedReference(AttentionInputs s)
    {
        using var grad = no_grad();
        using var scope = NewDisposeScope();
        Tensor mask = BmojoMask.Build(s.Selected, shape.Window, shape.FadingTokens, shape.EideticCapacity);   // (B, 1, L, 2L)
        return MaskedAttention.Run(s.Q, cat([s.K, s.Kf], 2), cat([s.V, s.Vf], 2), mask).MoveToOuterDisposeScope();
    }

    private void TrainingStep(AttentionInputs s, bool fused = true)
    {
        using var scope = NewDisposeScope();
        Tensor[] leaves = s.Tensors.Select(t => t.detach().requires_grad_(true)).ToArray();
        Tensor o = fused
            ? BmojoAttentionFunction.Apply(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], s.Selected,
                                           shape.Window, shape.FadingTokens, shape.EideticCapacity)
            : BmojoBlockwise.Run(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], s.Selected, shape.Window,
                                 shape.FadingTokens, shape.EideticCapacity, plan: null, blockSize: 64);
        o.sum().backward();
    }

    private AttentionInputs Inputs(long length)
    {
        Tensor Make() => randn(shape.Batch, shape.Heads, length, shape.HeadDim, device: device);
        return new AttentionInputs(Make(), Make(), Make(), Make(), Make(), rand(shape.Batch, length, device: device).lt(shape.Selected));
    }

    private sealed record AttentionInputs(Tensor Q, Tensor K, Tensor V, Tensor Kf, Tensor Vf, Tensor Selected)
    {
        public Tensor[] Tensors => [Q, K, V, Kf, Vf];
        public Tensor[] All => [Q, K, V, Kf, Vf, Selected];
    }
}
