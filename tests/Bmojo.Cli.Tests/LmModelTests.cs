using Bmojo.Cli.Lm;
using Bmojo.Cli.Tasks;
using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Tests;

public sealed class LmModelTests
{
    [Fact]
    public void Perplexity_of_a_hand_computed_case()
    {
        // Two positions, vocabulary 3. Position 0: logits (0, 0, 0), target 1: p = 1/3, nll = ln 3.
        // Position 1: logits (ln 2, 0, 0) (p = 2/4, 1/4, 1/4), target 0: nll = ln 2. Mean ln(6)/2; perplexity sqrt(6).
        Tensor logits = tensor(new float[] { 0, 0, 0, (float)Math.Log(2), 0, 0 }, new long[] { 1, 2, 3 });
        Tensor targets = tensor(new long[] { 1, 0 }, new long[] { 1, 2 });
        Tensor nll = Perplexity.TokenNll(logits, targets);
        Assert.Equal(Math.Log(3), nll[0, 0].item<float>(), 6);
        Assert.Equal(Math.Log(2), nll[0, 1].item<float>(), 6);

        var meter = new Perplexity(bucketSize: 1);
        meter.Add(nll);
        Assert.Equal(2, meter.Tokens);
        Assert.Equal(Math.Sqrt(6), meter.Value, 5);
        Assert.Equal(new[] { 3.0, 2.0 }, meter.Buckets.Select(b => Math.Round(b.Perplexity, 5)));
        meter.Add(nll[.., 1..], offset: 1);                                       // a chunk starting at position 1
        Assert.Equal(new long[] { 1, 2 }, meter.Buckets.Select(b => b.Tokens));
        Assert.Equal(Math.Exp((Math.Log(3) + 2 * Math.Log(2)) / 3), meter.Value, 5);
    }

    [Fact]
    public void Sampling_rules_greedy_top_k_one_and_a_tiny_nucleus_take_the_argmax_and_a_seed_repeats_its_draws()
    {
        float[] logits = [0.1f, 2.5f, -1f, 2.4f, 0f];
        var rng = new DataRng(7);
        Assert.Equal(1, SamplingOptions.Greedy(1).Pick(logits, rng));
        Assert.Equal(1, new SamplingOptions(Temperature: 1.5, TopK: 1).Pick(logits, rng));
        Assert.Equal(1, new SamplingOptions(Temperature: 1.0, TopP: 0.01).Pick(logits, rng));
        var topTwo = new SamplingOptions(Temperature: 1.0, TopK: 2);
        int[] draws = Enumerable.Range(0, 200).Select(_ => topTwo.Pick(logits, rng)).ToArray();
        Assert.All(draws, d => Assert.Contains(d, new[] { 1, 3 }));
        Assert.Contains(3, draws);
        int[] first = Enumerable.Range(0, 50).Select(_ => new SamplingOptions(Temperature: 1.0)).Select((o, i) => o.Pick(logits, new DataRng((ulong)i))).ToArray();
        int[] again = Enumerable.Range(0, 50).Select(_ => new SamplingOptions(Temperature: 1.0)).Select((o, i) => o.Pick(logits, new DataRng((ulong)i))).ToArray();
        Assert.Equal(first, again);
        Assert.Contains("--top-p", new SamplingOptions(TopP: 0).Check());
    }

    [Theory]
    [InlineData("LmTransformer")]
    [InlineData("LmMamba")]
    [InlineData("LmBMojo")]
    public void Greedy_generation_through_the_cache_equals_the_full_forwards_argmax(string name)
    {
        using LmModel model = LmTestModels.Build(name, seed: 11);
        int[] prompt = TextTokenizer.Bytes.Encode("The cache ");
        GenerationResult result = TextGeneration.Generate(model, prompt, SamplingOptions.Greedy(30));
        Assert.Equal(30, result.Tokens.Count);

        // The reference: the whole text so far through the full forward, its last position's argmax, 30 times.
        var text = prompt.Select(t => (long)t).ToList();
        var expected = new List<int>();
        using (no_grad())
        {
            for (int i = 0; i < 30; i++)
            {
                using var scope = NewDisposeScope();
                Tensor logits = model.Forward(tensor(text.ToArray(), new long[] { 1, text.Count }, ScalarType.Int64));
                int next = (int)logits[0, -1].argmax().item<long>();
                expected.Add(next);
                text.Add(next);
            }
        }
        Assert.Equal(expected, result.Tokens);
    }

    [Fact]
    public void Sampled_generation_is_determined_by_its_seed()
    {
        using LmModel model = LmTestModels.Build("LmMamba", seed: 5);
        int[] prompt = TextTokenizer.Bytes.Encode("Once");
        var options = new SamplingOptions(Temperature: 1.0, TopK: 40, TopP: 0.9, Seed: 42, MaxTokens: 40);
        IReadOnlyList<int> a = TextGeneration.Generate(model, prompt, options).Tokens;
        IReadOnlyList<int> b = TextGeneration.Generate(model, prompt, options).Tokens;
        IReadOnlyList<int> c = TextGeneration.Generate(model, prompt, options with { Seed = 43 }).Tokens;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Recurrent_chunked_prefill_gives_the_full_forwards_perplexity_at_every_length()
    {
        string corpus = LmTestModels.SmallCorpus();
        using TokenFile file = TokenFile.OpenOrBuild(TextCorpus.Open(corpus), TextTokenizer.Bytes);
        var split = new TokenSplit(file, 0.2);
        foreach (string name in new[] { "LmTransformer", "LmMamba", "LmBMojo" })
        {
            using LmModel model = LmTestModels.Build(name);
            IReadOnlyList<LengthPerplexity> results = LmEvaluation.Run(model, split, trainLength: 16, multiples: [1, 4], tokenBudget: 128,
                                                                       batch: 2, bucketSize: 8, recurrent: true);
            Assert.Equal(4, results.Count);
            foreach (int multiple in new[] { 1, 4 })
            {
                LengthPerplexity full = results.Single(r => r.Multiple == multiple && r.Path == "full");
                LengthPerplexity recurrent = results.Single(r => r.Multiple == multiple && r.Path == "recurrent");
                Assert.Equal(16 * multiple, full.Length);
                Assert.Equal(full.Tokens, recurrent.Tokens);
                Assert.True(Math.Abs(full.Perplexity - recurrent.Perplexity) / full.Perplexity < 1e-4,
                            $"{name} at {multiple}x: full {full.Perplexity}, recurrent {recurrent.Perplexity}");
                Assert.Equal(2 * multiple, full.Buckets.Count);                     // positions 0..16m-1 in buckets of 8
                Assert.InRange(full.Perplexity, 50, 2000);                          // an untrained model is near-uniform over 257 ids
            }
        }
    }
}
