using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>
/// The B'MOJO softmax (rules (a)-(c) of docs/bmojo-layer.md) as <b>one</b> call of torch's
/// <c>scaled_dot_product_attention</c>: the sequence is cut into query blocks of C tokens, every block becomes one item
/// of the call's batch, and its keys are the ones some query of the block can see, gathered into a fixed number of
/// slots — the window span (C + w - 1 positions), the fading band (C + m_f - 1 positions of kf) and the eidetic entries
/// by rank (m_e + C ranks, as <see cref="BmojoBlockwise"/>) — with a boolean mask per query. O(L (3C + w + m_f + m_e))
/// work and memory, linear in L. On CUDA in bf16 torch runs its fused memory-efficient kernel (fp32 softmax and
/// accumulation on the tensor cores, forward and backward); the gather's backward is torch's scatter-add. Equals
/// <see cref="BmojoMask"/> + <see cref="MaskedAttention"/> (tests compare values and gradients).
/// </summary>
/// <remarks>
/// A masked-out slot points at some real row of the key table: its probability is exactly 0, so it adds nothing to
/// the output and gets exactly zero gradient. Padded query rows (past L, in the last block) see every slot, so no
/// row of the call is empty; their outputs are dropped, so their gradient is zero. A real query that sees no key
/// (only possible with w = 0 and m_f = 0) gets a zero output, as <see cref="MaskedAttention"/> gives it.
/// </remarks>
internal static class BmojoBanded
{
    // Key slots per block are padded to a multiple of this, the alignment torch's fused kernels want for a mask.
    private const long SlotAlignment = 16;

    /// <param name="q">Queries <c>(B, H, L, Dh)</c>.</param>
    /// <param name="k">Keys <c>(B, Hkv, L, Dh)</c>; <paramref name="v"/>, <paramref name="kf"/>, <paramref name="vf"/> alike.</param>
    /// <param name="tables">The eidetic FIFO tables of the selection (<see cref="FusedBmojoAttention.Tables"/>).</param>
    /// <param name="blockSize">C, queries per block.</param>
    /// <returns><c>(B, H, L, Dh)</c> in q's dtype.</returns>
    public static Tensor Run(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, EideticTables tables,
                             int window, int fadingTokens, int eideticCapacity, int blockSize)
    {
        if (blockSize < 1)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "B'MOJO banded attention: block size must be >= 1");
        using var scope = NewDisposeScope();
        long batch = q.shape[0], heads = q.shape[1], length = q.shape[2], headDim = q.shape[3];
        long kvHeads = k.shape[1], group = heads / kvHeads;
        long block = Math.Min(blockSize, length), blocks = (length + block - 1) / block, padded = blocks * block;

        (Tensor rows, Tensor visible) = Slots(tables, length, block, blocks, window, fadingTokens, eideticCapacity, q.device);
        long slots = rows.shape[2];

        // The key table of each sequence: [k_0 .. k_{L-1} | kf_0 .. kf_{L-1}], one row of Hkv * Dh per token.
        Tensor flat = (rows + arange(batch, device: q.device).view(batch, 1, 1) * (2 * length)).flatten();
        Tensor keys = Gather(k, kf, flat, batch * blocks, slots, group);                              // (B nB, H, S, Dh)
        Tensor values = Gather(v, vf, flat, batch * blocks, slots, group);

        Tensor queries = padded == length ? q : nn.functional.pad(q, [0, 0, 0, padded - length]);
        queries = queries.view(batch, heads, blocks, block, headDim).permute(0, 2, 1, 3, 4)
                         .reshape(batch * blocks, heads, block, headDim);                             // (B nB, H, C, Dh)
        Tensor mask = visible.view(batch * blocks, 1, block, slots);                                  // (B nB, 1, C, S)
        // With w = 0 and m_f = 0 an early query may see no key: it sees every slot, and its output (so its gradient) is 0.
        Tensor? seesSome = window == 0 && fadingTokens == 0 ? mask.any(-1, keepdim: true) : null;     // (B nB, 1, C, 1)
        if (seesSome is not null) mask = mask | seesSome.logical_not();
        Tensor o = nn.functional.scaled_dot_product_attention(queries, keys, values, mask);           // (B nB, H, C, Dh)
        if (seesSome is not null) o = o * seesSome.to_type(o.dtype);
        o = o.view(batch, blocks, heads, block, headDim).permute(0, 2, 1, 3, 4).reshape(batch, heads, padded, headDim);
        return (padded == length ? o : o.narrow(2, 0, length)).MoveToOuterDisposeScope();
    }

    // The table rows of every block's slots (B, nB, S) int64 (k_j at row j, kf_j at row L + j) and which query of the
    // block sees which slot (B, nB, C, S) bool.
    private static (Tensor Rows, Tensor Visible) Slots(EideticTables tables, long length, long block, long blocks,
                                                       int window, int fadingTokens, int eideticCapacity, Device device)
    {
        long batch = tables.Edge.shape[0];
        Tensor start = (arange(blocks, device: device) * block).view(blocks, 1);                      // (nB, 1)
        Tensor t = start + arange(block, device: device).view(1, block);                              // (nB, C)
        Tensor tq = t.unsqueeze(2);                                                                   // (nB, C, 1)
        Tensor padding = tq.ge(length);                                                               // rows past L
        var rows = new List<Tensor>();
        var visible = new List<Tensor>();

        void Band(long count, long first, long far, long near, long tableOffset)
        {
            Tensor j = start + first + arange(count, device: device).view(1, count);                  // (nB, count)
            Tensor jj = j.unsqueeze(1);                                                               // (nB, 1, count)
            Tensor sees = jj.gt(tq - far) & jj.le(tq - near) & jj.ge(0) & jj.lt(length);              // (nB, C, count)
            rows.Add((j.clamp(0, length - 1) + tableOffset).unsqueeze(0).expand(batch, -1, -1));
            visible.Add(sees.unsqueeze(0).expand(batch, -1, -1, -1));
        }

        if (window > 0) Band(block + window - 1, 1 - window, window, 0, tableOffset: 0);                         // (a)
        if (fadingTokens > 0) Band(block + fadingTokens - 1, 1 - window - fadingTokens, window + fadingTokens, window,
                                   tableOffset: length);                                                         // (b)
        if (eideticCapacity > 0)                                                                                 // (c)
        {
            long padded = blocks * block;
            Tensor edge = tables.Edge.to_type(ScalarType.Int64);                                      // (B, L): S[t - w]
            if (padded > length) edge = cat([edge, edge.narrow(1, length - 1, 1).expand(-1, padded - length)], 1);
            edge = edge.view(batch, blocks, block);                                                   // (B, nB, C)
            Tensor count = tables.Count.to_type(ScalarType.Int64).view(batch, 1, 1);
            Tensor ranks = edge.narrow(2, 0, 1) - eideticCapacity
                           + arange(eideticCapacity + block, device: device).view(1, 1, -1);         // (B, nB, E)
            Tensor valid = ranks.ge(0) & ranks.lt(count);
            Tensor positions = tables.Positions.to_type(ScalarType.Int64)
                .gather(1, ranks.clamp(0, length - 1).view(batch, -1)).view(batch, blocks, -1);       // (B, nB, E)
            Tensor r = ranks.unsqueeze(2), e = edge.unsqueeze(3);                                     // (B, nB, 1, E), (B, nB, C, 1)
            rows.Add(positions);
            visible.Add(valid.unsqueeze(2) & r.lt(e) & r.ge(e - eideticCapacity));                   // (B, nB, C, E)
        }

        long slots = rows.Sum(x => x.shape[2]);
        long aligned = (slots + SlotAlignment - 1) / SlotAlignment * SlotAlignment;
        if (aligned > slots)
        {
            rows.Add(zeros(batch, blocks, aligned - slots, ScalarType.Int64, device));
            visible.Add(zeros(batch, blocks, block, aligned - slots, ScalarType.Bool, device));
        }
        Tensor seen = cat(visible, 3) | padding.unsqueeze(0);                                         // (B, nB, C, S)
        return (cat(rows, 2), seen);
    }

    // x and xf (B, Hkv, L, Dh) as one table of 2L rows a sequence, gathered at the flat rows of every block's slots
    // and spread to the query heads: (B nB, H, S, Dh).
    private static Tensor Gather(Tensor x, Tensor xf, Tensor flatRows, long items, long slots, long group)
    {
        long batch = x.shape[0], kvHeads = x.shape[1], length = x.shape[2], headDim = x.shape[3];
        Tensor table = cat([x.transpose(1, 2), xf.transpose(1, 2)], 1).reshape(batch * 2 * length, kvHeads * headDim);
        Tensor gathered = table.index_select(0, flatRows).view(items, slots, kvHeads, headDim).permute(0, 2, 1, 3);
        return group == 1 ? gathered
            : gathered.unsqueeze(2).expand(-1, -1, group, -1, -1).reshape(items, kvHeads * group, slots, headDim);
    }
}
