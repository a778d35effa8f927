using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Kernels;

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

    public static void Forward(TensorCoreAttentionArguments p)
    {
        ArrayView<uint> shared = SharedMemory.GetDynamic<uint>();
        ArrayView<uint> keyTile = shared.SubView(0, Mma.TileUints);
        ArrayView<uint> valueTile = shared.SubView(Mma.TileUints, Mma.TileUints);
        ArrayView<uint> offsets = shared.SubView(2 * Mma.TileUints, Mma.Size);

        int tiles = p.Tiles, length = p.Length;
        int bh = Grid.IdxX / tiles, b = bh / p.Heads;
        int kvRow = p.KvRow(b, bh - b * p.Heads), edgeRow = b * length;
        int first = (Grid.IdxX - bh * tiles) * Mma.Size, last = XMath.Min(first + Mma.Size, length) - 1;
        int thread = Group.IdxX, lane = thread & 31;
        int low = first + 16 * (thread >> 5) + (lane >> 2), high = low + 8;     // the lane's two query rows
        int lowRow = low < length ? (bh * length + low) * 32 : -1, highRow = high < length ? (bh * length + high) * 32 : -1;

        Operand16x64 q = Mma.LoadRows(p.Q, lowRow, highRow, lane);
        int edgeLow = p.EideticEdge[edgeRow + XMath.Min(low, length - 1)], edgeHigh = p.EideticEdge[edgeRow + XMath.Min(high, length - 1)];
        int edgeFirst = p.EideticEdge[edgeRow + first], edgeLast = p.EideticEdge[edgeRow + last];
        float maxLow = float.NegativeInfinity, maxHigh = float.NegativeInfinity, sumLow = 0f, sumHigh = 0f;
        Tile16x64 o = default;

        for (int source = 0; source < 3; source++)
        {
            var rule = new BandRule(source, p.Window, p.FadingTokens, p.EideticCapacity);
            rule.Keys(first, last, edgeFirst, edgeLast, out int start, out int end);
            ArrayView<uint> keys = source == 1 ? p.FadingK : p.K, values = source == 1 ? p.FadingV : p.V;
            for (int tileStart = start; tileStart < end; tileStart += Mma.Size)
            {
                int count = XMath.Min(Mma.Size, end - tileStart);
                Group.Barrier();                            // the last tile is read by every warp
                if (thread < Mma.Size)
                {
                    int position = thread >= count ? -1
                        : source == 2 ? p.EideticPositions[edgeRow + tileStart + thread] : tileStart + thread;
                    offsets[thread] = position < 0 ? SharedTiles.NoRow : (uint)((kvRow + position) * 32);
                }
                Group.Barrier();
                SharedTiles.StageRows(keyTile, keys, offsets, thread);
                SharedTiles.StageTransposed(valueTile, values, offsets, thread);
                Group.Barrier();

                Tile16x64 s = default;
                Mma.Accumulate(ref s, q, keyTile, lane);    // raw scores q · k
                if (count < Mma.Size || !rule.Covers(first, last, tileStart, tileStart + Mma.Size - 1, edgeFirst, edgeLast))
                    Mma.Map(ref s, new QueryBandMask { Rule = rule, First = tileStart, End = tileStart + count, Low = low, High = high, EdgeLow = edgeLow, EdgeHigh = edgeHigh }, lane);

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
                Mma.Accumulate(ref o, Mma.Pack(s), valueTile, lane);
            }
        }

        float totalLow = Mma.SumOverRow(sumLow), totalHigh = Mma.SumOverRow(sumHigh);
        SharedTiles.StoreBf16(p.Output, lowRow, highRow, o, totalLow > 0f ? 1f / totalLow : 0f, totalHigh > 0f ? 1f / totalHigh : 0f, lane);
        if ((lane & 3) == 0)
        {
            if (low < length) p.LogSumExp[bh * length + low] = totalLow > 0f ? maxLow + XMath.Log2(totalLow) : float.PositiveInfinity;
            if (high < length) p.LogSumExp[bh * length + high] = totalHigh > 0f ? maxHigh + XMath.Log2(totalHigh) : float.PositiveInfinity;
        }
    }
}
