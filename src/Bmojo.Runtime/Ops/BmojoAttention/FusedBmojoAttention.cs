using static Bmojo.Runtime.Gpu.KernelTensors;
using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>
/// The B'MOJO softmax (rules (a)-(c) of docs/bmojo-layer.md: window, fading band, eidetic memory) as one
/// fused ILGPU kernel, on CUDA tensors or (through ILGPU's CPU accelerator) CPU tensors. Same function as
/// <see cref="BmojoMask"/> + <see cref="MaskedAttention"/> over <c>[k | kf]</c>, without the
/// (L x 2L) mask: O(L) extra memory (two int32 (B, L) tables), O(L (w + m_f + m_e)) work, fp32 accumulation.
/// The eidetic FIFO rule comes from prefix sums computed here with torch: <c>S[t - w]</c> per query and the positions
/// of the selected tokens in rank order; query t keeps ranks <c>[S[t-w] - m_e, S[t-w])</c>. Retrieval (rule (d)) is
/// not in the kernel. bf16 inputs with heads of at most 64 run on the tensor cores (<see cref="TensorCoreAttention"/>:
/// bf16 operands, fp32 softmax and accumulation); everything else on the fp32 kernel (<see cref="BmojoAttentionKernel"/>,
/// CUDA cores, inputs taken as fp32 and contiguous: other dtypes or layouts cost one conversion copy each). The output
/// comes back in q's dtype. Forward only: for training use <see cref="BmojoAttentionFunction"/>.
/// </summary>
public static class FusedBmojoAttention
{
    private const string Operation = "fused B'MOJO attention";

    /// <summary>The largest head size the kernel holds (four output dimensions per lane).</summary>
    public const int MaxHeadDim = BmojoAttentionKernel.MaxHeadDim;

    /// <summary>Queries (warps) per block by default, the best of 8, 16 and 32 on the H200 (docs/benchmarks.md), halved
    /// while the block's shared memory would pass <see cref="MaxSharedBytes"/> (head sizes over 96).</summary>
    public const int DefaultQueriesPerBlock = 32;

    /// <summary>The dynamic shared memory a launch may ask for without an opt-in: 48 KiB.</summary>
    public const int MaxSharedBytes = 48 * 1024;

    private static readonly StreamKernel<BmojoAttentionArguments> Kernel = new(BmojoAttentionKernel.Forward);

    /// <param name="q">Queries <c>(B, H, L, Dh)</c>.</param>
    /// <param name="k">Keys <c>(B, Hkv, L, Dh)</c>; Hkv divides H (grouped-query attention).</param>
    /// <param name="v">Values <c>(B, Hkv, L, Dh)</c>.</param>
    /// <param name="kf">Fading keys <c>(B, Hkv, L, Dh)</c>.</param>
    /// <param name="vf">Fading values <c>(B, Hkv, L, Dh)</c>.</param>
    /// <param name="selected">s of the innovation test <c>(B, L)</c> bool.</param>
    /// <param name="window">w (0 allowed).</param>
    /// <param name="fadingTokens">m_f (0 allowed).</param>
    /// <param name="eideticCapacity">m_e (0 allowed).</param>
    /// <param name="queriesPerBlock">Queries (one warp each) that share a block's key tiles in the fp32 kernel, 1 to 32,
    /// within <see cref="MaxSharedBytes"/>; null: <see cref="DefaultQueriesPerBlock"/>, halved until it fits. Given, it
    /// asks for the fp32 kernel also for bf16 inputs (the tensor-core kernel's blocks are 64 queries).</param>
    /// <returns><c>(B, H, L, Dh)</c> in q's dtype; 0 for a query that sees no key.</returns>
    public static Tensor Run(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, Tensor selected,
                             int window, int fadingTokens, int eideticCapacity, int? queriesPerBlock = null)
    {
        Check(q, k, v, kf, vf, selected, window, fadingTokens, eideticCapacity);
        using var scope = NewDisposeScope();
        return Run(q, k, v, kf, vf, Tables(selected, window), window, fadingTokens, eideticCapacity, queriesPerBlock).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="Run(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, int, int, int, int?)"/> with the eidetic
    /// tables already made (by <see cref="FusedInnovation"/> or <see cref="Tables"/>); arguments checked by the caller.</summary>
    internal static Tensor Run(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, EideticTables tables,
                               int window, int fadingTokens, int eideticCapacity, int? queriesPerBlock)
    {
        if (queriesPerBlock is null && TensorCoreAttention.Handles(q))
        {
            using var tensorCores = NewDisposeScope();
            (Tensor padded, _) = TensorCoreAttention.Forward(q, k, v, kf, vf, tables, window, fadingTokens, eideticCapacity);
            return padded.narrow(3, 0, q.shape[3]).contiguous().MoveToOuterDisposeScope();
        }
        int queries = queriesPerBlock ?? DefaultQueriesPerBlock;
        while (queriesPerBlock is null && queries > 1 && SharedBytes(q.shape[3], queries) > MaxSharedBytes) queries /= 2;
        if (queries is < 1 or > 32 || SharedBytes(q.shape[3], queries) > MaxSharedBytes)
            throw new ArgumentOutOfRangeException(nameof(queriesPerBlock), queriesPerBlock,
                $"{Operation}: {queries} queries per block with head size {q.shape[3]} need {SharedBytes(q.shape[3], queries)} bytes "
                + $"of shared memory; it must be 1 to 32 queries within {MaxSharedBytes} bytes");
        long batch = q.shape[0], heads = q.shape[1], length = q.shape[2], headDim = q.shape[3], kvHeads = k.shape[1];

        using var scope = NewDisposeScope();
        KernelHost host = KernelHost.For(q);
        Tensor output = empty(batch, heads, length, headDim, ScalarType.Float32, q.device);   // (B, H, L, Dh)
        Tensor qf = Fp32(q), kF = Fp32(k), vF = Fp32(v), kfF = Fp32(kf), vfF = Fp32(vf);

        using (var views = new TorchInterop(host, Operation))
        {
            var arguments = new BmojoAttentionArguments
            {
                Q = views.Float32(qf, "q", batch, heads, length, headDim),
                K = views.Float32(kF, "k", batch, kvHeads, length, headDim),
                V = views.Float32(vF, "v", batch, kvHeads, length, headDim),
                FadingK = views.Float32(kfF, "kf", batch, kvHeads, length, headDim),
                FadingV = views.Float32(vfF, "vf", batch, kvHeads, length, headDim),
                EideticEdge = views.Int32(tables.Edge, "eidetic edge", batch, length),
                EideticPositions = views.Int32(tables.Positions, "eidetic positions", batch, length),
                Output = views.Float32(output, "output", batch, heads, length, headDim),
                Heads = (int)heads, KvHeads = (int)kvHeads, Length = (int)length, HeadDim = (int)headDim,
                Window = window, FadingTokens = fadingTokens, EideticCapacity = eideticCapacity, Queries = queries,
                Scale = (float)(1.0 / Math.Sqrt(headDim)),
            };
            long groups = batch * heads * BmojoAttentionKernel.GroupsPerHead((int)length, queries);
            if (groups > 0 && headDim > 0)
                host.Launch(accelerator => Kernel.On(accelerator)(
                    ((int)groups, queries * BmojoAttentionKernel.WarpSize,
                     SharedMemoryConfig.RequestDynamic<float>(BmojoAttentionKernel.SharedFloats((int)headDim, queries))),
                    arguments));
        }
        return output.to_type(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The eidetic FIFO rule as tables: <c>S[t - w]</c> (0 while t &lt; w), the positions of the selected
    /// tokens in increasing order (rank r at column r; columns past the count are 0) and the count per sequence.</summary>
    internal static EideticTables Tables(Tensor selected, int window)
    {
        using var scope = NewDisposeScope();
        long batch = selected.shape[0], length = selected.shape[1];
        Tensor prefix = selected.to_type(ScalarType.Int64).cumsum(1);                          // (B, L): S
        Tensor edge = window >= length ? zeros_like(prefix)
            : cat([zeros(batch, window, ScalarType.Int64, selected.device), prefix.narrow(1, 0, length - window)], 1);
        Tensor rank = (prefix - 1).masked_fill(selected.logical_not(), length);                 // unselected: slot L
        Tensor positions = zeros(batch, length + 1, ScalarType.Int64, selected.device)
            .scatter_(1, rank, arange(length, device: selected.device).expand(batch, -1))
            .narrow(1, 0, length);                                                              // (B, L)
        return new EideticTables(edge.to_type(ScalarType.Int32).contiguous().MoveToOuterDisposeScope(),
                                 positions.to_type(ScalarType.Int32).contiguous().MoveToOuterDisposeScope(),
                                 selected.to_type(ScalarType.Int32).sum([1], type: ScalarType.Int32).contiguous().MoveToOuterDisposeScope());
    }

    private static void Check(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, Tensor selected,
                              int window, int fadingTokens, int eideticCapacity)
    {
        static string Shape(Tensor t) => "(" + string.Join(", ", t.shape) + ")";
        if (q.dim() != 4)
            throw new ArgumentException($"{Operation}: q must be (B, H, L, Dh), got {Shape(q)}");
        long batch = q.shape[0], length = q.shape[2], headDim = q.shape[3];
        foreach ((Tensor t, string name) in new[] { (k, "k"), (v, "v"), (kf, "kf"), (vf, "vf") })
        {
            if (t.dim() != 4 || t.shape[0] != batch || t.shape[2] != length || t.shape[3] != headDim
                || t.shape[1] != k.shape[1] || k.shape[1] < 1 || q.shape[1] % k.shape[1] != 0)
                throw new ArgumentException($"{Operation}: {name} must be (B={batch}, Hkv, L={length}, Dh={headDim}) with Hkv "
                                            + $"dividing H={q.shape[1]} and the same for k, v, kf, vf; got {name} {Shape(t)}, k {Shape(k)}");
            if (t.device_type != q.device_type || t.device_index != q.device_index)
                throw new ArgumentException($"{Operation}: {name} is on {t.device}, q is on {q.device}");
        }
        if (selected.dim() != 2 || selected.shape[0] != batch || selected.shape[1] != length || selected.dtype != ScalarType.Bool)
            throw new ArgumentException($"{Operation}: selected must be bool (B={batch}, L={length}), got {selected.dtype} {Shape(selected)}");
        if (selected.device_type != q.device_type || selected.device_index != q.device_index)
            throw new ArgumentException($"{Operation}: selected is on {selected.device}, q is on {q.device}");
        if (headDim > MaxHeadDim)
            throw new ArgumentException($"{Operation}: head size {headDim} is over the kernel's {MaxHeadDim}; use the blockwise path");
        if (window < 0 || fadingTokens < 0 || eideticCapacity < 0)
            throw new ArgumentException($"{Operation}: window ({window}), fading tokens ({fadingTokens}) and eidetic capacity "
                                        + $"({eideticCapacity}) must be >= 0");
        if (batch * q.shape[1] * length * headDim > int.MaxValue)
            throw new ArgumentException($"{Operation}: q {Shape(q)} has more than 2^31 elements; split the batch");
    }

    private static long SharedBytes(long headDim, int queries) =>
        sizeof(float) * (long)BmojoAttentionKernel.SharedFloats((int)Math.Min(headDim, int.MaxValue / 256), queries);
}
