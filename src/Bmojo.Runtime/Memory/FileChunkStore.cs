using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Memory;

/// <summary>
/// A persistent chunk store: one append-only file per sequence, float32 keys and values, mean keys indexed in memory.
/// Chunks already in the file when it is opened were written by an earlier session: they are visible from the first
/// boundary on. Chunks written in this session follow the usual rule (written at b, visible from b + 1).
/// </summary>
/// <remarks>Record layout (little-endian): magic "BMCK", boundary (int64), Hkv, c, Dh, Dv (int32), c positions
/// (int64), keys <c>(Hkv, c, Dh)</c> and values <c>(Hkv, c, Dv)</c> (float32).</remarks>
public sealed class FileChunkStore : IChunkStore
{
    private const int Magic = 0x4B434D42;      // "BMCK"
    private const long EarlierSession = -1;

    private readonly FileStream file;
    private readonly List<(long Offset, long Boundary, float[][] MeanKey)> index = [];

    public FileChunkStore(string path)
    {
        FilePath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        file = new FileStream(FilePath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        while (file.Position < file.Length)
        {
            using var scope = NewDisposeScope();                                                // frees the record's tensors
            long offset = file.Position;
            index.Add((offset, EarlierSession, ReadRecord(index.Count).MeanKey));
        }
    }

    public string FilePath { get; }

    public int Count => index.Count;

    public void Write(StoredChunk chunk, long boundary)
    {
        if (index.Count > 0 && boundary < index[^1].Boundary)
            throw new ArgumentException($"chunk store {FilePath}: write at boundary {boundary} after a write at boundary {index[^1].Boundary}");
        using var scope = NewDisposeScope();
        Tensor keys = chunk.Keys.detach().to_type(ScalarType.Float32).cpu().contiguous();      // (Hkv, c, Dh)
        Tensor values = chunk.Values.detach().to_type(ScalarType.Float32).cpu().contiguous();  // (Hkv, c, Dv)
        long offset = file.Seek(0, SeekOrigin.End);
        using (var writer = new BinaryWriter(file, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(boundary);
            foreach (long size in new[] { keys.shape[0], keys.shape[1], keys.shape[2], values.shape[2] }) writer.Write((int)size);
            foreach (long position in chunk.Positions) writer.Write(position);
            writer.Write(MemoryMarshal.AsBytes(keys.data<float>().ToArray().AsSpan()));
            writer.Write(MemoryMarshal.AsBytes(values.data<float>().ToArray().AsSpan()));
        }
        file.Flush();
        index.Add((offset, boundary, chunk.MeanKey));
    }

    public IReadOnlyList<int> Search(int kvHead, ReadOnlySpan<float> meanQuery, int topK, long boundary)
    {
        var visible = new List<(int Id, double Score)>();
        for (int id = 0; id < index.Count && index[id].Boundary < boundary; id++)
            visible.Add((id, ChunkRanking.Score(index[id].MeanKey[kvHead], meanQuery)));
        return ChunkRanking.TopK(visible, topK);
    }

    /// <summary>Reads chunk <paramref name="id"/> from the file: new CPU float32 tensors, in the caller's dispose scope.</summary>
    public StoredChunk Read(int id)
    {
        file.Seek(index[id].Offset, SeekOrigin.Begin);
        return ReadRecord(id);
    }

    public void Dispose() => file.Dispose();

    private StoredChunk ReadRecord(int id)
    {
        long offset = file.Position;
        using var reader = new BinaryReader(file, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            if (reader.ReadInt32() != Magic)
                throw new InvalidDataException($"chunk store {FilePath}: record {id} at byte {offset} is not a chunk record");
            reader.ReadInt64();                                                                  // the boundary: a past session's
            int heads = reader.ReadInt32(), size = reader.ReadInt32(), keyDim = reader.ReadInt32(), valueDim = reader.ReadInt32();
            long[] positions = Enumerable.Range(0, size).Select(_ => reader.ReadInt64()).ToArray();
            float[] keys = ReadFloats(reader, heads * size * keyDim), values = ReadFloats(reader, heads * size * valueDim);
            return new StoredChunk(tensor(keys, [heads, size, keyDim]), tensor(values, [heads, size, valueDim]), positions);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"chunk store {FilePath}: record {id} at byte {offset} is truncated");
        }
    }

    private static float[] ReadFloats(BinaryReader reader, int count)
    {
        byte[] bytes = reader.ReadBytes(count * sizeof(float));
        if (bytes.Length != count * sizeof(float)) throw new EndOfStreamException();
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}
