using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.BmojoAttention;
using TorchSharp;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Bench;

/// <summary>
/// The tensor-core B'MOJO attention (bf16, <see cref="TensorCoreAttention"/>) at the shape of
/// <see cref="BmojoAttentionShape"/>: forward, backward and a training step (forward + backward through
/// <see cref="BmojoAttentionFunction"/>), against what a user would run otherwise in the same process: libtorch's
/// scaled-dot-product attention with the B'MOJO mask (the masked reference), with a sliding-window mask, full causal
/// FlashAttention (an anchor: more work, no mask), and the blockwise TorchSharp path. Checks agreement with the
/// blockwise path in fp32 (values and gradients) and, on CUDA, reports useful and executed FLOP/s against the measured
/// bf16 matrix-product ceiling (on the CPU: times and agreement only, <see cref="DeviceCeilings"/>).
/// </summary>
public sealed class TensorCoreAttentionBenchmark(BmojoAttentionShape shape, Device device, DeviceTimer timer, TextWriter output)
{
    private const int InputSets = 3;

    public void Run(DeviceCeilings? ceilings)
    {
        using var scope = NewDisposeScope();
        manual_seed(20261201);
        output.WriteLine($"tc       shape B={shape.Batch} H={shape.Heads} L={shape.Length} Dh={shape.HeadDim} w={shape.Window} "
                         + $"m_f={shape.FadingTokens} m_e={shape.EideticCapacity} s={shape.Selected} bf16 (tensor cores, fp32 softmax and accumulation)");
        var sets = Enumerable.Range(0, InputSets).Select(_ => Inputs()).ToArray();
        (double useful, double executed) = Work(sets[0].Tables);
        double bytes = 6.0 * 2 * shape.Batch * shape.Heads * shape.Length * shape.HeadDim;        // q, k, v, kf, vf, o in bf16
        output.WriteLine($"tc       forward work: {useful / 1e9:F1} GFLOP useful, {executed / 1e9:F1} GFLOP executed by the tiles "
                         + $"({useful / executed:P0} useful), {bytes / 1e6:F0} MB to move at least");

        // The kernels with the eidetic tables made beforehand, as the mixer has them from the fused innovation pass.
        Timing forward = timer.Measure(3, shape.Runs, i =>
        {
            (Tensor o, Tensor lse) = Forward(sets[i % InputSets]);
            o.Dispose();
            lse.Dispose();
        });
        Report("tensor-core forward", forward, useful, executed, bytes, ceilings);
        Timing run = timer.Measure(3, shape.Runs, i => FusedBmojoAttention.Run(sets[i % InputSets].Q, sets[i % InputSets].K, sets[i % InputSets].V,
            sets[i % InputSets].Kf, sets[i % InputSets].Vf, sets[i % InputSets].Selected, shape.Window, shape.FadingTokens, shape.EideticCapacity).Dispose());
        output.WriteLine($"tc       FusedBmojoAttention.Run (the tables from s by torch ops first): {run.Milliseconds}");

        var saved = sets.Select(s => (s, Forward(s), randn_like(s.Q))).ToArray();
        Timing backward = timer.Measure(3, shape.Runs, i =>
        {
            var (s, (o, lse), grad) = saved[i % InputSets];
            BmojoAttentionGradients g = TensorCoreAttention.Backward(s.Q, s.K, s.V, s.Kf, s.Vf, s.Tables,
                                                                     shape.Window, shape.FadingTokens, shape.EideticCapacity, o, lse, grad);
            foreach (Tensor t in new[] { g.Q, g.K, g.V, g.Kf, g.Vf }) t.Dispose();
        });
        // Useful backward work: dV, dP, dK, dQ (4 products of the forward's size); executed: 7 tile products (S twice).
        Report("tensor-core backward", backward, 2 * useful, 3.5 * executed, 2 * bytes, ceilings);

        Timing step = timer.Measure(2, shape.Runs, i => TrainingStep(sets[i % InputSets], fused: true));
        output.WriteLine($"tc       training step (fwd + bwd, BmojoAttentionFunction): {step.Milliseconds}");

        Banded(sets, useful, bytes, step, ceilings);
        Anchors(sets, forward, step, ceilings);
        Agreement(sets[0]);
    }

    // What else computes this function (or a neighbour of it) in the same process.
    private void Anchors(AttentionInputs[] sets, Timing forward, Timing step, DeviceCeilings? ceilings)
    {
        void Try(string name, Func<int, Timing> time, Timing ours)
        {
            try
            {
                Timing t = time(0);
                output.WriteLine($"tc       {name,-58} {t.Milliseconds}" + DeviceCeilings.Faster(ceilings, $" -> ours {t.Median / ours.Median:F2}x faster"));
            }
            catch (System.Runtime.InteropServices.ExternalException e) when (e.Message.Contains("out of memory"))
            {
                output.WriteLine($"tc       {name,-58} out of device memory ({e.Message.Split('.')[0]})");
            }
        }
        AttentionInputs s = sets[0];
        using (var scope = NewDisposeScope())
        {
            Tensor mask = BmojoMask.Build(s.Selected, shape.Window, shape.FadingTokens, shape.EideticCapacity);     // (B, 1, L, 2L)
            Tensor keys = cat([s.K, s.Kf], 2), values = cat([s.V, s.Vf], 2);
            Try("masked reference: SDPA with the B'MOJO mask over [k|kf]", _ => timer.Measure(1, 3, _ =>
            {
                using var g = no_grad();
                nn.functional.scaled_dot_product_attention(s.Q, keys, values, mask).Dispose();
            }), forward);
        }
        using (var scope = NewDisposeScope())
        {
            Tensor t = arange(shape.Length, device: device);
            Tensor window = (t.unsqueeze(1) - t.unsqueeze(0)).ge(0) & (t.unsqueeze(1) - t.unsqueeze(0)).lt(shape.Window);   // (L, L)
            Try($"SDPA with a sliding-window mask (w {shape.Window}), forward", _ => timer.Measure(1, 3, _ =>
            {
                using var g = no_grad();
                nn.functional.scaled_dot_product_attention(s.Q, s.K, s.V, window).Dispose();
            }), forward);
        }
        Try("SDPA full causal (FlashAttention in libtorch), forward", _ => timer.Measure(3, shape.Runs, i =>
        {
            using var g = no_grad();
            AttentionInputs x = sets[i % InputSets];
            nn.functional.scaled_dot_product_attention(x.Q, x.K, x.V, is_casual: true).Dispose();
        }), forward);
        Try("SDPA full causal, training step (fwd + bwd)", _ => timer.Measure(2, shape.Runs, i =>
        {
            using var scope = NewDisposeScope();
            AttentionInputs x = sets[i % InputSets];
            Tensor[] leaves = [x.Q.detach().requires_grad_(true), x.K.detach().requires_grad_(true), x.V.detach().requires_grad_(true)];
            nn.functional.scaled_dot_product_attention(leaves[0], leaves[1], leaves[2], is_casual: true).sum().backward();
        }), step);
        Try("blockwise TorchSharp path (bf16), training step", _ => timer.Measure(1, 2, i => TrainingStep(sets[i % InputSets], fused: false)), step);
    }

    // Values and gradients against the blockwise path in fp32 on the same (bf16) inputs.
    private void Agreement(AttentionInputs s)
    {
        using var scope = NewDisposeScope();
        Tensor weights = randn_like(s.Q);
        Tensor[] ours = s.Tensors.Select(t => t.detach().requires_grad_(true)).ToArray();
        Tensor[] reference = s.Tensors.Select(t => t.detach().to_type(ScalarType.Float32).requires_grad_(true)).ToArray();
        Tensor o = BmojoAttentionFunction.Apply(ours[0], ours[1], ours[2], ours[3], ours[4], s.Selected, shape.Window, shape.FadingTokens, shape.EideticCapacity);
        Tensor oRef = BmojoBlockwise.Run(reference[0], reference[1], reference[2], reference[3], reference[4], s.Selected,
                                         shape.Window, shape.FadingTokens, shape.EideticCapacity, plan: null, blockSize: 64);
        (o.to_type(ScalarType.Float32) * weights.to_type(ScalarType.Float32)).sum().backward();
        (oRef * weights.to_type(ScalarType.Float32)).sum().backward();
        string Relative(Tensor a, Tensor e) => $"{((a.to_type(ScalarType.Float32) - e).norm() / e.norm()).item<float>():E2}";
        string[] names = ["q", "k", "v", "kf", "vf"];
        output.WriteLine($"agree    tensor cores vs blockwise fp32, |x - ref| / |ref|: o {Relative(o, oRef)}, "
                         + string.Join(", ", names.Select((n, i) => $"d{n} {Relative(ours[i].grad!, reference[i].grad!)}"))
                         + $"; all finite: {isfinite(o).all().item<bool>() && ours.All(t => isfinite(t.grad!).all().item<bool>())}");
    }

    // The banded path (torch's fused attention over each query block's keys) at four block sizes: forward,
    // backward-inclusive step, and agreement with the blockwise path in fp32. Its executed work counts every slot.
    private void Banded(AttentionInputs[] sets, double useful, double bytes, Timing tensorCoreStep, DeviceCeilings? ceilings)
    {
        foreach (int block in new[] { 64, 128, 256, 512 })
        {
            long slots = (block + shape.Window - 1) + (block + shape.FadingTokens - 1) + (shape.EideticCapacity + block);
            double executed = 4.0 * shape.Batch * shape.Heads * ((shape.Length + block - 1) / block * block) * slots * shape.HeadDim;
            Timing forward = timer.Measure(3, shape.Runs, i =>
            {
                using var g = no_grad();
                AttentionInputs s = sets[i % InputSets];
                BmojoBanded.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Tables, shape.Window, shape.FadingTokens, shape.EideticCapacity, block).Dispose();
            });
            Report($"banded C {block} forward", forward, useful, executed, bytes, ceilings);
            Timing step = timer.Measure(2, shape.Runs, i =>
            {
                using var scope = NewDisposeScope();
                AttentionInputs s = sets[i % InputSets];
                Tensor[] leaves = s.Tensors.Select(t => t.detach().requires_grad_(true)).ToArray();
                BmojoBanded.Run(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], s.Tables, shape.Window, shape.FadingTokens,
                                shape.EideticCapacity, block).sum().backward();
            });
            // Useful backward work is twice the forward's (dV, dP, dK, dQ), so a step does 3 times the forward's.
            Report($"banded C {block} step", step, 3 * useful, 3 * executed, 3 * bytes, ceilings);
            string faster = DeviceCeilings.Faster(ceilings, $": {tensorCoreStep.Median / step.Median:F2}x the tensor-core step's speed");
            if (faster.Length > 0) output.WriteLine($"tc       banded C {block} training step{faster}");
        }
        using var agreeScope = NewDisposeScope();
        AttentionInputs a = sets[0];
        Tensor weights = randn_like(a.Q).to_type(ScalarType.Float32);
        Tensor[] ours = a.Tensors.Select(t => t.detach().requires_grad_(true)).ToArray();
        Tensor[] reference = a.Tensors.Select(t => t.detach().to_type(ScalarType.Float32).requires_grad_(true)).ToArray();
        Tensor o = BmojoBanded.Run(ours[0], ours[1], ours[2], ours[3], ours[4], a.Tables, shape.Window, shape.FadingTokens, shape.EideticCapacity, 64);
        Tensor oRef = BmojoBlockwise.Run(reference[0], reference[1], reference[2], reference[3], reference[4], a.Selected,
                                         shape.Window, shape.FadingTokens, shape.EideticCapacity, plan: null, blockSize: 64);
        (o.to_type(ScalarType.Float32) * weights).sum().backward();
        (oRef * weights).sum().backward();
        string Relative(Tensor x, Tensor e) => $"{((x.to_type(ScalarType.Float32) - e).norm() / e.norm()).item<float>():E2}";
        string[] names = ["q", "k", "v", "kf", "vf"];
        output.WriteLine($"agree    banded (bf16) vs blockwise fp32, |x - ref| / |ref|: o {Relative(o, oRef)}, "
                         + string.Join(", ", names.Select((n, i) => $"d{n} {Relative(ours[i].grad!, reference[i].grad!)}")));
    }

    // Useful FLOPs (4 Dh per visible query-key pair) and the FLOPs the 64 x 64 tiles execute, walking the tile ranges the
    // kernel walks (edge table on the host).
    private (double Useful, double Executed) Work(EideticTables tables)
    {
        int[] edge = tables.Edge.cpu().data<int>().ToArray();
        long length = shape.Length, useful = 0, tiles = 0;
        for (long b = 0; b < shape.Batch; b++)
            for (long first = 0; first < length; first += 64)
            {
                long last = Math.Min(first + 64, length) - 1;
                int edgeFirst = edge[b * length + first], edgeLast = edge[b * length + last];
                for (int source = 0; source < 3; source++)
                {
                    var rule = new BandRule(source, shape.Window, shape.FadingTokens, shape.EideticCapacity);
                    rule.Keys((int)first, (int)last, edgeFirst, edgeLast, out int start, out int end);
                    tiles += (end - start + 63) / 64;
                }
                for (long t = first; t <= last; t++)
                    useful += Math.Min(shape.Window, t + 1) + Math.Clamp(t - shape.Window + 1, 0, shape.FadingTokens)
                              + Math.Min(shape.EideticCapacity, edge[b * length + t]);
            }
        return (4.0 * shape.Heads * useful * shape.HeadDim, 4.0 * shape.Heads * tiles * 64 * 64 * 64);
    }

    private void Report(string name, Timing t, double useful, double executed, double bytes, DeviceCeilings? ceilings)
    {
        if (ceilings is null)
        {
            output.WriteLine($"tc       {name,-24} {t.Milliseconds}");
            return;
        }
        double matmulRate = ceilings.MatmulFlops, copyRate = ceilings.CopyBytesPerSecond;
        output.WriteLine($"tc       {name,-24} {t.Milliseconds}: useful {useful / t.Median / 1e12:F1} TFLOP/s = {useful / t.Median / matmulRate:P1} "
                         + $"of bf16 matmul, executed {executed / t.Median / 1e12:F1} TFLOP/s = {executed / t.Median / matmulRate:P1}; "
                         + $"{bytes / t.Median / 1e12:F2} TB/s = {bytes / t.Median / copyRate:P1} of copy");
    }

    private (Tensor Output, Tensor LogSumExp) Forward(AttentionInputs s) =>
        TensorCoreAttention.Forward(s.Q, s.K, s.V, s.Kf, s.Vf, s.Tables, shape.Window, shape.FadingTokens, shape.EideticCapacity);

    private void TrainingStep(AttentionInputs s, bool fused)
    {
        using var scope = NewDisposeScope();
        Tensor[] leaves = s.Tensors.Select(t => t.detach().requires_grad_(true)).ToArray();
        Tensor o = fused
            ? BmojoAttentionFunction.Apply(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], s.Selected,
                                           shape.Window, shape.FadingTokens, shape.EideticCapacity, blockSize: 64, s.Tables)
            : BmojoBlockwise.Run(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], s.Selected, shape.Window,
                                 shape.FadingTokens, shape.EideticCapacity, plan: null, blockSize: 64);
        o.sum().backward();
    }

    private AttentionInputs Inputs()
    {
        Tensor Make() => randn(shape.Batch, shape.Heads, shape.Length, shape.HeadDim, ScalarType.BFloat16, device);
        Tensor selected = rand(shape.Batch, shape.Length, device: device).lt(shape.Selected);
        return new AttentionInputs(Make(), Make(), Make(), Make(), Make(), selected, FusedBmojoAttention.Tables(selected, shape.Window));
    }

    private sealed record AttentionInputs(Tensor Q, Tensor K, Tensor V, Tensor Kf, Tensor Vf, Tensor Selected, EideticTables Tables)
    {
        public Tensor[] Tensors => [Q, K, V, Kf, Vf];
    }
}
