namespace Bmojo.Runtime.Memory;

/// <summary>The one ranking rule of retrieval, shared by every store and the parallel plan.</summary>
internal static class ChunkRanking
{
    /// <summary>Dot product accumulated in double.</summary>
    public static double Score(ReadOnlySpan<float> meanKey, ReadOnlySpan<float> meanQuery)
    {
        double sum = 0;
        for (int i = 0; i < meanKey.Length; i++) sum += (double)meanKey[i] * meanQuery[i];
        return sum;
    }

    /// <summary>Indices into <paramref name="candidates"/> of the best <paramref name="topK"/> scores, best first,
    /// ties to the earlier candidate.</summary>
    public static int[] TopK(IReadOnlyList<(int Id, double Score)> candidates, int topK) =>
        candidates.OrderByDescending(c => c.Score).ThenBy(c => c.Id).Take(topK).Select(c => c.Id).ToArray();
}
