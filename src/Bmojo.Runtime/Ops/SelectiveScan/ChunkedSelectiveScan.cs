using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// The selective scan of <see cref="SelectiveScanReference"/> computed in parallel, with no loop over tokens.
/// The recurrence <c>h_t = a_t h_{t-1} + b_t</c> (<c>a_t = exp(delta_t A)</c>, <c>b_t = delta_t B_t u_t</c>) is a
/// scan under the associative operator <c>(a1, b1) then (a2, b2) = (a2 a1, a2 b1 + b2)</c>. The sequence is cut
/// into chunks; an inclusive Hillis-Steele scan (log2 chunk steps) runs inside all chunks at once, a second one
/// runs over the chunks' end states, and each chunk then adds its carried-in state times its cumulative decay.
/// Only products of decays in (0, 1] are formed (never exp of a cumulative sum and its inverse), so it is exact
/// in fp32 for any step size; the result equals the sequential scan up to the order of rounding.
/// </summary>
public static class ChunkedSelectiveScan
{
    /// <summary>Tokens per chunk: 64 keeps the working set of one scan step small and the step count at 6.</summary>
    public const int DefaultChunkSize = 64;

    /// <summary>Same arguments, layouts and result as <see cref="SelectiveScanReference.RunWithFinalState"/>.</summary>
    public static (Tensor Output, Tensor FinalState) RunWithFinalState(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D = null, Tensor? z = null,
        Tensor? deltaBias = null, bool deltaSoftplus = false, Tensor? initialState = null, int chunkSize = DefaultChunkSize)
    {
        ScanShapes.Check(u, delta, A, B, C, D, z, deltaBias, initialState);
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunked selective scan: chunk size must be at least 1");
        using var scope = NewDisposeScope();
        ScalarType compute = ScanShapes.ComputeType(u.dtype);
        long batch = u.shape[0], dInner = u.shape[1], length = u.shape[2], dState = A.shape[1];

        Tensor uf = u.to_type(compute);
        Tensor dt = ScanShapes.StepSizes(delta, deltaBias, deltaSoftplus, compute);                    // (B, d_inner, L)
        Tensor decay = exp(dt.unsqueeze(-1) * A.to_type(compute).unsqueeze(1));                      // (B, d_inner, L, N)
        Tensor input = (dt * uf).unsqueeze(-1) * B.to_type(compute).transpose(1, 2).unsqueeze(1);     // (B, d_inner, L, N)
        if (initialState is not null)
        {
            // Fold h_{-1} into the first step: b_0 += a_0 h_{-1}.
            Tensor first = input[.., .., ..1] + decay[.., .., ..1] * initialState.to_type(compute).unsqueeze(2);
            input = cat(new[] { first, input[.., .., 1..] }, 2);
        }

        long chunk = Math.Min(chunkSize, length), chunks = (length + chunk - 1) / chunk, padded = chunks * chunk;
        if (padded > length)
        {
            // Identity steps (a = 1, b = 0) past the end leave the last state unchanged.
            decay = nn.functional.pad(decay, new long[] { 0, 0, 0, padded - length }, value: 1.0);
            input = nn.functional.pad(input, new long[] { 0, 0, 0, padded - length }, value: 0.0);
        }
        decay = decay.reshape(batch, dInner, chunks, chunk, dState);                                  // (B, d_inner, nc, T, N)
        input = input.reshape(batch, dInner, chunks, chunk, dState);

        (Tensor cumulativeDecay, Tensor localState) = InclusiveScan(decay, input, dim: 3);            // from a zero state
        Tensor endDecay = cumulativeDecay[.., .., .., -1];                                            // (B, d_inner, nc, N)
        Tensor endState = localState[.., .., .., -1];
        (_, Tensor chunkState) = InclusiveScan(endDecay, endState, dim: 2);                           // state after chunk c
        Tensor carriedIn = nn.functional.pad(chunkState[.., .., ..^1], new long[] { 0, 0, 1, 0 });    // state before chunk c
        Tensor h = (localState + cumulativeDecay * carriedIn.unsqueeze(3))                            // (B, d_inner, nc, T, N)
                   .reshape(batch, dInner, padded, dState)[.., .., ..(int)length];                    // (B, d_inner, L, N)

        Tensor y = (h * C.to_type(compute).transpose(1, 2).unsqueeze(1)).sum(-1);                     // (B, d_inner, L)
        if (D is not null) y = y + uf * D.to_type(compute).unsqueeze(-1);
        if (z is not null) y = y * nn.functional.silu(z.to_type(compute));
        Tensor finalState = chunkState[.., .., -1];                                                   // (B, d_inner, N)
        return (y.to_type(u.dtype).MoveToOuterDisposeScope(), finalState.MoveToOuterDisposeScope());
    }

    /// <summary>Inclusive scan of <c>h_t = a_t h_{t-1} + b_t</c> along <paramref name="dim"/> from a zero state
    /// (Hillis-Steele: at stride s every element absorbs the one s before it). Returns the running products of a and h.</summary>
    private static (Tensor Decay, Tensor State) InclusiveScan(Tensor a, Tensor b, long dim)
    {
        long n = a.shape[dim];
        for (long stride = 1; stride < n; stride *= 2)
        {
            Tensor aHead = a.narrow(dim, 0, stride), bHead = b.narrow(dim, 0, stride);
            Tensor aTail = a.narrow(dim, stride, n - stride);
            Tensor aPrev = a.narrow(dim, 0, n - stride), bPrev = b.narrow(dim, 0, n - stride);
            b = cat(new[] { bHead, aTail * bPrev + b.narrow(dim, stride, n - stride) }, dim);
            a = cat(new[] { aHead, aTail * aPrev }, dim);
        }
        return (a, b);
    }
}
