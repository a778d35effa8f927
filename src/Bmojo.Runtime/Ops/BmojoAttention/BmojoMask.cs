using Bmojo.Runtime.Memory;
using Bmojo.Runtime.Ops.Innovation;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>
/// The exact boolean mask of the B'MOJO softmax (docs/bmojo-layer.md, rules (a)-(d)). Key columns are
/// <c>[k_j for the band tokens | kf_j for the band tokens | k_j for eidetic-memory entries]</c>; for a whole
/// sequence the band is every token and the memory is empty, so the mask is <c>(B, 1, L, 2L)</c>. Query t sees
/// (a) <c>k_j</c> for <c>t-w &lt; j &lt;= t</c>; (b) <c>kf_j</c> for <c>t-w-m_f &lt; j &lt;= t-w</c>; (c) <c>k_j</c> of
/// the most recent m_e selected tokens with <c>j &lt;= t-w</c>; (d) with retrieval, the tokens of the chunks its
/// head retrieved (<see cref="WithRetrieval"/>).
/// </summary>
public static class BmojoMask
{
    /// <summary>The mask of a whole sequence: <c>selected (B, L)</c> bool <c>-> (B, 1, L, 2L)</c> bool.</summary>
    public static Tensor Build(Tensor selected, int window, int fadingTokens, int eideticCapacity)
    {
        using var scope = NewDisposeScope();
        long batch = selected.shape[0];
        Tensor positions = arange(selected.shape[1], device: selected.device);
        Tensor noMemory = empty(batch, 0, dtype: ScalarType.Int64, device: selected.device);
        return Build(positions, positions, selected, noMemory, noMemory.to_type(ScalarType.Bool),
                     window, fadingTokens, eideticCapacity).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The mask of queries over a band of consecutive tokens plus the eidetic memory carried from before the band's
    /// eidetic candidates (the recurrent form). Columns: <c>[band k (N) | band kf (N) | memory k (M)]</c>.
    /// </summary>
    /// <param name="queryPositions">t of each query <c>(T)</c>.</param>
    /// <param name="bandPositions">j of each band token <c>(N)</c>, increasing.</param>
    /// <param name="bandCandidates">Band tokens that are selected and not already represented in the memory <c>(B, N)</c>.</param>
    /// <param name="memoryPositions">j of each memory entry <c>(B, M)</c>, valid ones increasing and before the band candidates.</param>
    /// <param name="memoryValid">Which memory slots hold a token <c>(B, M)</c>.</param>
    /// <returns><c>(B, 1, T, 2N + M)</c> bool.</returns>
    public static Tensor Build(Tensor queryPositions, Tensor bandPositions, Tensor bandCandidates,
                               Tensor memoryPositions, Tensor memoryValid, int window, int fadingTokens, int eideticCapacity)
    {
        using var scope = NewDisposeScope();
        long batch = bandCandidates.shape[0], memorySize = memoryPositions.shape[1];
        Tensor t = queryPositions.unsqueeze(1);                                                  // (T, 1)
        Tensor j = bandPositions.unsqueeze(0);                                                   // (1, N)
        Tensor inWindow = j.gt(t - window) & j.le(t);                                            // (T, N)  (a)
        Tensor inFading = j.gt(t - window - fadingTokens) & j.le(t - window);                    // (T, N)  (b)

        Tensor candidatePositions = cat([memoryPositions, bandPositions.unsqueeze(0).expand(batch, -1)], dim: 1);
        Tensor candidates = cat([memoryValid, bandCandidates], dim: 1);                          // (B, M + N)
        Tensor eidetic = InnovationSelector.EideticMemory(queryPositions, candidatePositions, candidates,
                                                          window, eideticCapacity);              // (B, T, M + N)  (c)
        Tensor tokens = inWindow.unsqueeze(0) | eidetic[.., .., (int)memorySize..];              // (B, T, N)
        Tensor mask = cat([tokens, inFading.unsqueeze(0).expand(batch, -1, -1), eidetic[.., .., ..(int)memorySize]],
                          dim: 2);                                                               // (B, T, 2N + M)
        return mask.unsqueeze(1).MoveToOuterDisposeScope();                                      // (B, 1, T, 2N + M)
    }

    /// <summary>Adds rule (d) to a whole-sequence mask: <c>(B, 1, L, 2L)</c> and the per-head retrieved tokens
    /// <c>(B, H, L, L)</c> (see <see cref="RetrievalPlan.ToMask"/>) <c>-> (B, H, L, 2L)</c>.</summary>
    public static Tensor WithRetrieval(Tensor mask, Tensor retrieved)
    {
        using var scope = NewDisposeScope();
        long length = retrieved.shape[3];
        Tensor expanded = mask.expand(-1, retrieved.shape[1], -1, -1);                           // (B, H, L, 2L)
        Tensor tokens = expanded[.., .., .., ..(int)length] | retrieved;
        return cat([tokens, expanded[.., .., .., (int)length..]], dim: 3).MoveToOuterDisposeScope();
    }
}
