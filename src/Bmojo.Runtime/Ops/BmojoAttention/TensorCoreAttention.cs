using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>The gradients of the B'MOJO softmax with respect to q, k, v, kf and vf, in the inputs' shapes and dtype.</summary>
public sealed record BmojoAttentionGradients(Tensor Q, Tensor K, Tensor V, Tensor Kf, Tensor Vf);

/// <summary>
/// Host side of the tensor-core B'MOJO attention (<see cref="TensorCoreAttentionKernel"/>,
/// <see cref="TensorCoreAttentionBackwardKernel"/>): bf16 q, k, v, kf, vf with heads of at most 64 (smaller heads are
/// zero-padded to 64, which changes no score), fp32 softmax and accumulation. The forward pass returns O and the
/// rows' log2-sum-exp (O(L) memory); the backward pass recomputes the probabilities from them. The eidetic FIFO rule
/// comes in as the tables of <see cref="FusedBmojoAttention.EideticTables"/>.
/// </summary>
internal static class TensorCoreAttention
{
    private const string Operation = "tensor-core B'MOJO attention";

    private static readonly TensorCoreKernel<TensorCoreAttentionArguments> ForwardKernel = new(
        TensorCoreAttentionKernel.Forward<CudaTensorCores>, TensorCoreAttentionKernel.Forward<EmulatedTensorCores>);
    private static readonly TensorCoreKernel<TensorCoreAttentionArguments> KeyKernel = new(
        TensorCoreAttentionBackwardKernel.KeyGradients<CudaTensorCores>, TensorCoreAttentionBackwardKernel.KeyGradients<EmulatedTensorCores>);
    private static readonly TensorCoreKernel<TensorCoreAttentionArguments> QueryKernel = new(
        TensorCoreAttentionBackwardKernel.QueryGradients<CudaTensorCores>, TensorCoreAttentionBackwardKernel.QueryGradients<EmulatedTensorCores>);

    /// <summary>The largest head size the tensor-core kernels hold.</summary>
    public const int MaxHeadDim = Mma.Size;

    /// <summary>True when the inputs take the tensor-core kernels: bf16 and heads of at most 64.</summary>
    public static bool Handles(Tensor q) => q.dtype == ScalarType.BFloat16 && q.shape[3] <= MaxHeadDim;

    /// <summary>O <c>(B, H, L, 64)</c> bf16 (the head zero-padded to 64) and the log2-sum-exp <c>(B, H, L)</c> fp32.</summary>
    public static (Tensor Output, Tensor LogSumExp) Forward(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, EideticTables tables,
                                                            int window, int fadingTokens, int eideticCapacity)
    {
        using var scope = NewDisposeScope();
        long batch = q.shape[0], heads = q.shape[1], length = q.shape[2];
        Tensor output = empty(batch, heads, length, Mma.Size, ScalarType.BFloat16, q.device);
        Tensor lse = empty(batch, heads, length, ScalarType.Float32, q.device);
        Launch(q, k, v, kf, vf, tables, window, fadingTokens, eideticCapacity, (views, a) =>
               {
                   a.Output = views.Bf16Pairs(output, "output", batch, heads, length, Mma.Size);
                   a.LogSumExp = views.Float32(lse, "log-sum-exp", batch, heads, length);
                   return a;
               }, (ForwardKernel, (int)(batch * heads), TensorCoreAttentionKernel.SharedUints));
        return (output.MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope());
    }

    /// <summary>The gradients, from the forward pass's padded O and log2-sum-exp and the gradient of O
    /// <c>(B, H, L, Dh)</c>.</summary>
    public static BmojoAttentionGradients Backward(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, EideticTables tables,
                                                   int window, int fadingTokens, int eideticCapacity,
                                                   Tensor output, Tensor logSumExp, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        long batch = q.shape[0], heads = q.shape[1], length = q.shape[2], headDim = q.shape[3], kvHeads = k.shape[1];
        Tensor gradO = Padded(gradOutput);                                                        // (B, H, L, 64) bf16
        Tensor delta = (gradO.to_type(ScalarType.Float32) * output.to_type(ScalarType.Float32)).sum(-1).contiguous(); // (B, H, L)
        Tensor Buffer() => empty(batch, heads, length, Mma.Size, ScalarType.Float32, q.device);  // (B, H, L, 64) fp32
        Tensor gradQ = Buffer(), gradK = Buffer(), gradV = Buffer(), gradKf = Buffer(), gradVf = Buffer();
        Tensor gradRankK = Buffer(), gradRankV = Buffer();
        Func<TorchInterop, TensorCoreAttentionArguments, TensorCoreAttentionArguments> gradients = (views, a) =>
        {
            long[] rows = [batch, heads, length, Mma.Size];
            a.GradOutput = views.Bf16Pairs(gradO, "gradOutput", rows);
            a.LogSumExp = views.Float32(logSumExp.contiguous(), "log-sum-exp", batch, heads, length);
            a.Delta = views.Float32(delta, "delta", batch, heads, length);
            a.GradQ = views.Float32(gradQ, "gradQ", rows);
            a.GradK = views.Float32(gradK, "gradK", rows);
            a.GradV = views.Float32(gradV, "gradV", rows);
            a.GradFadingK = views.Float32(gradKf, "gradKf", rows);
            a.GradFadingV = views.Float32(gradVf, "gradVf", rows);
            a.GradRankK = views.Float32(gradRankK, "gradRankK", rows);
            a.GradRankV = views.Float32(gradRankV, "gradRankV", rows);
            return a;
        };
        Launch(q, k, v, kf, vf, tables, window, fadingTokens, eideticCapacity, gradients,
               (KeyKernel, (int)(3 * batch * heads), TensorCoreAttentionBackwardKernel.KeySharedUints),
               (QueryKernel, (int)(batch * heads), TensorCoreAttentionBackwardKernel.QuerySharedUints));

        // Eidetic contributions come by rank: add them to the rows of their positions (ranks past the count are 0).
        Tensor ranks = arange(length, device: q.device).unsqueeze(0);                             // (1, L)
        Tensor positions = tables.Positions.to_type(ScalarType.Int64)
            .masked_fill(ranks.ge(tables.Count.to_type(ScalarType.Int64).unsqueeze(1)), 0);       // (B, L)
        gradK.scatter_add_(2, positions.view(batch, 1, length, 1).expand(batch, heads, length, Mma.Size), gradRankK);
        gradV.scatter_add_(2, positions.view(batch, 1, length, 1).expand(batch, heads, length, Mma.Size), gradRankV);

        // (B, H, L, 64) per query head -> (B, Hkv, L, Dh): the heads of a group share their keys and values.
        Tensor PerKvHead(Tensor g) => g.view(batch, kvHeads, heads / kvHeads, length, Mma.Size).sum(2).narrow(3, 0, headDim);
        return new BmojoAttentionGradients(
            gradQ.narrow(3, 0, headDim).to_type(q.dtype).MoveToOuterDisposeScope(),
            PerKvHead(gradK).to_type(k.dtype).MoveToOuterDisposeScope(),
            PerKvHead(gradV).to_type(v.dtype).MoveToOuterDisposeScope(),
            PerKvHead(gradKf).to_type(kf.dtype).MoveToOuterDisposeScope(),
            PerKvHead(gradVf).to_type(vf.dtype).MoveToOuterDisposeScope());
    }

    /// <summary>A contiguous bf16 copy with the last dimension zero-padded to 64 (itself when it already is one).</summary>
    internal static Tensor Padded(Tensor t)
    {
        Tensor bf16 = t.to_type(ScalarType.BFloat16);
        return (t.shape[3] == Mma.Size ? bf16 : nn.functional.pad(bf16, [0, Mma.Size - t.shape[3]])).contiguous();
    }

    // One set of padded inputs and views for the kernels, launched in order under one ordering against torch; rows: the
    // (source,) batch, head count each kernel's grid covers, times the tiles of L.
    private static void Launch(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, EideticTables tables,
                               int window, int fadingTokens, int eideticCapacity,
                               Func<TorchInterop, TensorCoreAttentionArguments, TensorCoreAttentionArguments> outputs,
                               params (TensorCoreKernel<TensorCoreAttentionArguments> Kernel, int Rows, int SharedUints)[] kernels)
    {
        long batch = q.shape[0], heads = q.shape[1], length = q.shape[2], kvHeads = k.shape[1];
        if (batch * heads * length * Mma.Size * 2 > int.MaxValue)
            throw new ArgumentException($"{Operation}: q (B={batch}, H={heads}, L={length}) has more than 2^30 padded elements; split the batch");
        using var scope = NewDisposeScope();
        KernelHost host = KernelHost.For(q);
        Tensor qp = Padded(q), kp = Padded(k), vp = Padded(v), kfp = Padded(kf), vfp = Padded(vf);
        using var views = new TorchInterop(host, Operation);
        long[] kvShape = [batch, kvHeads, length, Mma.Size];
        var arguments = new TensorCoreAttentionArguments
        {
            Q = views.Bf16Pairs(qp, "q", batch, heads, length, Mma.Size),
            K = views.Bf16Pairs(kp, "k", kvShape),
            V = views.Bf16Pairs(vp, "v", kvShape),
            FadingK = views.Bf16Pairs(kfp, "kf", kvShape),
            FadingV = views.Bf16Pairs(vfp, "vf", kvShape),
            EideticEdge = views.Int32(tables.Edge, "eidetic edge", batch, length),
            EideticPositions = views.Int32(tables.Positions, "eidetic positions", batch, length),
            SelectedCount = views.Int32(tables.Count, "selected count", batch),
            Heads = (int)heads, KvHeads = (int)kvHeads, Length = (int)length,
            Window = window, FadingTokens = fadingTokens, EideticCapacity = eideticCapacity,
            Scale = (float)(1.0 / Math.Sqrt(q.shape[3])),
            ScaleLog2 = (float)(1.0 / (Math.Sqrt(q.shape[3]) * Math.Log(2.0))),
        };
        arguments = outputs(views, arguments);
        if (arguments.Tiles == 0 || batch * heads == 0) return;
        host.Launch(accelerator =>
        {
            foreach (var (kernel, rows, sharedUints) in kernels)
                kernel.On(accelerator)((rows * arguments.Tiles, SharedTiles.Threads, SharedMemoryConfig.RequestDynamic<uint>(sharedUints)), arguments);
        });
    }
}

/// <summary>The eidetic FIFO rule as tables for the fused kernels: <c>S[t - w]</c> per query, the positions of the
/// selected tokens in rank order (columns past the count unused) <c>(B, L)</c> int32 each, and the count
/// <c>S[L - 1]</c> per sequence <c>(B)</c> int32.</summary>
internal sealed record EideticTables(Tensor Edge, Tensor Positions, Tensor Count);
