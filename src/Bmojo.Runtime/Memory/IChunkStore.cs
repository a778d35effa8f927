namespace Bmojo.Runtime.Memory;

/// <summary>
/// The long-term eidetic memory of one sequence ("in-storage"): chunks of tokens evicted from the eidetic memory,
/// written at chunk boundaries and read by top-k retrieval. A chunk written at boundary b is visible from boundary
/// b + 1, never earlier, so results do not depend on when a write completes.
/// </summary>
public interface IChunkStore : IDisposable
{
    /// <summary>Chunks written so far (visible or not).</summary>
    int Count { get; }

    /// <summary>Writes <paramref name="chunk"/> at <paramref name="boundary"/>; boundaries never decrease.</summary>
    void Write(StoredChunk chunk, long boundary);

    /// <summary>
    /// The ids of the (at most) <paramref name="topK"/> chunks visible at <paramref name="boundary"/> whose mean key of
    /// head <paramref name="kvHead"/> has the largest dot product with <paramref name="meanQuery"/>, best first;
    /// equal scores rank the older chunk first.
    /// </summary>
    IReadOnlyList<int> Search(int kvHead, ReadOnlySpan<float> meanQuery, int topK, long boundary);

    /// <summary>The chunk with id <paramref name="id"/> (ids count chunks from 0). Its tensors are read-only and not the
    /// caller's to dispose: the store owns them, or they are fresh copies in the caller's dispose scope.</summary>
    StoredChunk Read(int id);
}
