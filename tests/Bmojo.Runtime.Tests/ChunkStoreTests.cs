using Bmojo.Runtime.Memory;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

public sealed class ChunkStoreTests
{
    // One key/value head, c = 2, Dh = 2: both keys equal, so the mean key is the key.
    private static StoredChunk Chunk(float a, float b, long first) =>
        new(tensor(new[] { a, b, a, b }, [1, 2, 2]), tensor(new[] { first, 0f, first + 1, 0f }, [1, 2, 2]), [first, first + 1]);

    [Fact]
    public void A_chunk_written_at_a_boundary_is_visible_from_the_next_boundary_only()
    {
        using var store = new InProcessChunkStore();
        store.Write(Chunk(1, 0, 10), boundary: 3);
        Assert.Empty(store.Search(0, [1f, 0f], topK: 4, boundary: 2));
        Assert.Empty(store.Search(0, [1f, 0f], topK: 4, boundary: 3));
        Assert.Equal([0], store.Search(0, [1f, 0f], topK: 4, boundary: 4));
    }

    [Fact]
    public void Search_ranks_by_dot_product_with_the_mean_key_ties_to_the_older_chunk()
    {
        using var store = new InProcessChunkStore();
        store.Write(Chunk(1, 0, 0), 1);
        store.Write(Chunk(0, 1, 2), 1);
        store.Write(Chunk(2, 0, 4), 2);
        store.Write(Chunk(0, 1, 6), 2);
        Assert.Equal([2, 0], store.Search(0, [1f, 0f], topK: 2, boundary: 3));
        Assert.Equal([1, 3, 0], store.Search(0, [0f, 1f], topK: 3, boundary: 3));   // ties (1 and 3, 0 and 2): older first
        Assert.Equal([0, 1], store.Search(0, [1f, 0f], topK: 5, boundary: 2));      // chunks 2, 3 not visible yet
    }

    [Fact]
    public void Read_returns_the_written_tokens_and_mean_key()
    {
        using var store = new InProcessChunkStore();
        StoredChunk written = Chunk(3, 4, 7);
        store.Write(written, 0);
        StoredChunk read = store.Read(0);
        Assert.Equal(new long[] { 7, 8 }, read.Positions);
        Assert.True(read.Values.eq(written.Values).all().item<bool>());
        Assert.Equal(new[] { 3f, 4f }, read.MeanKey[0]);
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void Writes_never_go_back_in_time()
    {
        using var store = new InProcessChunkStore();
        store.Write(Chunk(1, 0, 0), 5);
        var error = Assert.Throws<ArgumentException>(() => store.Write(Chunk(1, 0, 2), 4));
        Assert.Contains("boundary 4", error.Message);
    }
}
