using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Ops.BmojoAttention;

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

    public static void KeyGradients<TCores>(TensorCoreAttentionArguments p) where TCores : struct, ITensorCores
    {
        TCores cores = default;
        ArrayView<uint> shared = SharedMemory.GetDynamic<uint>();
        SharedTile queryTile = SharedTile.At(shared, 0);
        SharedTile queryTileT = SharedTile.At(shared, Mma.TileUints);
        SharedTile gradTile = SharedTile.At(shared, 2 * Mma.TileUints);
        SharedTile gradTileT = SharedTile.At(shared, 3 * Mma.TileUints);
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
            cores.Accumulate(ref s, k, queryTile, lane);      // Sᵀ: keys x queries
            int edgeFirst = (int)edges[0], edgeLast = (int)edges[count - 1];
            bool masked = count < Mma.Size || keyLast - keyFirst + 1 < Mma.Size
                          || !rule.Covers(tileStart, tileStart + count - 1, keyFirst, keyLast, edgeFirst, edgeLast);
            Mma.Map(ref s, new KeyProbabilities
            {
                Rule = rule, Masked = masked, First = tileStart, End = tileStart + count, Low = keyLow, High = keyHigh,
                Scale = p.ScaleLog2, Lse = lse, Edges = edges,
            }, lane);
            cores.Accumulate(ref gradV, cores.Pack(s), gradTileT, lane);   // dV += Pᵀ dO

            Tile16x64 gradP = default;
            cores.Accumulate(ref gradP, v, gradTile, lane);   // dPᵀ = V dOᵀ
            Mma.Combine(ref s, gradP, new ColumnDelta { Delta = delta }, lane);
            cores.Accumulate(ref gradK, cores.Pack(s), queryTileT, lane);  // dK += dSᵀ Q
        }

        // Every row of the source's buffers is written: rows of keys that do not exist (ranks past the count) get 0.
        ArrayView<float> outK = source == 0 ? p.GradK : source == 1 ? p.GradFadingK : p.GradRankK;
        ArrayView<float> outV = source == 0 ? p.GradV : source == 1 ? p.GradFadingV : p.GradRankV;
        int outLow = low < length ? (bh * length + low) * Mma.Size : -1, outHigh = high < length ? (bh * length + high) * Mma.Size : -1;
        SharedTiles.StoreFloat(outK, outLow, outHigh, gradK, p.Scale, lane);
        SharedTiles.StoreFloat(outV, outLow, outHigh, gradV, 1f, lane);
    }

    public static void QueryGradients<TCores>(TensorCoreAttentionArguments p) where TCores : struct, ITensorCores
    {
        TCores cores = default;
        ArrayView<uint> shared = SharedMemory.GetDynamic<uint>();
        SharedTile keyTile = SharedTile.At(shared, 0);
        SharedTile valueTile = SharedTile.At(shared, Mma.TileUints);
        SharedTile keyTileT = SharedTile.At(shared, 2 * Mma.TileUints);
        ArrayView<uint> offsets = shared.SubView(3 * Mma.TileUints, Mma.Size);

        int thread = Group.IdxX, lane = thread & 31, length = p.Length;
        var block = new QueryBlock(p, thread);
        int bh = block.Bh, low = block.Low, high = block.High;
        Operand16x64 q = Mma.LoadRows(p.Q, block.LowRow, block.HighRow, lane);
        Operand16x64 gradO = Mma.LoadRows(p.GradOutput, block.LowRow, block.HighRow, lane);
        float lseLow = low < length ? p.LogSumExp[bh * length + low] : float.PositiveInfinity;
        float lseHigh = high < length ? p.LogSumExp[bh * length + high] : float.PositiveInfinity;
        var rowDelta = new RowDelta
        {
            Low = low < length ? p.Delta[bh * length + low] : 0f,
            High = high < length ? p.Delta[bh * length + high] : 0f,
        };
        Tile16x64 gradQ = default;

        for (int source = 0; source < 3; source++)
        {
            var rule = new BandRule(source, p.Window, p.FadingTokens, p.EideticCapacity);
            rule.Keys(block.First, block.Last, block.EdgeFirst, block.EdgeLast, out int start, out int end);
            ArrayView<uint> keys = source == 1 ? p.FadingK : p.K, values = source == 1 ? p.FadingV : p.V;
            for (int tileStart = start; tileStart < end; tileStart += Mma.Size)
            {
                int count = XMath.Min(Mma.Size, end - tileStart);
                Group.Barrier();
                block.StageKeyOffsets(p, offsets, source, tileStart, count, thread);
                Group.Barrier();
                SharedTiles.StageRows(keyTile, keys, offsets, thread);
                SharedTiles.StageRows(valueTile, values, offsets, thread);
                SharedTiles.StageTransposed(keyTileT, keys, offsets, thread);
                Group.Barrier();

                Tile16x64 s = default;
                cores.Accumulate(ref s, q, keyTile, lane);
                Mma.Map(ref s, new QueryProbabilities
                {
                    Mask = block.Mask(rule, tileStart, count), Masked = block.Masked(rule, tileStart, count),
                    Scale = p.ScaleLog2, LseLow = lseLow, LseHigh = lseHigh,
                }, lane);
                Tile16x64 gradP = default;
                cores.Accumulate(ref gradP, gradO, valueTile, lane);   // dP = dO Vᵀ
                Mma.Combine(ref s, gradP, rowDelta, lane);            // dS
                cores.Accumulate(ref gradQ, cores.Pack(s), keyTileT, lane);
            }
        }

        int outLow = low < length ? (bh * length + low) * Mma.Size : -1, outHigh = high < length ? (bh * length + high) * Mma.Size : -1;
        SharedTiles.StoreFloat(p.GradQ, outLow, outHigh, gradQ, p.Scale, lane);
    }
}
