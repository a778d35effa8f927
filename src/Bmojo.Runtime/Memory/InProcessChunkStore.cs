using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Memory;

/// <summary>The default chunk store: chunks held in memory (detached copies) for the life of a cache.</summary>
public sealed class InProcessChunkStore : IChunkStore
{
    private readonly List<(StoredChunk Chunk, long Boundary)> chunks = [];

    public int Count => chunks.Count;

    public void Write(StoredChunk chunk, long boundary)
    {
        if (chunks.Count > 0 && boundary < chunks[^1].Boundary)
            throw new ArgumentException($"chunk store: write at boundary {boundary} after a write at boundary {chunks[^1].Boundary}");
        // Copies owned by the store, outside any dispose scope of the caller.
        Tensor keys = chunk.Keys.detach().clone().DetachFromDisposeScope();
        Tensor values = chunk.Values.detach().clone().DetachFromDisposeScope();
        chunks.Add((new StoredChunk(keys, values, [.. chunk.Positions]), boundary));
    }

    public IReadOnlyList<int> Search(int kvHead, ReadOnlySpan<float> meanQuery, int topK, long boundary)
    {
        var visible = new List<(int Id, double Score)>();
        for (int id = 0; id < chunks.Count && chunks[id].Boundary < boundary; id++)
            visible.Add((id, ChunkRanking.Score(chunks[id].Chunk.MeanKey[kvHead], meanQuery)));
        return ChunkRanking.TopK(visible, topK);
    }

    public StoredChunk Read(int id) => chunks[id].Chunk;

    public void Dispose()
    {
        foreach ((StoredChunk chunk, _) in chunks)
        {
            chunk.Keys.Dispose();
            chunk.Values.Dispose();
        }
        chunks.Clear();
    }
}
