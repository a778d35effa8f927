using Bmojo.Runtime.Memory;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

/// <summary>The store contract, for the in-process and the file-backed store alike.</summary>
public sealed class ChunkStoreTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "bmojo-chunk-store-tests", Guid.NewGuid().ToString("N"));

    public static TheoryData<string> Kinds => new() { "in-process", "file" };

    private IChunkStore Open(string kind) =>
        kind == "file" ? new FileChunkStore(Path.Combine(directory, "seq0.chunks")) : new InProcessChunkStore();

    // One key/value head, c = 2, Dh = 2: both keys equal, so the mean key is the key.
    private static StoredChunk Chunk(float a, float b, long first) =>
        new(tensor(new[] { a, b, a, b }, [1, 2, 2]), tensor(new[] { first, 0f, first + 1, 0f }, [1, 2, 2]), [first, first + 1]);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_chunk_written_at_a_boundary_is_visible_from_the_next_boundary_only(string kind)
    {
        using IChunkStore store = Open(kind);
        store.Write(Chunk(1, 0, 10), boundary: 3);
        Assert.Empty(store.Search(0, [1f, 0f], topK: 4, boundary: 2));
        Assert.Empty(store.Search(0, [1f, 0f], topK: 4, boundary: 3));
        Assert.Equal([0], store.Search(0, [1f, 0f], topK: 4, boundary: 4));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Search_ranks_by_dot_product_with_the_mean_key_ties_to_the_older_chunk(string kind)
    {
        using IChunkStore store = Open(kind);
        store.Write(Chunk(1, 0, 0), 1);
        store.Write(Chunk(0, 1, 2), 1);
        store.Write(Chunk(2, 0, 4), 2);
        store.Write(Chunk(0, 1, 6), 2);
        Assert.Equal([2, 0], store.Search(0, [1f, 0f], topK: 2, boundary: 3));
        Assert.Equal([1, 3, 0], store.Search(0, [0f, 1f], topK: 3, boundary: 3));   // ties (1 and 3, 0 and 2): older first
        Assert.Equal([0, 1], store.Search(0, [1f, 0f], topK: 5, boundary: 2));      // chunks 2, 3 not visible yet
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Read_returns_the_written_tokens_and_mean_key(string kind)
    {
        using IChunkStore store = Open(kind);
        StoredChunk written = Chunk(3, 4, 7);
        store.Write(written, 0);
        StoredChunk read = store.Read(0);
        Assert.Equal(new long[] { 7, 8 }, read.Positions);
        Assert.True(read.Keys.eq(written.Keys).all().item<bool>());
        Assert.True(read.Values.eq(written.Values).all().item<bool>());
        Assert.Equal(new[] { 3f, 4f }, read.MeanKey[0]);
        Assert.Equal(1, store.Count);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Writes_never_go_back_in_time(string kind)
    {
        using IChunkStore store = Open(kind);
        store.Write(Chunk(1, 0, 0), 5);
        var error = Assert.Throws<ArgumentException>(() => store.Write(Chunk(1, 0, 2), 4));
        Assert.Contains("boundary 4", error.Message);
    }

    [Fact]
    public void The_file_store_keeps_its_chunks_for_the_next_session_visible_from_the_start()
    {
        using (IChunkStore first = Open("file"))
        {
            first.Write(Chunk(1, 0, 0), 4);
            first.Write(Chunk(0, 2, 2), 9);
        }
        using IChunkStore second = Open("file");
        Assert.Equal(2, second.Count);
        Assert.Equal([1, 0], second.Search(0, [0f, 1f], topK: 2, boundary: 1));
        Assert.Equal(new long[] { 2, 3 }, second.Read(1).Positions);
        second.Write(Chunk(5, 5, 20), 1);
        Assert.Equal([1, 0], second.Search(0, [1f, 1f], topK: 3, boundary: 1));     // this session's write: from boundary 2
        Assert.Equal([2, 1, 0], second.Search(0, [1f, 1f], topK: 3, boundary: 2));
    }

    [Fact]
    public void A_damaged_file_is_reported_with_its_path_and_record()
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "seq0.chunks");
        using (IChunkStore store = Open("file")) store.Write(Chunk(1, 0, 0), 0);
        File.AppendAllText(path, "garbage!");
        var error = Assert.Throws<InvalidDataException>(() => new FileChunkStore(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("record 1", error.Message);
    }

    public void Dispose()
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }
}
