using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Memory;

/// <summary>
/// Retrieval over a whole sequence, computed in parallel (ours, docs/bmojo-layer.md): the selected tokens
/// leave the eidetic memory in FIFO order (rank r leaves at <c>t = P[r + m_e] + w</c>, P the selected positions) and
/// form chunks of c consecutive evicted tokens; a chunk completed during query chunk n is written at boundary n + 1
/// and visible from boundary n + 2. At boundary Q (position Q c) each head scores the visible chunks' mean keys with
/// the mean query of query chunk Q - 1 and its queries of chunk Q attend to the tokens of the top-k.
/// </summary>
public sealed class RetrievalPlan
{
    private readonly long[][][][] positions;   // [b][h][Q]: retrieved token positions, best chunk first

    private RetrievalPlan(long[][][][] positions, long length, int chunkSize)
    {
        this.positions = positions;
        Length = length;
        ChunkSize = chunkSize;
    }

    public long Length { get; }

    public int ChunkSize { get; }

    /// <summary>The positions of the tokens that head <paramref name="head"/> of sequence <paramref name="batch"/>
    /// retrieved for query chunk <paramref name="queryChunk"/>.</summary>
    public IReadOnlyList<long> Retrieved(int batch, int head, int queryChunk) => positions[batch][head][queryChunk];

    /// <param name="q">Queries after RoPE <c>(B, H, L, Dh)</c>.</param>
    /// <param name="k">Keys after RoPE <c>(B, Hkv, L, Dh)</c>.</param>
    /// <param name="selected">s <c>(B, L)</c> bool.</param>
    public static RetrievalPlan Build(Tensor q, Tensor k, Tensor selected, int window, int eideticCapacity,
                                      RetrievalOptions options)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int batch = (int)q.shape[0], heads = (int)q.shape[1], group = heads / (int)k.shape[1], c = options.ChunkSize;
        long length = q.shape[2];
        int queryChunks = (int)((length + c - 1) / c);
        float[][][][] meanQueries = MeanQueries(q, c);                                   // [b][h][Q] for full chunks Q
        bool[] s = selected.cpu().flatten().data<bool>().ToArray();

        var result = new long[batch][][][];
        for (int b = 0; b < batch; b++)
        {
            long[] picked = Enumerable.Range(0, (int)length).Where(j => s[b * length + j]).Select(j => (long)j).ToArray();
            var chunks = new List<(long[] Members, float[][] MeanKey, long Boundary)>();
            for (int n = 0; (n + 1) * c - 1 + eideticCapacity < picked.Length; n++)
            {
                long completed = picked[(n + 1) * c - 1 + eideticCapacity] + window;   // the last token's eviction
                if (completed >= length) break;
                long[] members = picked[(n * c)..((n + 1) * c)];
                Tensor keys = k[b].index_select(1, tensor(members, device: k.device));      // (Hkv, c, Dh)
                chunks.Add((members, StoredChunk.MeanPerHead(keys), completed / c + 1));
            }
            result[b] = new long[heads][][];
            for (int h = 0; h < heads; h++)
            {
                result[b][h] = new long[queryChunks][];
                for (int chunk = 0; chunk < queryChunks; chunk++)
                {
                    var visible = new List<(int Id, double Score)>();
                    for (int id = 0; id < chunks.Count && chunks[id].Boundary < chunk; id++)
                        visible.Add((id, ChunkRanking.Score(chunks[id].MeanKey[h / group], meanQueries[b][h][chunk - 1])));
                    result[b][h][chunk] = ChunkRanking.TopK(visible, options.TopK)
                                                      .SelectMany(id => chunks[id].Members).ToArray();
                }
            }
        }
        return new RetrievalPlan(result, length, c);
    }

    /// <summary>Rule (d) as a mask on the token columns: <c>(B, H, L, L)</c> bool.</summary>
    public Tensor ToMask(Device device)
    {
        int batch = positions.Length, heads = positions[0].Length;
        var mask = new bool[batch * heads * Length * Length];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (long t = 0; t < Length; t++)
                    foreach (long j in positions[b][h][t / ChunkSize])
                        mask[((b * heads + h) * Length + t) * Length + j] = true;
        return tensor(mask, [batch, heads, Length, Length], device: device);
    }

    // Mean query of each complete query chunk: [b][h][Q] = mean of q over positions [Q c, (Q + 1) c).
    private static float[][][][] MeanQueries(Tensor q, int chunkSize)
    {
        long full = q.shape[2] / chunkSize;
        Tensor means = q.narrow(2, 0, full * chunkSize).to_type(ScalarType.Float32)
                        .reshape(q.shape[0], q.shape[1], full, chunkSize, q.shape[3]).mean([3]).cpu();  // (B, H, Q, Dh)
        return Enumerable.Range(0, (int)q.shape[0]).Select(b =>
            Enumerable.Range(0, (int)q.shape[1]).Select(h =>
                Enumerable.Range(0, (int)full).Select(n => means[b, h, n].data<float>().ToArray()).ToArray()).ToArray()).ToArray();
    }
}
