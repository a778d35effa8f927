using static TorchSharp.torch;

namespace Bmojo.Distributed.Tests;

public class LocalGroupTests
{
    [Fact]
    public void All_reduce_sums_in_rank_order_and_broadcast_copies_the_root()
    {
        const int world = 4;
        var group = new LocalGroup(world);
        var sums = new float[world][];
        var broadcasts = new float[world][];
        Parallel.For(0, world, new ParallelOptions { MaxDegreeOfParallelism = world }, r =>
        {
            using ICommunicator member = group.Join(r);
            Assert.Equal(r, member.Rank);
            Assert.Equal(world, member.WorldSize);
            using Tensor x = tensor(new float[] { r, 10 * r, 1 });
            member.AllReduceSum([x]);
            sums[r] = x.data<float>().ToArray();
            using Tensor b = tensor(new float[] { r + 0.5f, -r });
            member.Broadcast([b], root: 2);
            broadcasts[r] = b.data<float>().ToArray();
        });
        Assert.All(sums, s => Assert.Equal(new float[] { 6, 60, 4 }, s));
        Assert.All(broadcasts, b => Assert.Equal(new float[] { 2.5f, -2 }, b));
    }
}
