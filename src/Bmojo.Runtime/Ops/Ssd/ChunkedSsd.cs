using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.Ssd;

/// <summary>
/// The chunked SSD algorithm (Dao &amp; Gu 2024, "Transformers are SSMs", section 6; mamba_ssm's <c>ssd_minimal</c>):
/// the sequence is cut into chunks of Q tokens; inside a chunk the output is a masked, attention-like quadratic form
/// <c>(C B^T ∘ L) X</c> with the decay mask <c>L = exp(segsum(dt A))</c>; across chunks only the P x N states pass,
/// through a recurrence over the chunk ends. Plain TorchSharp ops, so autograd differentiates it; the same function
/// as <see cref="SsdReference"/> for every chunk size.
/// </summary>
/// <remarks>Shapes as <see cref="SsdReference"/>. A length that is not a multiple of Q is padded at the end with
/// dt = 0 and x = 0 (no decay, no input), which leaves the outputs and the final state unchanged.</remarks>
public static class ChunkedSsd
{
    /// <summary>y <c>(B, L, H, P)</c> and the final state <c>(B, H, P, N)</c>.</summary>
    public static (Tensor Y, Tensor FinalState) Run(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor? D,
                                                    long chunkSize, Tensor? initialState = null)
    {
        SsdShapes.Check(x, dt, A, B, C, D, initialState);
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "SSD: chunk_size must be at least 1");
        using var scope = NewDisposeScope();
        long batch = x.shape[0], length = x.shape[1], heads = x.shape[2], p = x.shape[3], n = B.shape[3];
        long q = Math.Min(chunkSize, length);
        long chunks = (length + q - 1) / q, padded = chunks * q;
        long repeats = heads / B.shape[2];

        Tensor xs = x * dt.unsqueeze(-1);                                                        // dt x  (B, L, H, P)
        Tensor a = dt * A;                                                                       // dt A  (B, L, H)
        Tensor bh = B.repeat_interleave(repeats, 2), ch = C.repeat_interleave(repeats, 2);      // (B, L, H, N)
        if (padded != length)
        {
            xs = PadTime(xs, padded);
            a = PadTime(a, padded);
            bh = PadTime(bh, padded);
            ch = PadTime(ch, padded);
        }
        xs = xs.reshape(batch, chunks, q, heads, p);                                             // (b, c, l, h, p)
        bh = bh.reshape(batch, chunks, q, heads, n);                                             // (b, c, l, h, n)
        ch = ch.reshape(batch, chunks, q, heads, n);
        a = a.reshape(batch, chunks, q, heads).permute(0, 3, 1, 2);                              // (b, h, c, l)
        Tensor aCumsum = a.cumsum(-1);                                                           // (b, h, c, l)

        // 1. Inside each chunk: the quadratic (attention-like) form with the causal decay mask.
        Tensor decayMask = exp(Segsum(a));                                                       // (b, h, c, l, s)
        Tensor scores = einsum("bclhn,bcshn->bhcls", ch, bh) * decayMask;
        Tensor yDiagonal = einsum("bhcls,bcshp->bclhp", scores, xs);

        // 2. The state each chunk leaves at its end, from its own inputs alone.
        Tensor chunkEnds = aCumsum.select(-1, q - 1);                                          // (b, h, c)
        Tensor decayToEnd = exp(chunkEnds.unsqueeze(-1) - aCumsum);                            // (b, h, c, l)
        Tensor states = einsum("bclhn,bhcl,bclhp->bchpn", bh, decayToEnd, xs);                   // (b, c, h, p, n)

        // 3. Across chunks: the recurrence over chunk ends, from the initial state.
        Tensor initial = (initialState ?? zeros(batch, heads, p, n, x.dtype, x.device)).unsqueeze(1);
        states = cat(new[] { initial, states }, 1);                                              // (b, c + 1, h, p, n)
        Tensor chunkTotals = cat(new[] { zeros(batch, heads, 1, a.dtype, a.device), chunkEnds }, -1);      // (b, h, c + 1)
        Tensor chunkDecay = exp(Segsum(chunkTotals));                                            // (b, h, c + 1, c + 1)
        Tensor passed = einsum("bhzc,bchpn->bzhpn", chunkDecay, states);                         // (b, c + 1, h, p, n)
        Tensor finalState = passed.select(1, chunks);
        Tensor entering = passed.narrow(1, 0, chunks);                                             // the state entering chunk c

        // 4. Each token reads the state that entered its chunk, decayed to its position.
        Tensor yOff = einsum("bclhn,bchpn,bhcl->bclhp", ch, entering, exp(aCumsum));

        Tensor y = (yDiagonal + yOff).reshape(batch, padded, heads, p);
        if (padded != length) y = y[.., ..(int)length];
        if (D is not null) y = y + D.unsqueeze(-1) * x;
        return (y.MoveToOuterDisposeScope(), finalState.MoveToOuterDisposeScope());
    }

    /// <summary><c>segsum(a)[..., i, j] = a_{j+1} + ... + a_i</c> for j &lt;= i (0 on the diagonal), -inf above it,
    /// summed by a masked cumsum (no difference of cumsums, which loses precision).</summary>
    internal static Tensor Segsum(Tensor a)
    {
        using var scope = NewDisposeScope();
        long t = a.shape[^1];
        Tensor strictlyLower = tril(ones(t, t, ScalarType.Bool, a.device), -1);
        Tensor lower = tril(ones(t, t, ScalarType.Bool, a.device), 0);
        var expanded = a.shape.Append(t).ToArray();
        Tensor repeated = a.unsqueeze(-1).expand(expanded).masked_fill(strictlyLower.logical_not(), 0);  // [i, j] = a_i for i > j
        Tensor sums = repeated.cumsum(-2).masked_fill(lower.logical_not(), double.NegativeInfinity);
        return sums.MoveToOuterDisposeScope();
    }

    private static Tensor PadTime(Tensor t, long padded)
    {
        long[] shape = t.shape.ToArray();
        shape[1] = padded - t.shape[1];
        return cat(new[] { t, zeros(shape, t.dtype, t.device) }, 1);
    }
}
