using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>Everything the tensor-core B'MOJO attention kernels read and write. bf16 tensors are uint views of bf16
/// pairs: a row of the head size 64 is 32 uints.</summary>
internal struct TensorCoreAttentionArguments
{
    public ArrayView<uint> Q;                  // (B, H, L, 64) bf16
    public ArrayView<uint> K;                  // (B, Hkv, L, 64) bf16
    public ArrayView<uint> V;                  // (B, Hkv, L, 64) bf16
    public ArrayView<uint> FadingK;            // (B, Hkv, L, 64) bf16: kf
    public ArrayView<uint> FadingV;            // (B, Hkv, L, 64) bf16: vf
    public ArrayView<int> EideticEdge;         // (B, L): S[t - w]
    public ArrayView<int> EideticPositions;    // (B, L): position of the rank-r selected token
    public ArrayView<int> SelectedCount;       // (B): S[L - 1], the ranks in use (backward only)
    public ArrayView<uint> Output;             // (B, H, L, 64) bf16 (forward)
    public ArrayView<float> LogSumExp;         // (B, H, L): log2 of the softmax denominator of the scaled scores; +inf: no key
    public ArrayView<uint> GradOutput;         // (B, H, L, 64) bf16 (backward)
    public ArrayView<float> Delta;             // (B, H, L): rowsum(dO ∘ O) (backward)
    public ArrayView<float> GradQ;             // (B, H, L, 64) fp32 (backward)
    public ArrayView<float> GradK, GradV;      // (B, H, L, 64) fp32 per query head: window contributions by position
    public ArrayView<float> GradFadingK, GradFadingV;   // (B, H, L, 64) fp32: fading contributions by position
    public ArrayView<float> GradRankK, GradRankV;       // (B, H, L, 64) fp32: eidetic contributions by rank
    public int Heads;
    public int KvHeads;
    public int Length;
    public int Window;
    public int FadingTokens;
    public int EideticCapacity;
    public float ScaleLog2;                    // log2(e) / sqrt(head size)
    public float Scale;                        // 1 / sqrt(head size)

    /// <summary>Query tiles (and key tiles) of 64 along L.</summary>
    public readonly int Tiles => (Length + Mma.Size - 1) / Mma.Size;

    /// <summary>The row of position 0 of query head <paramref name="h"/>'s key/value head in K, V, kf, vf.</summary>
    public readonly int KvRow(int b, int h) => (b * KvHeads + h / (Heads / KvHeads)) * Length;
}

/// <summary>
/// The B'MOJO softmax forward on the tensor cores (bf16 operands, fp32 accumulation and softmax), FlashAttention-2
/// style: a block of 4 warps serves 64 consecutive queries of one (batch, head), a warp 16 of them, its queries'
/// A operand in registers for the whole kernel. It walks the three sources (window, fading band, eidetic memory by
/// rank) in tiles of 64 keys: the block stages the tile's keys (n-major) and values (transposed) in shared memory,
/// each warp computes its 16 x 64 scores with 32 <c>mma.m16n8k16</c>, masks them only where the tile pair is not
/// wholly visible, updates its rows' running max and sum (online softmax, base 2, scale folded in), rescales its
/// output rows and adds <c>P · V</c> with P rounded to bf16 straight from the score registers (32 more mma).
/// Writes O (bf16) and the rows' log2-sum-exp for the backward pass. A query that sees no key gets 0 and +inf.
/// </summary>
internal static class TensorCoreAttentionKernel
{
    /// <summary>uints of dynamic shared memory: the key tile, the transposed value tile, 64 row offsets.</summary>
    public const int SharedUints = 2 * Mma.TileUints + Mma.Size;

    public static void Forward<TCores>(TensorCoreAttentionArguments p) where TCores : struct, ITensorCores
    {
        TCores cores = default;
        ArrayView<uint> shared = SharedMemory.GetDynamic<uint>();
        SharedTile keyTile = SharedTile.At(shared, 0);
        SharedTile valueTile = SharedTile.At(shared, Mma.TileUints);
        ArrayView<uint> offsets = shared.SubView(2 * Mma.TileUints, Mma.Size);

        int thread = Group.IdxX, lane = thread & 31;
        var block = new QueryBlock(p, thread);
        Operand16x64 q = Mma.LoadRows(p.Q, block.LowRow, block.HighRow, lane);
        float maxLow = float.NegativeInfinity, maxHigh = float.NegativeInfinity, sumLow = 0f, sumHigh = 0f;
        Tile16x64 o = default;

        for (int source = 0; source < 3; source++)
        {
            var rule = new BandRule(source, p.Window, p.FadingTokens, p.EideticCapacity);
            rule.Keys(block.First, block.Last, block.EdgeFirst, block.EdgeLast, out int start, out int end);
            ArrayView<uint> keys = source == 1 ? p.FadingK : p.K, values = source == 1 ? p.FadingV : p.V;
            for (int tileStart = start; tileStart < end; tileStart += Mma.Size)
            {
                int count = XMath.Min(Mma.Size, end - tileStart);
                Group.Barrier();                            // the last tile is read by every warp
                block.StageKeyOffsets(p, offsets, source, tileStart, count, thread);
                Group.Barrier();
                SharedTiles.StageRows(keyTile, keys, offsets, thread);
                SharedTiles.StageTransposed(valueTile, values, offsets, thread);
                Group.Barrier();

                Tile16x64 s = default;
                cores.Accumulate(ref s, q, keyTile, lane);    // raw scores q · k
                if (block.Masked(rule, tileStart, count))
                    Mma.Map(ref s, block.Mask(rule, tileStart, count), lane);

                Mma.RowMax(s, out float tileLow, out float tileHigh);
                float newLow = XMath.Max(maxLow, tileLow * p.ScaleLog2), newHigh = XMath.Max(maxHigh, tileHigh * p.ScaleLog2);
                // A row that has seen no key yet keeps max -inf; exponents against 0 then give 0 for its -inf scores.
                float safeLow = newLow == float.NegativeInfinity ? 0f : newLow, safeHigh = newHigh == float.NegativeInfinity ? 0f : newHigh;
                float correctionLow = XMath.Exp2(maxLow - safeLow), correctionHigh = XMath.Exp2(maxHigh - safeHigh);
                maxLow = newLow;
                maxHigh = newHigh;
                Mma.Map(ref s, new Exponent { Scale = p.ScaleLog2, Low = safeLow, High = safeHigh }, lane);
                Mma.PartialRowSums(s, out float partLow, out float partHigh);
                sumLow = sumLow * correctionLow + partLow;
                sumHigh = sumHigh * correctionHigh + partHigh;
                Mma.ScaleRows(ref o, correctionLow, correctionHigh);
                cores.Accumulate(ref o, cores.Pack(s), valueTile, lane);
            }
        }

        float totalLow = Mma.SumOverRow(sumLow), totalHigh = Mma.SumOverRow(sumHigh);
        SharedTiles.StoreBf16<TCores>(p.Output, block.LowRow, block.HighRow, o, totalLow > 0f ? 1f / totalLow : 0f, totalHigh > 0f ? 1f / totalHigh : 0f, lane);
        if ((lane & 3) == 0)
        {
            if (block.Low < p.Length) p.LogSumExp[block.Bh * p.Length + block.Low] = totalLow > 0f ? maxLow + XMath.Log2(totalLow) : float.PositiveInfinity;
            if (block.High < p.Length) p.LogSumExp[block.Bh * p.Length + block.High] = totalHigh > 0f ? maxHigh + XMath.Log2(totalHigh) : float.PositiveInfinity;
        }
    }
}

/// <summary>The 64 queries of one block of the query-centric kernels (forward, dQ): block <c>Grid.IdxX</c> serves
/// (batch, head) <see cref="Bh"/>, queries <see cref="First"/>..<see cref="Last"/>; the calling lane holds rows
/// <see cref="Low"/> (g) and <see cref="High"/> (g + 8) of its warp's 16, with their edges and row offsets.</summary>
internal readonly struct QueryBlock
{
    public readonly int Bh, KvRow, EdgeRow, First, Last, Low, High, LowRow, HighRow, EdgeLow, EdgeHigh, EdgeFirst, EdgeLast;

    public QueryBlock(TensorCoreAttentionArguments p, int thread)
    {
        int tiles = p.Tiles, length = p.Length, lane = thread & 31;
        Bh = Grid.IdxX / tiles;
        int b = Bh / p.Heads;
        KvRow = p.KvRow(b, Bh - b * p.Heads);
        EdgeRow = b * length;
        First = (Grid.IdxX - Bh * tiles) * Mma.Size;
        Last = XMath.Min(First + Mma.Size, length) - 1;
        Low = First + 16 * (thread >> 5) + (lane >> 2);
        High = Low + 8;
        LowRow = Low < length ? (Bh * length + Low) * 32 : -1;       // uint offsets of the rows in (B, H, L, 64) bf16
        HighRow = High < length ? (Bh * length + High) * 32 : -1;
        EdgeLow = p.EideticEdge[EdgeRow + XMath.Min(Low, length - 1)];
        EdgeHigh = p.EideticEdge[EdgeRow + XMath.Min(High, length - 1)];
        EdgeFirst = p.EideticEdge[EdgeRow + First];
        EdgeLast = p.EideticEdge[EdgeRow + Last];
    }

    /// <summary>Threads 0-63 stage the uint offsets of the key tile's rows (key positions, or the positions of the
    /// selected tokens of ranks <paramref name="tileStart"/>.. for the eidetic source); rows past the count: none.</summary>
    public void StageKeyOffsets(TensorCoreAttentionArguments p, ArrayView<uint> offsets, int source, int tileStart, int count, int thread)
    {
        if (thread >= Mma.Size) return;
        int position = thread >= count ? -1 : source == 2 ? p.EideticPositions[EdgeRow + tileStart + thread] : tileStart + thread;
        offsets[thread] = position < 0 ? SharedTiles.NoRow : (uint)((KvRow + position) * 32);
    }

    /// <summary>The tile of <paramref name="count"/> keys from <paramref name="tileStart"/> needs masking: not every
    /// query of the block sees every key of it.</summary>
    public bool Masked(BandRule rule, int tileStart, int count) =>
        count < Mma.Size || !rule.Covers(First, Last, tileStart, tileStart + Mma.Size - 1, EdgeFirst, EdgeLast);

    /// <summary>The mask of the lane's two rows against that tile.</summary>
    public QueryBandMask Mask(BandRule rule, int tileStart, int count) => new()
    {
        Rule = rule, First = tileStart, End = tileStart + count, Low = Low, High = High, EdgeLow = EdgeLow, EdgeHigh = EdgeHigh,
    };
}
