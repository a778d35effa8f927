using Bmojo.Runtime.Memory;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>
/// The recurrent state of a <see cref="BmojoMixer"/>: the SSM's cache, the band of the last <c>w + m_f</c> tokens
/// (keys, values, fading keys/values, selection), the eidetic memory (keys, values, positions, FIFO order), the last
/// SSM output (for the innovation test) and, with retrieval, one chunk store per sequence plus the evicted tokens
/// not yet written and the current query chunk's queries and retrieved tokens.
/// </summary>
public sealed class BmojoCache : IMixerCache
{
    private readonly List<(Tensor Key, Tensor Value, long Position)>[] pending;   // evicted, not yet a full chunk
    private readonly List<StoredChunk>[] outbox;                                   // full chunks, written at the next boundary

    internal BmojoCache(IMixerCache? ssm, IReadOnlyList<IChunkStore> stores, long batch, int kvHeads, int headDim,
                        ScalarType dtype, Device device)
    {
        Ssm = ssm;
        Stores = stores;
        Tensor None() => zeros([batch, kvHeads, 0, headDim], dtype, device).DetachFromDisposeScope();
        BandK = None(); BandV = None(); BandKf = None(); BandVf = None();
        MemoryK = None(); MemoryV = None();
        BandSelected = zeros([batch, 0], ScalarType.Bool, device).DetachFromDisposeScope();
        MemoryPositions = zeros([batch, 0], ScalarType.Int64, device).DetachFromDisposeScope();
        MemoryValid = zeros([batch, 0], ScalarType.Bool, device).DetachFromDisposeScope();
        pending = [.. Enumerable.Range(0, stores.Count).Select(_ => new List<(Tensor, Tensor, long)>())];
        outbox = [.. Enumerable.Range(0, stores.Count).Select(_ => new List<StoredChunk>())];
    }

    public long Position { get; internal set; }

    internal IMixerCache? Ssm { get; }

    /// <summary>One store per sequence (empty without retrieval).</summary>
    public IReadOnlyList<IChunkStore> Stores { get; }

    internal Tensor? PreviousY { get; private set; }                 // (B, D)
    internal Tensor BandK { get; private set; }                      // (B, Hkv, n, Dh), positions Position - n ..
    internal Tensor BandV { get; private set; }
    internal Tensor BandKf { get; private set; }
    internal Tensor BandVf { get; private set; }
    internal Tensor BandSelected { get; private set; }               // (B, n)
    internal Tensor MemoryK { get; private set; }                    // (B, Hkv, M, Dh)
    internal Tensor MemoryV { get; private set; }
    internal Tensor MemoryPositions { get; private set; }            // (B, M), valid entries increasing
    internal Tensor MemoryValid { get; private set; }                // (B, M)
    internal List<Tensor> ChunkQueries { get; } = [];                // queries (B, H, T, Dh) of the current query chunk
    internal Tensor? RetrievedK { get; private set; }                // (B, H, R, Dh)
    internal Tensor? RetrievedV { get; private set; }
    internal Tensor? RetrievedValid { get; private set; }            // (B, H, R)

    internal void SetBand(Tensor k, Tensor v, Tensor kf, Tensor vf, Tensor selected)
    {
        BandK = Keep(BandK, k); BandV = Keep(BandV, v); BandKf = Keep(BandKf, kf); BandVf = Keep(BandVf, vf);
        BandSelected = Keep(BandSelected, selected);
    }

    internal void SetMemory(Tensor k, Tensor v, Tensor positions, Tensor valid)
    {
        MemoryK = Keep(MemoryK, k); MemoryV = Keep(MemoryV, v);
        MemoryPositions = Keep(MemoryPositions, positions); MemoryValid = Keep(MemoryValid, valid);
    }

    internal void SetPreviousY(Tensor y) => PreviousY = Keep(PreviousY, y);

    internal void SetRetrieved(Tensor? k, Tensor? v, Tensor? valid)
    {
        RetrievedK?.Dispose(); RetrievedV?.Dispose(); RetrievedValid?.Dispose();
        RetrievedK = k?.detach().DetachFromDisposeScope();
        RetrievedV = v?.detach().DetachFromDisposeScope();
        RetrievedValid = valid?.detach().DetachFromDisposeScope();
    }

    /// <summary>Records a token evicted from sequence <paramref name="batch"/>'s eidetic memory (FIFO order); every c
    /// of them make a chunk, written at the next boundary.</summary>
    internal void Evict(int batch, Tensor key, Tensor value, long position, int chunkSize)
    {
        pending[batch].Add((key.detach().DetachFromDisposeScope(), value.detach().DetachFromDisposeScope(), position));
        if (pending[batch].Count < chunkSize) return;
        using var scope = NewDisposeScope();
        var chunk = new StoredChunk(cat(pending[batch].Select(e => e.Key).ToList(), 1),    // (Hkv, c, Dh)
                                    cat(pending[batch].Select(e => e.Value).ToList(), 1),
                                    [.. pending[batch].Select(e => e.Position)]);
        outbox[batch].Add(chunk);
        chunk.Keys.DetachFromDisposeScope();
        chunk.Values.DetachFromDisposeScope();
        foreach ((Tensor k, Tensor v, _) in pending[batch]) { k.Dispose(); v.Dispose(); }
        pending[batch].Clear();
    }

    /// <summary>At boundary b: writes the chunks completed since the last boundary (visible from b + 1).</summary>
    internal void WriteOutbox(long boundary)
    {
        for (int b = 0; b < Stores.Count; b++)
        {
            foreach (StoredChunk chunk in outbox[b])
            {
                Stores[b].Write(chunk, boundary);
                chunk.Keys.Dispose();
                chunk.Values.Dispose();
            }
            outbox[b].Clear();
        }
    }

    internal void ClearChunkQueries()
    {
        foreach (Tensor q in ChunkQueries) q.Dispose();
        ChunkQueries.Clear();
    }

    public void Dispose()
    {
        Ssm?.Dispose();
        foreach (IChunkStore store in Stores) store.Dispose();
        foreach (Tensor t in new[] { BandK, BandV, BandKf, BandVf, BandSelected, MemoryK, MemoryV, MemoryPositions, MemoryValid })
            t.Dispose();
        PreviousY?.Dispose();
        SetRetrieved(null, null, null);
        ClearChunkQueries();
        foreach ((Tensor k, Tensor v, _) in pending.SelectMany(p => p)) { k.Dispose(); v.Dispose(); }
        DiscardOutbox();
    }

    private void DiscardOutbox()
    {
        foreach (StoredChunk chunk in outbox.SelectMany(o => o)) { chunk.Keys.Dispose(); chunk.Values.Dispose(); }
    }

    private static Tensor Keep(Tensor? old, Tensor value)
    {
        Tensor kept = value.detach().clone().DetachFromDisposeScope();   // a copy: no view pins a larger chunk
        old?.Dispose();
        return kept;
    }
}
