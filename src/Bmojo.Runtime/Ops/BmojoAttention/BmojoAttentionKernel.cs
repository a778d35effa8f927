using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>Everything one B'MOJO attention launch reads and writes.</summary>
internal struct BmojoAttentionArguments
{
    public ArrayView<float> Q;                 // (B, H, L, Dh)
    public ArrayView<float> K;                 // (B, Hkv, L, Dh)
    public ArrayView<float> V;                 // (B, Hkv, L, Dh)
    public ArrayView<float> FadingK;           // (B, Hkv, L, Dh): kf
    public ArrayView<float> FadingV;           // (B, Hkv, L, Dh): vf
    public ArrayView<int> EideticEdge;         // (B, L): S[t - w], selected tokens at or before t - w
    public ArrayView<int> EideticPositions;    // (B, L): position of the rank-r selected token (r < S[L - 1])
    public ArrayView<float> Output;            // (B, H, L, Dh)
    public int Heads;
    public int KvHeads;
    public int Length;
    public int HeadDim;
    public int Window;
    public int FadingTokens;
    public int EideticCapacity;
    public int Queries;                        // queries per block, one warp each
    public float Scale;
}

/// <summary>
/// The B'MOJO softmax forward (docs/bmojo-layer.md, rules (a)-(c)) with an online softmax. A block of Q
/// warps (<see cref="BmojoAttentionArguments.Queries"/>) serves consecutive queries <c>t0 .. t1 = t0 + Q - 1</c> of
/// one (batch, head), one warp per query. The block walks three key sources in tiles of <see cref="TileKeys"/> keys,
/// each tile staged once in shared memory for all its queries: (a) the window <c>k, v</c> at <c>(t0 - w, t1]</c>;
/// (b) the fading band <c>kf, vf</c> at <c>(t0 - w - m_f, t1 - w]</c>; (c) the eidetic memory: ranks
/// <c>[S[t0-w] - m_e, S[t1-w])</c>
/// of the selected tokens, gathered through their positions. In a tile, lane j scores key j for its warp's query
/// (masked by the query's own bounds: for (c), rank r is kept iff <c>S[t-w] - m_e &lt;= r &lt; S[t-w]</c>, the FIFO
/// rule), the warp takes the tile's max and sum with shuffles and rescales its running output once; lane d holds
/// output dimensions d, d + 32, d + 64, d + 96 in fp32. A query that sees no key gets 0.
/// </summary>
internal static class BmojoAttentionKernel
{
    public const int WarpSize = 32;
    public const int TileKeys = WarpSize;
    public const int MaxHeadDim = 4 * WarpSize;

    /// <summary>Floats of dynamic shared memory: the block's queries (Q, Dh), the key tile (32, Dh + 1: lanes read
    /// one row each without bank conflicts) and the value tile (32, Dh: lanes read one row together).</summary>
    public static int SharedFloats(int headDim, int queries) => queries * headDim + TileKeys * (headDim + 1) + TileKeys * headDim;

    public static int GroupsPerHead(int length, int queries) => (length + queries - 1) / queries;

    public static void Forward(BmojoAttentionArguments p)
    {
        int dh = p.HeadDim, keyStride = dh + 1, queryCount = p.Queries, groupSize = queryCount * WarpSize;
        ArrayView<float> shared = SharedMemory.GetDynamic<float>();
        ArrayView<float> queries = shared.SubView(0, queryCount * dh);                       // (Q, Dh), scaled
        ArrayView<float> keyTile = shared.SubView(queryCount * dh, TileKeys * keyStride);    // (32, Dh + 1)
        ArrayView<float> valueTile = shared.SubView(queryCount * dh + TileKeys * keyStride); // (32, Dh)

        int groupsPerHead = GroupsPerHead(p.Length, queryCount);
        int bh = Grid.IdxX / groupsPerHead;                 // b * H + h
        int b = bh / p.Heads, h = bh - b * p.Heads;
        int kvRows = (b * p.KvHeads + h / (p.Heads / p.KvHeads)) * p.Length;   // row of position 0 in K, V, kf, vf
        int t0 = (Grid.IdxX - bh * groupsPerHead) * queryCount;
        int tLast = XMath.Min(t0 + queryCount, p.Length) - 1;
        int warp = Group.IdxX / WarpSize, lane = Group.IdxX - warp * WarpSize;
        int t = t0 + warp;
        bool active = t <= tLast;                           // padding warps still reach every barrier

        for (int i = Group.IdxX; i < queryCount * dh; i += groupSize)
        {
            int row = i / dh;
            int query = XMath.Min(t0 + row, tLast);
            queries[i] = p.Q[(bh * p.Length + query) * dh + i - row * dh] * p.Scale;
        }

        int edge = active ? p.EideticEdge[b * p.Length + t] : 0;                          // S[t - w]
        int firstEdge = p.EideticEdge[b * p.Length + t0], lastEdge = p.EideticEdge[b * p.Length + tLast];
        float runningMax = float.NegativeInfinity, runningSum = 0f;
        float acc0 = 0f, acc1 = 0f, acc2 = 0f, acc3 = 0f;   // output dims lane, lane + 32, lane + 64, lane + 96

        // Sources: 0 the window (k, v by position), 1 the fading band (kf, vf by position), 2 the eidetic memory (k, v by rank).
        for (int source = 0; source < 3; source++)
        {
            int start, end;
            if (source == 0) { start = XMath.Max(0, t0 - p.Window + 1); end = p.Window > 0 ? tLast + 1 : start; }
            else if (source == 1) { start = XMath.Max(0, t0 - p.Window - p.FadingTokens + 1); end = p.FadingTokens > 0 ? XMath.Max(start, tLast - p.Window + 1) : start; }
            else { start = XMath.Max(0, firstEdge - p.EideticCapacity); end = p.EideticCapacity > 0 ? lastEdge : start; }

            for (int tileStart = start; tileStart < end; tileStart += TileKeys)
            {
                int count = XMath.Min(TileKeys, end - tileStart);
                Group.Barrier();                            // the last tile (and the staged queries) are all read
                for (int i = Group.IdxX; i < TileKeys * dh; i += groupSize)
                {
                    int row = i / dh, d = i - row * dh;
                    float key = 0f, value = 0f;
                    if (row < count)
                    {
                        int position = source == 2 ? p.EideticPositions[b * p.Length + tileStart + row] : tileStart + row;
                        int at = (kvRows + position) * dh + d;
                        key = source == 1 ? p.FadingK[at] : p.K[at];
                        value = source == 1 ? p.FadingV[at] : p.V[at];
                    }
                    keyTile[row * keyStride + d] = key;
                    valueTile[i] = value;
                }
                Group.Barrier();

                int j = tileStart + lane;                   // this lane's key: a position, or a rank for source 2
                bool visible = active && lane < count && (source == 0 ? j > t - p.Window && j <= t
                    : source == 1 ? j > t - p.Window - p.FadingTokens && j <= t - p.Window
                    : j >= edge - p.EideticCapacity && j < edge);
                float score = float.NegativeInfinity;
                if (visible)
                {
                    score = 0f;
                    for (int d = 0; d < dh; d++) score += queries[warp * dh + d] * keyTile[lane * keyStride + d];
                }
                float tileMax = score;
                for (int mask = WarpSize / 2; mask >= 1; mask /= 2) tileMax = XMath.Max(tileMax, Warp.ShuffleXor(tileMax, mask));
                if (tileMax == float.NegativeInfinity) continue;     // the same in every lane: nothing visible

                float newMax = XMath.Max(runningMax, tileMax);
                float correction = runningMax == float.NegativeInfinity ? 0f : XMath.Exp(runningMax - newMax);
                float weight = visible ? XMath.Exp(score - newMax) : 0f;
                float tileSum = weight;
                for (int mask = WarpSize / 2; mask >= 1; mask /= 2) tileSum += Warp.ShuffleXor(tileSum, mask);
                runningSum = runningSum * correction + tileSum;
                runningMax = newMax;
                acc0 *= correction; acc1 *= correction; acc2 *= correction; acc3 *= correction;
                for (int k = 0; k < count; k++)
                {
                    float w = Warp.Shuffle(weight, k);
                    if (w == 0f) continue;                  // the same in every lane
                    int row = k * dh;
                    if (lane < dh) acc0 += w * valueTile[row + lane];
                    if (lane + WarpSize < dh) acc1 += w * valueTile[row + lane + WarpSize];
                    if (lane + 2 * WarpSize < dh) acc2 += w * valueTile[row + lane + 2 * WarpSize];
                    if (lane + 3 * WarpSize < dh) acc3 += w * valueTile[row + lane + 3 * WarpSize];
                }
            }
        }

        if (!active) return;
        float norm = runningSum > 0f ? 1f / runningSum : 0f;
        int outRow = (bh * p.Length + t) * dh;
        if (lane < dh) p.Output[outRow + lane] = acc0 * norm;
        if (lane + WarpSize < dh) p.Output[outRow + lane + WarpSize] = acc1 * norm;
        if (lane + 2 * WarpSize < dh) p.Output[outRow + lane + 2 * WarpSize] = acc2 * norm;
        if (lane + 3 * WarpSize < dh) p.Output[outRow + lane + 3 * WarpSize] = acc3 * norm;
    }
}
