namespace Bmojo.Distributed.Tests;

public class BatchShardTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 2)]
    [InlineData(7, 2)]
    [InlineData(32, 3)]
    [InlineData(5, 5)]
    [InlineData(101, 8)]
    public void Shards_are_disjoint_cover_the_batch_in_order_and_differ_by_at_most_one_row(int batch, int world)
    {
        var shards = Enumerable.Range(0, world).Select(r => BatchShard.Of(batch, r, world)).ToList();
        var rows = shards.SelectMany(s => Enumerable.Range(s.Start, s.Count)).ToList();
        Assert.Equal(Enumerable.Range(0, batch), rows);                       // each row once, in rank order
        Assert.All(shards, s => Assert.True(s.Count >= 1));
        Assert.True(shards.Max(s => s.Count) - shards.Min(s => s.Count) <= 1);
        for (int r = 1; r < world; r++) Assert.Equal(shards[r - 1].End, shards[r].Start);
    }

    [Fact]
    public void A_shard_depends_only_on_batch_rank_and_world()
    {
        Assert.Equal(new BatchShard(3, 4), BatchShard.Of(7, 1, 2));
        Assert.Equal(new BatchShard(0, 3), BatchShard.Of(7, 0, 2));
        Assert.Equal(BatchShard.Of(1000, 5, 7), BatchShard.Of(1000, 5, 7));
    }

    [Fact]
    public void A_batch_smaller_than_the_world_is_an_error_naming_the_option()
    {
        var error = Assert.Throws<DistributedError>(() => BatchShard.Of(3, 0, 4));
        Assert.Equal("--batch 3 is the global batch and must be at least the number of GPUs (4)", error.Message);
    }
}
