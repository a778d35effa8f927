using Bmojo.Runtime.Memory;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>
/// The B'MOJO softmax computed per query block in O(L (w + m_f + m_e)) memory: each block gathers only the keys its
/// queries can see — the window span, the fading band, the eidetic entries (by rank among the selected tokens: query
/// t keeps ranks <c>[S[t-w] - m_e, S[t-w])</c>) and the retrieved tokens — and runs exact masked attention on them.
/// Equals <see cref="BmojoMask"/> + <see cref="MaskedAttention"/> (tests compare values and gradients).
/// </summary>
internal static class BmojoBlockwise
{
    /// <returns><c>(B, H, L, Dh)</c>.</returns>
    public static Tensor Run(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, Tensor selected,
                             int window, int fadingTokens, int eideticCapacity, RetrievalPlan? plan, int blockSize)
    {
        using var scope = NewDisposeScope();
        long length = q.shape[2];
        int block = plan?.ChunkSize ?? blockSize;
        Tensor edge = EdgeCounts(selected, window);                                             // (B, L): S[t - w]
        Tensor rankedPositions = SelectedInOrder(selected);                                     // (B, L)
        Tensor selectedCount = selected.to_type(ScalarType.Int64).sum([1], keepdim: true);      // (B, 1)
        long group = q.shape[1] / k.shape[1];
        // Retrieved tokens differ per query head: gather them from keys/values spread to the query heads.
        (Tensor kH, Tensor vH) = plan is null ? (k, v) : (k.repeat_interleave(group, 1), v.repeat_interleave(group, 1));
        var outputs = new List<Tensor>();
        for (long start = 0; start < length; start += block)
        {
            long count = Math.Min(block, length - start);
            var keys = new List<Tensor>();
            var values = new List<Tensor>();
            var masks = new List<Tensor>();
            Tensor t = arange(start, start + count, device: q.device).unsqueeze(1);             // (T, 1)

            // (a) window: positions (t - w, t] for the block's queries.
            long lo = Math.Max(0, start - window + 1);
            if (window > 0)
                Add(keys, values, masks, k.narrow(2, lo, start + count - lo), v.narrow(2, lo, start + count - lo),
                    Band(t, lo, start + count - lo, window, 0));
            // (b) fading tokens: positions (t - w - m_f, t - w].
            long loF = Math.Max(0, start - window - fadingTokens + 1), hiF = start + count - 1 - window;
            if (fadingTokens > 0 && hiF >= loF)
                Add(keys, values, masks, kf.narrow(2, loF, hiF - loF + 1), vf.narrow(2, loF, hiF - loF + 1),
                    Band(t, loF, hiF - loF + 1, window + fadingTokens, window));
            // (c) eidetic memory: ranks [S[t0 - w] - m_e, S[t_last - w]) cover every query of the block.
            if (eideticCapacity > 0)
            {
                Tensor blockEdge = edge.narrow(1, start, count);                               // (B, T)
                Tensor ranks = blockEdge.narrow(1, 0, 1) - eideticCapacity
                               + arange(eideticCapacity + count, device: q.device).unsqueeze(0); // (B, E)
                Tensor valid = ranks.ge(0) & ranks.lt(selectedCount);
                Tensor positions = rankedPositions.gather(1, ranks.clamp(0, length - 1));       // (B, E)
                Tensor kept = valid.unsqueeze(1) & ranks.unsqueeze(1).lt(blockEdge.unsqueeze(2))
                              & ranks.unsqueeze(1).ge(blockEdge.unsqueeze(2) - eideticCapacity); // (B, T, E)
                Add(keys, values, masks, Gather(k, positions), Gather(v, positions), kept.unsqueeze(1));
            }
            Tensor o = plan is null
                ? Attend(q.narrow(2, start, count), keys, values, masks)
                : AttendWithRetrieval(q.narrow(2, start, count), kH, vH, group, keys, values, masks, plan, (int)(start / block));
            outputs.Add(o);
        }
        return cat(outputs, 2).MoveToOuterDisposeScope();                                     // (B, H, L, Dh)
    }

    private static Tensor Attend(Tensor q, List<Tensor> keys, List<Tensor> values, List<Tensor> masks)
    {
        long batch = q.shape[0];
        Tensor mask = cat(masks.Select(m => m.expand(batch, -1, -1, -1)).ToList(), 3);        // (B, 1, T, K)
        return MaskedAttention.Run(q, cat(keys, 2), cat(values, 2), mask);
    }

    // With retrieval the block is one query chunk: each head adds the tokens of the chunks it retrieved.
    // kH, vH: keys and values spread to the query heads (B, H, L, Dh).
    private static Tensor AttendWithRetrieval(Tensor q, Tensor kH, Tensor vH, long group, List<Tensor> keys, List<Tensor> values,
                                              List<Tensor> masks, RetrievalPlan plan, int queryChunk)
    {
        long batch = q.shape[0], heads = q.shape[1], count = q.shape[2];
        int widest = Enumerable.Range(0, (int)batch).SelectMany(b => Enumerable.Range(0, (int)heads)
                         .Select(h => plan.Retrieved(b, h, queryChunk).Count)).DefaultIfEmpty(0).Max();
        if (widest == 0) return Attend(q, keys, values, masks);
        var positions = new long[batch * heads * widest];
        var valid = new bool[batch * heads * widest];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                IReadOnlyList<long> retrieved = plan.Retrieved(b, h, queryChunk);
                for (int i = 0; i < retrieved.Count; i++)
                {
                    positions[(b * heads + h) * widest + i] = retrieved[i];
                    valid[(b * heads + h) * widest + i] = true;
                }
            }
        Tensor index = tensor(positions, [batch, heads, widest], device: q.device);            // (B, H, R)
        Tensor retrievedMask = tensor(valid, [batch, heads, 1, widest], device: q.device).expand(-1, -1, count, -1);
        Tensor local = cat(masks.Select(m => m.expand(batch, heads, -1, -1)).ToList(), 3);     // (B, H, T, K)
        return MaskedAttention.Run(q,
            cat([cat(keys, 2).repeat_interleave(group, 1), GatherPerHead(kH, index)], 2),
            cat([cat(values, 2).repeat_interleave(group, 1), GatherPerHead(vH, index)], 2),
            cat([local, retrievedMask], 3));
    }

    private static void Add(List<Tensor> keys, List<Tensor> values, List<Tensor> masks, Tensor key, Tensor value, Tensor mask)
    {
        keys.Add(key);
        values.Add(value);
        masks.Add(mask);
    }

    // Queries t over the span [lo, lo + count): visible iff t - far < j <= t - near.  (1, 1, T, count)
    private static Tensor Band(Tensor t, long lo, long count, long far, long near)
    {
        Tensor j = arange(lo, lo + count, device: t.device).unsqueeze(0);                      // (1, count)
        return (j.gt(t - far) & j.le(t - near)).unsqueeze(0).unsqueeze(0);
    }

    // S[t - w] for every query t (0 while t - w < 0).  (B, L)
    private static Tensor EdgeCounts(Tensor selected, int window)
    {
        long length = selected.shape[1];
        Tensor prefix = selected.to_type(ScalarType.Int64).cumsum(1);                          // (B, L): S
        if (window >= length) return zeros_like(prefix);
        Tensor shifted = prefix.narrow(1, 0, length - window);                                  // S[t - w] for t >= w
        return cat([zeros(selected.shape[0], window, ScalarType.Int64, selected.device), shifted], 1);
    }

    // Positions of the selected tokens in increasing order, then the others: row b, column r = the rank-r token.
    private static Tensor SelectedInOrder(Tensor selected)
    {
        long length = selected.shape[1];
        Tensor positions = arange(length, device: selected.device).unsqueeze(0);                // (1, L)
        Tensor key = positions + selected.logical_not().to_type(ScalarType.Int64) * length;    // unselected sort last
        return key.argsort(1);                                                                  // (B, L)
    }

    // x (B, Hkv, L, Dh) at per-sequence positions (B, E) -> (B, Hkv, E, Dh)
    private static Tensor Gather(Tensor x, Tensor positions) =>
        x.gather(2, positions.unsqueeze(1).unsqueeze(3).expand(-1, x.shape[1], -1, x.shape[3]));

    // x (B, H, L, Dh) at per-head positions (B, H, R) -> (B, H, R, Dh)
    private static Tensor GatherPerHead(Tensor x, Tensor positions) =>
        x.gather(2, positions.unsqueeze(3).expand(-1, -1, -1, x.shape[3]));
}
