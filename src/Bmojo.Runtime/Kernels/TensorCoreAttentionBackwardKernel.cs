using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Kernels;

/// <summary>
/// The backward pass of <see cref="TensorCoreAttentionKernel"/>, FlashAttention-2 style, in two kernels that
/// recompute the probabilities from the saved log2-sum-exp (no L x L anything, no atomics):
/// <list type="bullet">
/// <item><see cref="KeyGradients"/>: a block per (source, batch, query head, tile of 64 keys): the window and fading
/// sources by position, the eidetic source by rank (its keys gathered through the positions table). It walks the
/// queries that see its keys in tiles of 64 (staged as rows and transposed, with dO likewise) and accumulates
/// <c>dV += Pᵀ dO</c> and <c>dK += dSᵀ Q</c> in registers, <c>dSᵀ = Pᵀ ∘ (V dOᵀ - D)</c>; written per query head and
/// source, summed over the heads of a group and scattered from ranks to positions by the host.</item>
/// <item><see cref="QueryGradients"/>: a block per 64 queries, over the key tiles the forward pass walked:
/// <c>dQ += dS K</c> with <c>dS = P ∘ (dO Vᵀ - D)</c>.</item>
/// </list>
/// <c>D = rowsum(dO ∘ O)</c> comes from the host. Gradients are fp32; every row of every output is written.
/// </summary>
internal static class TensorCoreAttentionBackwardKernel
{
    /// <summary>uints of shared memory of <see cref="KeyGradients"/>: Q, Qᵀ, dO, dOᵀ tiles, then the query tile's
    /// offsets, log2-sum-exp, D and edges (64 each).</summary>
    public const int KeySharedUints = 4 * Mma.TileUints + 4 * Mma.Size;

    /// <summary>uints of shared memory of <see cref="QueryGradients"/>: K, V and Kᵀ tiles and 64 offsets.</summary>
    public const int QuerySharedUints = 3 * Mma.TileUints + Mma.Size;

    public static void KeyGradients(TensorCoreAttentionArguments p)
    {
        ArrayView<uint> shared = SharedMemory.GetDynamic<uint>();
        ArrayView<uint> queryTile = shared.SubView(0, Mma.TileUints);
        ArrayView<uint> queryTileT = shared.SubView(Mma.TileUints, Mma.TileUints);
        ArrayView<uint> gradTile = shared.SubView(2 * Mma.TileUints, Mma.TileUints);
        ArrayView<uint> gradTileT = shared.SubView(3 * Mma.TileUints, Mma.TileUints);
        ArrayView<uint> offsets = shared.SubView(4 * Mma.TileUints, Mma.Size);
        ArrayView<uint> lse = shared.SubView(4 * Mma.TileUints + Mma.Size, Mma.Size);
        ArrayView<uint> delta = shared.SubView(4 * Mma.TileUints + 2 * Mma.Size, Mma.Size);
        ArrayView<uint> edges = shared.SubView(4 * Mma.TileUints + 3 * Mma.Size, Mma.Size);

        int tiles = p.Tiles, length = p.Length, rows = Grid.DimX / (3 * tiles);      // rows: B x H
        int source = Grid.IdxX / (rows * tiles), rest = Grid.IdxX - source * rows * tiles;
        int bh = rest / tiles, b = bh / p.Heads, kvRow = p.KvRow(b, bh - b * p.Heads), edgeRow = b * length;
        int keyFirst = (rest - bh * tiles) * Mma.Size;
        int thread = Group.IdxX, lane = thread & 31;
        int low = keyFirst + 16 * (thread >> 5) + (lane >> 2), high = low + 8;    // the lane's two keys (positions or ranks)
        // Keys are positions < L for the window and fading sources, ranks < S[L - 1] for the eidetic one.
        int keyEnd = source == 2 ? p.SelectedCount[b] : length;
        int keyLast = XMath.Min(keyFirst + Mma.Size, keyEnd) - 1;
        var rule = new BandRule(source, p.Window, p.FadingTokens, p.EideticCapacity);
        int queryFirst = 0, queryLast = -1;
        if (keyLast >= keyFirst) rule.Queries(keyFirst, keyLast, length, p.EideticEdge, edgeRow, out queryFirst, out queryLast);

        int keyLow = low < keyEnd ? low : -1, keyHigh = high < keyEnd ? high : -1;
        int positionLow = keyLow < 0 ? -1 : source == 2 ? p.EideticPositions[edgeRow + keyLow] : keyLow;
        int positionHigh = keyHigh < 0 ? -1 : source == 2 ? p.EideticPositions[edgeRow + keyHigh] : keyHigh;
        ArrayView<uint> keys = source == 1 ? p.FadingK : p.K, values = source == 1 ? p.FadingV : p.V;
        int lowRow = positionLow < 0 ? -1 : (kvRow + positionLow) * 32, highRow = positionHigh < 0 ? -1 : (kvRow + positionHigh) * 32;
        Operand16x64 k = Mma.LoadRows(keys, lowRow, highRow, lane);
        Operand16x64 v = Mma.LoadRows(values, lowRow, highRow, lane);
        Tile16x64 gradK = default, gradV = default;

        for (int tileStart = queryFirst; tileStart <= queryLast; tileStart += Mma.Size)
        {
            int count = XMath.Min(Mma.Size, queryLast + 1 - tileStart);
            Group.Barrier();
            if (thread < Mma.Size)
            {
                bool valid = thread < count;
                int row = bh * length + tileStart + thread;
                offsets[thread] = valid ? (uint)(row * 32) : SharedTiles.NoRow;
                lse[thread] = Interop.FloatAsInt(valid ? p.LogSumExp[row] : float.PositiveInfinity);
                delta[thread] = Interop.FloatAsInt(valid ? p.Delta[row] : 0f);
                edges[thread] = valid ? (uint)p.EideticEdge[edgeRow + tileStart + thread] : 0u;
            }
            Group.Barrier();
            SharedTiles.StageRows(queryTile, p.Q, offsets, thread);
            SharedTiles.StageTransposed(queryTileT, p.Q, offsets, thread);
            SharedTiles.StageRows(gradTile, p.GradOutput, offsets, thread);
            SharedTiles.StageTransposed(gradTileT, p.GradOutput, offsets, thread);
            Group.Barrier();

            Tile16x64 s = default;
            Mma.Accumulate(ref s, k, queryTile, lane);      // Sᵀ: keys x queries
            int edgeFirst = (int)edges[0], edgeLast = (int)edges[count - 1];
            bool masked = count < Mma.Size || keyLast - keyFirst + 1 < Mma.Size
                          || !rule.Covers(tileStart, tileStart + count - 1, keyFirst, keyLast, edgeFirst, edgeLast);
            Mma.Map(ref s, new KeyProbabilities
            {
                Rule = rule, Masked = masked, First = tileStart, End = tileStart + count, Low = keyLow, High = keyHigh,
                Scale = p.ScaleLog2, Lse = lse, Edges = edges,
            }, lane);
            Mma.Accumulate(ref gradV, Mma.Pack(s), gradTileT, lane);   // dV += Pᵀ dO

            Tile16x64 gradP = default;
            Mma.Accumulate(ref gradP, v, gradTile, lane);   // dPᵀ = V dOᵀ
            Mma.Combine(ref s, gradP, new ColumnDelta { Delta = delta }, lane);
            Mma.Accumulate(ref gradK, Mma.Pack(s), queryTileT, lane);  // dK += dSᵀ Q
        }

        // Every row of the source's buffers is written: rows of keys that do not exist (ranks past the count) get 0.
        ArrayView<float> outK = source == 0 ? p.GradK : source == 1 ? p.GradFadingK : p.GradRankK;
        ArrayView<float> outV = source == 0 ? p.GradV : source == 1 ? p.GradFadingV : p.GradRankV;
        int outLow = low < length ? (bh * length + low) * Mma.Size : -1, outHigh = high < length ? (bh * length + high) * Mma.Size : -1;
        SharedTiles.StoreFloat(outK, outLow, outHigh, gradK, p.Scale, lane);
        SharedTiles.StoreFloat(outV, outLow, outHigh, gradV, 1f, lane);
    }

    public static void QueryGradients(TensorCoreAttentionArguments p)
    {
        ArrayView<uint> shared = SharedMemory.GetDynamic<uint>();
        ArrayView<uint> keyTile = shared.SubView(0, Mma.TileUints);
        ArrayView<uint> valueTile = shared.SubView(Mma.TileUints, Mma.TileUints);
        ArrayView<uint> keyTileT = shared.SubView(2 * Mma.TileUints, Mma.TileUints);
        ArrayView<uint> offsets = shared.SubView(3 * Mma.TileUints, Mma.Size);

        int tiles = p.Tiles, length = p.Length;
        int bh = Grid.IdxX / tiles, b = bh / p.Heads;
        int kvRow = p.KvRow(b, bh - b * p.Heads), edgeRow = b * length;
        int first = (Grid.IdxX - bh * tiles) * Mma.Size, last = XMath.Min(first + Mma.Size, length) - 1;
        int thread = Group.IdxX, lane = thread & 31;
        int low = first + 16 * (thread >> 5) + (lane >> 2), high = low + 8;
        int lowRow = low < length ? (bh * length + low) * 32 : -1, highRow = high < length ? (bh * length + high) * 32 : -1;

        Operand16x64 q = Mma.LoadRows(p.Q, lowRow, highRow, lane);
        Operand16x64 gradO = Mma.LoadRows(p.GradOutput, lowRow, highRow, lane);
        float lseLow = low < length ? p.LogSumExp[bh * length + low] : float.PositiveInfinity;
        float lseHigh = high < length ? p.LogSumExp[bh * length + high] : float.PositiveInfinity;
        var rowDelta = new RowDelta
        {
            Low = low < length ? p.Delta[bh * length + low] : 0f,
            High = high < length ? p.Delta[bh * length + high] : 0f,
        };
        int edgeLow = p.EideticEdge[edgeRow + XMath.Min(low, length - 1)], edgeHigh = p.EideticEdge[edgeRow + XMath.Min(high, length - 1)];
        int edgeFirst = p.EideticEdge[edgeRow + first], edgeLast = p.EideticEdge[edgeRow + last];
        Tile16x64 gradQ = default;

        for (int source = 0; source < 3; source++)
        {
            var rule = new BandRule(source, p.Window, p.FadingTokens, p.EideticCapacity);
            rule.Keys(first, last, edgeFirst, edgeLast, out int start, out int end);
            ArrayView<uint> keys = source == 1 ? p.FadingK : p.K, values = source == 1 ? p.FadingV : p.V;
            for (int tileStart = start; tileStart < end; tileStart += Mma.Size)
            {
                int count = XMath.Min(Mma.Size, end - tileStart);
                Group.Barrier();
                if (thread < Mma.Size)
                {
                    int position = thread >= count ? -1
                        : source == 2 ? p.EideticPositions[edgeRow + tileStart + thread] : tileStart + thread;
                    offsets[thread] = position < 0 ? SharedTiles.NoRow : (uint)((kvRow + position) * 32);
                }
                Group.Barrier();
                SharedTiles.StageRows(keyTile, keys, offsets, thread);
                SharedTiles.StageRows(valueTile, values, offsets, thread);
                SharedTiles.StageTransposed(keyTileT, keys, offsets, thread);
                Group.Barrier();

                Tile16x64 s = default;
                Mma.Accumulate(ref s, q, keyTile, lane);
                var mask = new QueryBandMask { Rule = rule, First = tileStart, End = tileStart + count, Low = low, High = high, EdgeLow = edgeLow, EdgeHigh = edgeHigh };
                bool masked = count < Mma.Size || !rule.Covers(first, last, tileStart, tileStart + Mma.Size - 1, edgeFirst, edgeLast);
                Mma.Map(ref s, new QueryProbabilities { Mask = mask, Masked = masked, Scale = p.ScaleLog2, LseLow = lseLow, LseHigh = lseHigh }, lane);
                Tile16x64 gradP = default;
                Mma.Accumulate(ref gradP, gradO, valueTile, lane);   // dP = dO Vᵀ
                Mma.Combine(ref s, gradP, rowDelta, lane);            // dS
                Mma.Accumulate(ref gradQ, Mma.Pack(s), keyTileT, lane);
            }
        }

        int outLow = low < length ? (bh * length + low) * Mma.Size : -1, outHigh = high < length ? (bh * length + high) * Mma.Size : -1;
        SharedTiles.StoreFloat(p.GradQ, outLow, outHigh, gradQ, p.Scale, lane);
    }
}
