using Bmojo.Runtime.Memory;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;
using static Bmojo.Runtime.Tests.BmojoFixtures;

namespace Bmojo.Runtime.Tests;

public sealed class BmojoRetrievalTests
{
    private const int Length = 12;

    // Every token selected, w = 1, c = 2: rank r = token r leaves the memory at t = r + 1 + m_e.
    private static RetrievalPlan Plan(int eideticCapacity, int topK, out Tensor q, out Tensor k)
    {
        manual_seed(51);
        q = randn(1, 2, Length, 4);
        k = randn(1, 1, Length, 4);
        return RetrievalPlan.Build(q, k, ones(1, Length, dtype: ScalarType.Bool), window: 1, eideticCapacity,
                                   new RetrievalOptions(topK, ChunkSize: 2));
    }

    [Theory]
    [InlineData(0, new[] { 3, 4, 5 })]   // chunk n = tokens 2n, 2n+1 completes at t = 2n + 2, written at n + 2, visible from n + 3
    [InlineData(2, new[] { 4, 5, 6 })]   // m_e = 2: completes at t = 2n + 4, written at n + 3, visible from n + 4
    public void A_chunk_is_visible_from_the_boundary_after_the_one_it_was_written_at(int eideticCapacity, int[] firstVisible)
    {
        RetrievalPlan plan = Plan(eideticCapacity, topK: 10, out _, out _);
        for (int head = 0; head < 2; head++)
            for (int chunk = 0; chunk < Length / 2; chunk++)
            {
                int[] visible = Enumerable.Range(0, firstVisible.Length).Where(n => firstVisible[n] <= chunk).ToArray();
                long[] expected = visible.SelectMany(n => new long[] { 2 * n, 2 * n + 1 }).ToArray();
                Assert.Equal(expected, plan.Retrieved(0, head, chunk).Order().ToArray());
            }
    }

    [Fact]
    public void Each_head_fetches_the_chunk_whose_mean_key_best_matches_the_previous_chunks_mean_query()
    {
        RetrievalPlan plan = Plan(0, topK: 1, out Tensor q, out Tensor k);
        for (int head = 0; head < 2; head++)
        {
            // Query chunk 4 (positions 8, 9): chunks 0 and 1 are visible; the retrieval query is chunk 3's mean.
            Tensor meanQuery = q[0, head].narrow(0, 6, 2).mean([0]);
            double Score(int n) => (k[0, 0].narrow(0, 2 * n, 2).mean([0]) * meanQuery).sum().item<float>();
            int best = Score(1) > Score(0) ? 1 : 0;
            Assert.Equal(new long[] { 2 * best, 2 * best + 1 }, plan.Retrieved(0, head, 4).ToArray());
        }
    }

    [Fact]
    public void Recurrent_inference_writes_chunks_at_boundaries_and_reads_only_earlier_writes()
    {
        manual_seed(52);
        using var mixer = Mixer(Options(1, 0, 0, -1.0, fading: false, retrieval: new RetrievalOptions(10, 2)));
        using var cache = (BmojoCache)mixer.AllocateCache(1);
        Tensor x = randn(1, Length, D);
        for (int t = 0; t < Length; t++) mixer.Forward(x.narrow(1, t, 1), cache);
        // Boundaries 1..5 were entered; chunk n is written at boundary n + 2, so chunks 0..3 are in the store and
        // chunk 4 (completed at t = 10) waits for boundary 6.
        IChunkStore store = cache.Stores[0];
        Assert.Equal(4, store.Count);
        for (int n = 0; n < 4; n++) Assert.Equal(new long[] { 2 * n, 2 * n + 1 }, store.Read(n).Positions);
        Assert.Equal([0, 1, 2], store.Search(0, new float[4], topK: 10, boundary: 5).Order());
        Assert.Equal([0, 1, 2, 3], store.Search(0, new float[4], topK: 10, boundary: 6).Order());
    }

    [Fact]
    public void A_persistent_store_gives_the_in_process_results_and_serves_a_later_session()
    {
        manual_seed(53);
        string directory = Path.Combine(Path.GetTempPath(), "bmojo-retrieval-tests", Guid.NewGuid().ToString("N"));
        try
        {
            using var inProcess = Mixer(Options(1, 1, 1, 2.0, retrieval: new RetrievalOptions(2, 2)));
            using var persistent = Copy(inProcess, Options(1, 1, 1, 2.0, retrieval: new RetrievalOptions(2, 2, directory)));
            Tensor x = randn(2, Length, D);
            using var noGrad = no_grad();
            Tensor full = inProcess.forward(x);
            TensorAssert.Close(full, Recurrent(persistent, x, 5, 1, 6), atol: 1e-4, what: "file store, first session");
            Assert.True(File.Exists(Path.Combine(directory, "layer0-seq1.chunks")));

            // A second session on the same files sees the first session's chunks from its first boundary (position 2).
            Tensor second = Recurrent(persistent, x, Length);
            TensorAssert.Close(full.narrow(1, 0, 2), second.narrow(1, 0, 2), atol: 1e-5, what: "before the first boundary");
            Assert.True((full.narrow(1, 2, 2) - second.narrow(1, 2, 2)).abs().max().item<float>() > 1e-4,
                        "the earlier session's chunks were not retrieved");
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}
