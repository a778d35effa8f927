using Bmojo.Cli.Tasks;

namespace Bmojo.Cli.Tests;

public sealed class MqarTests
{
    private const int Vocab = 256;
    private static readonly MqarConfig Config = new(64, 8);

    [Fact]
    public void Keys_come_from_the_lower_half_and_values_from_the_upper_half()
    {
        var task = new Mqar(Vocab);
        MqarBatch batch = task.Sample(new DataRng(1), 32, Config);
        for (int b = 0; b < batch.Batch; b++)
        {
            ReadOnlySpan<long> x = batch.Inputs.AsSpan(b * 64, 64);
            var keys = new HashSet<long>();
            for (int i = 0; i < Config.KvPairs; i++)
            {
                Assert.InRange(x[2 * i], 1, Vocab / 2 - 1);
                Assert.InRange(x[2 * i + 1], Vocab / 2, Vocab - 1);
                Assert.True(keys.Add(x[2 * i]), "keys of one example are distinct");
            }
        }
    }

    [Fact]
    public void Every_key_is_queried_once_in_the_query_region_and_labelled_with_its_value()
    {
        var task = new Mqar(Vocab);
        MqarBatch batch = task.Sample(new DataRng(2), 16, Config);
        for (int b = 0; b < batch.Batch; b++)
        {
            ReadOnlySpan<long> x = batch.Inputs.AsSpan(b * 64, 64);
            ReadOnlySpan<long> y = batch.Labels.AsSpan(b * 64, 64);
            var pairs = new Dictionary<long, long>();
            for (int i = 0; i < Config.KvPairs; i++) pairs[x[2 * i]] = x[2 * i + 1];
            var asked = new List<long>();
            for (int t = 0; t < 64; t++)
            {
                if (y[t] == Mqar.IgnoreIndex) continue;
                Assert.True(t >= 2 * Config.KvPairs, $"answer at {t} lies inside the key-value region");
                Assert.Equal(0, (t - 2 * Config.KvPairs) % 2);
                Assert.Equal(pairs[x[t]], y[t]);
                asked.Add(x[t]);
            }
            Assert.Equal(pairs.Keys.Order(), asked.Order());
        }
        Assert.Equal(16 * Config.KvPairs, batch.AnswerCount);
    }

    [Fact]
    public void Power_law_gaps_favour_queries_close_to_the_key_value_region()
    {
        var task = new Mqar(Vocab);
        MqarBatch batch = task.Sample(new DataRng(3), 512, new MqarConfig(64, 4));
        int space = (64 - 8) / 2, nearHalf = 0, total = 0;
        for (int i = 0; i < batch.Labels.Length; i++)
        {
            if (batch.Labels[i] == Mqar.IgnoreIndex) continue;
            int gap = (i % 64 - 8) / 2;
            total++;
            if (gap < space / 2) nearHalf++;
        }
        // p(g) ∝ g^(a-1) with a = 0.01 is close to 1/g: most queries sit in the first half of the query region.
        Assert.True(nearHalf > 0.6 * total, $"{nearHalf} of {total} queries in the near half");
    }

    [Fact]
    public void Filler_positions_hold_random_tokens_and_none_when_disabled()
    {
        MqarBatch random = new Mqar(Vocab).Sample(new DataRng(4), 8, Config);
        MqarBatch zeros = new Mqar(Vocab, randomNonQueries: false).Sample(new DataRng(4), 8, Config);
        Assert.All(random.Inputs, t => Assert.InRange(t, 0, Vocab - 1));
        int zeroCount = zeros.Inputs.Count(t => t == 0);
        Assert.Equal(8 * (64 - 2 * Config.KvPairs - Config.KvPairs), zeroCount);
        Assert.True(random.Inputs.Count(t => t == 0) < zeroCount / 10);
    }

    [Fact]
    public void Same_seed_gives_the_same_batches_and_different_seeds_differ()
    {
        var task = new Mqar(Vocab);
        MqarBatch a = task.Sample(new DataRng(7), 4, Config), b = task.Sample(new DataRng(7), 4, Config);
        MqarBatch c = task.Sample(new DataRng(8), 4, Config);
        Assert.Equal(a.Inputs, b.Inputs);
        Assert.Equal(a.Labels, b.Labels);
        Assert.NotEqual(a.Inputs, c.Inputs);
    }

    [Fact]
    public void A_stream_restored_from_its_state_continues_identically()
    {
        var task = new Mqar(Vocab);
        var rng = new DataRng(9);
        task.Sample(rng, 4, Config);
        DataRng restored = DataRng.FromState(rng.State);
        Assert.Equal(task.Sample(rng, 4, Config).Inputs, task.Sample(restored, 4, Config).Inputs);
    }

    [Theory]
    [InlineData(64, 17, "need a sequence of at least 68")]
    [InlineData(63, 4, "must be positive and even")]
    [InlineData(512, 128, "do not fit a vocabulary of 256")]
    public void Impossible_settings_are_refused_with_the_reason(int seqLen, int kv, string reason)
    {
        string? problem = new Mqar(Vocab).Check(new MqarConfig(seqLen, kv));
        Assert.NotNull(problem);
        Assert.Contains(reason, problem);
    }

    [Fact]
    public void The_standard_grid_spans_zoology_sweep_and_respects_the_length_bound()
    {
        IReadOnlyList<MqarConfig> grid = MqarGrid.Of(MqarGridKind.Standard);
        Assert.Contains(new MqarConfig(64, 4), grid);
        Assert.Contains(new MqarConfig(512, 128), grid);
        Assert.All(grid, c => Assert.True(4 * c.KvPairs <= c.SeqLen));
        Assert.Equal(new[] { 64, 128, 256, 512 }, grid.Select(c => c.SeqLen).Distinct());
    }
}
