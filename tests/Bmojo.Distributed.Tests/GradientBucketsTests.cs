using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Size = Bmojo.Distributed.GradientBuckets.ParameterSize;

namespace Bmojo.Distributed.Tests;

public class GradientBucketsTests
{
    private static Size F32(long n) => new(n, ScalarType.Float32, 4);

    [Fact]
    public void Buckets_fill_in_reverse_parameter_order_up_to_the_cap()
    {
        // 4-byte floats, cap 100 bytes (25 floats): from the last parameter back, 10+10 fit, a third 10 would make 30,
        // and 10+10+6 would make 26.
        var plan = GradientBuckets.Plan([F32(6), F32(10), F32(10), F32(10), F32(10)], bucketBytes: 100);
        Assert.Equal([[4, 3], [2, 1], [0]], plan.Select(b => b.ToArray()).ToArray());
    }

    [Fact]
    public void A_bucket_may_reach_the_cap_exactly()
    {
        var plan = GradientBuckets.Plan([F32(5), F32(10), F32(10)], bucketBytes: 100);
        Assert.Equal([[2, 1, 0]], plan.Select(b => b.ToArray()).ToArray());
    }

    [Fact]
    public void A_parameter_larger_than_the_cap_gets_a_bucket_of_its_own()
    {
        var plan = GradientBuckets.Plan([F32(1), F32(1000), F32(1)], bucketBytes: 100);
        Assert.Equal([[2], [1], [0]], plan.Select(b => b.ToArray()).ToArray());
    }

    [Fact]
    public void Dtypes_never_share_a_bucket()
    {
        var bf16 = new Size(10, ScalarType.BFloat16, 2);
        var plan = GradientBuckets.Plan([F32(10), bf16, F32(10), bf16], bucketBytes: 1 << 20);
        Assert.Equal([[3, 1], [2, 0]], plan.Select(b => b.ToArray()).ToArray());   // in the order the buckets opened
        Assert.Equal(4, plan.Sum(b => b.Count));
    }

    [Fact]
    public void The_default_cap_is_DDPs_25_MB_and_every_parameter_is_in_exactly_one_bucket()
    {
        Assert.Equal(25L * 1024 * 1024, GradientBuckets.DefaultBucketBytes);
        var sizes = Enumerable.Range(0, 50).Select(i => F32(1L << (i % 22))).ToList();
        var plan = GradientBuckets.Plan(sizes);
        Assert.Equal(Enumerable.Range(0, 50), plan.SelectMany(b => b).Order());
        Assert.All(plan, b => Assert.True(b.Count == 1 || b.Sum(i => sizes[i].Bytes) <= GradientBuckets.DefaultBucketBytes));
    }

    [Fact]
    public void All_reduce_mean_gives_every_rank_the_average_gradient_and_keeps_unused_parameters_gradient_free()
    {
        const int world = 3;
        var group = new LocalGroup(world);
        var grads = new Tensor[world][];
        var parameters = new List<Parameter>[world];
        for (int r = 0; r < world; r++)
        {
            random.manual_seed(100 + r);
            parameters[r] = [new Parameter(zeros(4, 3)), new Parameter(zeros(7)), new Parameter(zeros(2, 2)), new Parameter(zeros(5))];
            grads[r] = [randn(4, 3), randn(7), randn(2, 2)];
            for (int p = 0; p < 3; p++) parameters[r][p].grad = grads[r][p].clone();
        }
        parameters[1][2].grad = null;   // rank 1 did not use parameter 2; nobody used parameter 3
        Parallel.For(0, world, new ParallelOptions { MaxDegreeOfParallelism = world }, r =>
        {
            using var buckets = new GradientBuckets(parameters[r], CPU, bucketBytes: 64);   // several buckets
            Assert.True(buckets.Layout.Count > 1);
            using var member = group.Join(r);
            buckets.AllReduceMean(member);
        });
        for (int p = 0; p < 3; p++)
        {
            Tensor expected = zeros_like(grads[0][p]);
            for (int r = 0; r < world; r++)
                if (!(r == 1 && p == 2)) expected.add_(grads[r][p]);
            expected.mul_(1.0 / world);
            for (int r = 0; r < world; r++) Assert.True(parameters[r][p].grad!.allclose(expected, rtol: 0, atol: 1e-6), $"parameter {p} on rank {r}");
        }
        for (int r = 0; r < world; r++) Assert.Null(parameters[r][3].grad);
    }
}
