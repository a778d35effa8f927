using Bmojo.Runtime.Memory;
using Bmojo.Runtime.Ops.BmojoAttention;
using Bmojo.Runtime.Ops.Innovation;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

// Recurrent inference: a chunk of any length continues the cache and gives the full forward's outputs.
public sealed partial class BmojoMixer
{
    public override IMixerCache AllocateCache(long batch)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"B'MOJO mixer (layer {LayerIndex}): batch must be at least 1");
        Tensor weight = in_proj.weight!;
        IChunkStore[] stores = [.. Enumerable.Range(0, options.Retrieval is null ? 0 : (int)batch).Select(OpenStore)];
        return new BmojoCache(ssm?.AllocateCache(batch), stores, batch, kvHeads, headDim, weight.dtype, weight.device);
    }

    // Sequence b's store: in-process, or the file <StorePath>/layer<i>-seq<b>.chunks (kept across caches and runs).
    private IChunkStore OpenStore(int sequence) => options.Retrieval!.StorePath is { } directory
        ? new FileChunkStore(Path.Combine(directory, $"layer{LayerIndex}-seq{sequence}.chunks"))
        : new InProcessChunkStore();

    public override Tensor Forward(Tensor x, IMixerCache cache)
    {
        CheckInput(x);
        if (cache is not BmojoCache state)
            throw new ArgumentException($"B'MOJO mixer: expected the cache from its AllocateCache, got {cache.GetType().Name}");
        if (state.BandSelected.shape[0] != x.shape[0])
            throw new ArgumentException($"B'MOJO mixer: the cache holds {state.BandSelected.shape[0]} sequences, the input {x.shape[0]}");
        using var scope = NewDisposeScope();
        var outputs = new List<Tensor>();
        for (long done = 0; done < x.shape[1];)
        {
            long take = x.shape[1] - done;
            if (options.Retrieval is { ChunkSize: var c })
            {
                if (state.Position % c == 0 && state.Position > 0) EnterQueryChunk(state, state.Position / c);
                take = Math.Min(take, c - state.Position % c);                                  // never cross a boundary
            }
            outputs.Add(Step(x.narrow(1, done, take), state));
            done += take;
        }
        Ran(new MixerPath(Scan: ssm?.LastPath?.Scan));                                       // the recurrent softmax: no BmojoPath
        return cat(outputs, 1).MoveToOuterDisposeScope();                                     // (B, T, D)
    }

    // Tokens at positions p .. p + T - 1, all in one query chunk.
    private Tensor Step(Tensor u, BmojoCache cache)
    {
        using var scope = NewDisposeScope();
        long p = cache.Position, count = u.shape[1];
        Tensor? y = ssm?.Forward(u, cache.Ssm!);                                                 // (B, T, D)
        Tensor selected = Select(u, y, cache.PreviousY);                                          // (B, T)
        (Tensor q, Tensor k, Tensor v) = Project(u, p);
        (Tensor kf, Tensor vf) = ProjectFading(y, k, v, p);

        Tensor bandK = cat([cache.BandK, k], 2), bandV = cat([cache.BandV, v], 2);               // (B, Hkv, N, Dh)
        Tensor bandKf = cat([cache.BandKf, kf], 2), bandVf = cat([cache.BandVf, vf], 2);
        Tensor bandSelected = cat([cache.BandSelected, selected], 1);                            // (B, N)
        long bandLength = bandSelected.shape[1];
        Tensor bandPositions = arange(p + count - bandLength, p + count, device: u.device);      // (N)
        // Band tokens before p - w already went through the memory: only later ones are new candidates.
        Tensor candidates = bandSelected & bandPositions.ge(p - window).unsqueeze(0);            // (B, N)
        Tensor queryPositions = arange(p, p + count, device: u.device);
        Tensor mask = BmojoMask.Build(queryPositions, bandPositions, candidates, cache.MemoryPositions,
                                      cache.MemoryValid, window, fadingTokens, eideticCapacity); // (B, 1, T, 2N + M)
        Tensor keys = cat([bandK, bandKf, cache.MemoryK], 2), values = cat([bandV, bandVf, cache.MemoryV], 2);
        if (cache.RetrievedK is not null)
        {
            int group = heads / kvHeads;
            keys = cat([keys.repeat_interleave(group, 1), cache.RetrievedK], 2);                 // (B, H, 2N + M + R, Dh)
            values = cat([values.repeat_interleave(group, 1), cache.RetrievedV!], 2);
            mask = cat([mask.expand(-1, heads, -1, -1),
                        cache.RetrievedValid!.unsqueeze(2).expand(-1, -1, count, -1)], 3);      // (B, H, T, 2N + M + R)
        }
        Tensor output = Output(MaskedAttention.Run(q, keys, values, mask));

        UpdateMemory(cache, p + count - 1, bandK, bandV, bandPositions, candidates);
        long keep = Math.Min(bandLength, window + fadingTokens);                                 // the last w + m_f tokens
        cache.SetBand(bandK.narrow(2, bandLength - keep, keep), bandV.narrow(2, bandLength - keep, keep),
                      bandKf.narrow(2, bandLength - keep, keep), bandVf.narrow(2, bandLength - keep, keep),
                      bandSelected.narrow(1, bandLength - keep, keep));
        if (y is not null) cache.SetPreviousY(y[.., -1]);
        if (options.Retrieval is not null) cache.ChunkQueries.Add(q.detach().clone().DetachFromDisposeScope());
        cache.Position = p + count;
        return output.MoveToOuterDisposeScope();
    }

    // The eidetic memory as the last query (position last) left it; tokens that fell out go to the evicted chunks.
    private void UpdateMemory(BmojoCache cache, long last, Tensor bandK, Tensor bandV, Tensor bandPositions, Tensor candidates)
    {
        using var scope = NewDisposeScope();
        long batch = candidates.shape[0];
        Tensor positions = cat([cache.MemoryPositions, bandPositions.unsqueeze(0).expand(batch, -1)], 1); // (B, M + N)
        Tensor selected = cat([cache.MemoryValid, candidates], 1);
        Tensor keys = cat([cache.MemoryK, bandK], 2), values = cat([cache.MemoryV, bandV], 2);  // (B, Hkv, M + N, Dh)
        Tensor lastPosition = tensor(new[] { last }, device: positions.device);
        Tensor kept = InnovationSelector.EideticMemory(lastPosition, positions, selected, window, eideticCapacity)
                                        .squeeze(1);                                             // (B, M + N)
        Tensor evicted = selected & positions.le(last - window) & kept.logical_not();

        (Tensor index, Tensor valid) = Padded(Rows(kept), positions.device);                     // (B, W)
        Tensor spread = index.unsqueeze(1).unsqueeze(3).expand(-1, keys.shape[1], -1, keys.shape[3]); // (B, Hkv, W, Dh)
        cache.SetMemory(keys.gather(2, spread), values.gather(2, spread), positions.gather(1, index), valid);

        if (options.Retrieval is not { ChunkSize: var chunkSize }) return;
        long[][] gone = Rows(evicted);
        for (int b = 0; b < batch; b++)
            foreach (long i in gone[b])
                cache.Evict(b, keys[b].narrow(1, i, 1), values[b].narrow(1, i, 1), positions[b, i].item<long>(), chunkSize);
    }

    // At boundary Q: write last chunk's evictions, then each head's mean query of chunk Q - 1 picks its top-k chunks.
    private void EnterQueryChunk(BmojoCache cache, long boundary)
    {
        using var scope = NewDisposeScope();
        RetrievalOptions retrieval = options.Retrieval!;
        cache.WriteOutbox(boundary);
        Tensor meanQueries = cat(cache.ChunkQueries, 2).to_type(ScalarType.Float32).mean([2]).cpu(); // (B, H, Dh)
        cache.ClearChunkQueries();
        long batch = meanQueries.shape[0];
        int group = heads / kvHeads, width = retrieval.TopK * retrieval.ChunkSize;
        var keys = new List<Tensor>();
        var values = new List<Tensor>();
        var valid = new bool[batch * heads * width];
        bool any = false;
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                IReadOnlyList<int> ids = cache.Stores[b].Search(h / group, meanQueries[b, h].data<float>().ToArray(),
                                                                retrieval.TopK, boundary);
                Tensor k = zeros(width, headDim, cache.BandK.dtype, cache.BandK.device), v = zeros_like(k);  // (R, Dh)
                for (int n = 0; n < ids.Count; n++)
                {
                    StoredChunk chunk = cache.Stores[b].Read(ids[n]);
                    k.narrow(0, n * retrieval.ChunkSize, retrieval.ChunkSize).copy_(chunk.Keys[h / group]);
                    v.narrow(0, n * retrieval.ChunkSize, retrieval.ChunkSize).copy_(chunk.Values[h / group]);
                }
                for (int i = 0; i < ids.Count * retrieval.ChunkSize; i++) valid[(b * heads + h) * width + i] = true;
                any |= ids.Count > 0;
                keys.Add(k);
                values.Add(v);
            }
        if (!any)
        {
            cache.SetRetrieved(null, null, null);
            return;
        }
        cache.SetRetrieved(stack(keys).view(batch, heads, width, headDim), stack(values).view(batch, heads, width, headDim),
                           tensor(valid, [batch, heads, width], device: cache.BandK.device));
    }

    // Rows of indices padded with index 0 to the longest row, and which entries are real.  (B, W), (B, W)
    private static (Tensor Index, Tensor Valid) Padded(long[][] rows, Device device)
    {
        int width = rows.Max(r => r.Length);
        var index = new long[rows.Length * width];
        var valid = new bool[rows.Length * width];
        for (int b = 0; b < rows.Length; b++)
            for (int i = 0; i < rows[b].Length; i++)
            {
                index[b * width + i] = rows[b][i];
                valid[b * width + i] = true;
            }
        return (tensor(index, [rows.Length, width], device: device), tensor(valid, [rows.Length, width], device: device));
    }

    // The indices of the true entries of each row of a (B, K) bool tensor.
    private static long[][] Rows(Tensor flags)
    {
        bool[] data = flags.cpu().flatten().data<bool>().ToArray();
        long width = flags.shape[1];
        return [.. Enumerable.Range(0, (int)flags.shape[0]).Select(b =>
            Enumerable.Range(0, (int)width).Where(i => data[b * width + i]).Select(i => (long)i).ToArray())];
    }
}
