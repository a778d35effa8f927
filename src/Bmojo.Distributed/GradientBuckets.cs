using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Distributed;

/// <summary>
/// Gradients reduced in buckets, as PyTorch's DistributedDataParallel does: parameters in reverse order (roughly the
/// order the backward produces their gradients), packed into flat buffers of about <see cref="DefaultBucketBytes"/>
/// (25 MB, DDP's <c>bucket_cap_mb</c>) of one dtype each, every bucket summed across ranks by one NCCL all-reduce (all
/// buckets in one NCCL group) and divided by the world size. A parameter larger than the cap gets a bucket of its own.
/// <para>
/// DDP overlaps these all-reduces with the backward by hooks that fire as each gradient is accumulated. TorchSharp
/// 0.107 exposes no autograd hooks (no <c>Tensor.register_hook</c>, no post-accumulate-grad hooks, no backward
/// module hooks), nor streams to run NCCL beside the backward, so here the reduce runs after <c>backward()</c>
/// returns: each step pays the whole all-reduce time instead of what the backward does not hide. The buckets still
/// cut the number of collectives from one per parameter to a few, and the step stays on the GPU (no host waits).
/// </para>
/// <para>
/// A parameter whose gradient is missing on a rank (an unused MoE expert) contributes zeros there; a count of the
/// ranks that have it is reduced too, so a parameter no rank used keeps no gradient (the optimizer skips it, as in a
/// single process), and one some rank used gets the average over all ranks (as DDP's zero-filled buckets give).
/// </para>
/// </summary>
public sealed class GradientBuckets : IDisposable
{
    public const long DefaultBucketBytes = 25L * 1024 * 1024;

    private readonly IReadOnlyList<Parameter> parameters;
    private readonly IReadOnlyList<Bucket> buckets;
    private readonly Tensor used;   // (P,) float32 on the device: 1 where a rank has a gradient

    /// <param name="parameters">The model's trainable parameters, in the module's order.</param>
    public GradientBuckets(IReadOnlyList<Parameter> parameters, Device device, long bucketBytes = DefaultBucketBytes)
    {
        this.parameters = parameters;
        var sizes = parameters.Select(p => new ParameterSize(p.numel(), p.dtype, p.ElementSize)).ToList();
        buckets = Plan(sizes, bucketBytes).Select(members =>
            new Bucket(members, zeros(members.Sum(i => sizes[i].Numel), dtype: sizes[members[0]].Dtype, device: device))).ToList();
        used = zeros(parameters.Count, dtype: ScalarType.Float32, device: device);
    }

    /// <summary>The parameter indices of each bucket, in the order they are reduced.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Layout => buckets.Select(b => b.Members).ToList();

    /// <summary>One parameter's size for <see cref="Plan"/>.</summary>
    public readonly record struct ParameterSize(long Numel, ScalarType Dtype, long ElementSize)
    {
        public long Bytes => Numel * ElementSize;
    }

    /// <summary>
    /// DDP's bucket assignment: walk the parameters from last to first; a parameter joins the open bucket of its dtype
    /// unless that would take it past <paramref name="bucketBytes"/>, in which case that bucket closes and a new one
    /// opens. Buckets are returned in the order they closed (the last parameters' first); inside a bucket,
    /// parameters keep the reverse order.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<int>> Plan(IReadOnlyList<ParameterSize> sizes, long bucketBytes = DefaultBucketBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 1);
        var closed = new List<IReadOnlyList<int>>();
        var open = new Dictionary<ScalarType, (List<int> Members, long Bytes)>();
        var opened = new List<ScalarType>();   // dtypes in the order their open bucket started, for a deterministic tail
        for (int i = sizes.Count - 1; i >= 0; i--)
        {
            ParameterSize size = sizes[i];
            if (open.TryGetValue(size.Dtype, out var bucket) && bucket.Bytes + size.Bytes > bucketBytes && bucket.Members.Count > 0)
            {
                closed.Add(bucket.Members);
                open.Remove(size.Dtype);
                opened.Remove(size.Dtype);
            }
            if (!open.TryGetValue(size.Dtype, out bucket))
            {
                bucket = ([], 0);
                opened.Add(size.Dtype);
            }
            bucket.Members.Add(i);
            open[size.Dtype] = (bucket.Members, bucket.Bytes + size.Bytes);
        }
        foreach (ScalarType dtype in opened) closed.Add(open[dtype].Members);
        return closed;
    }

    /// <summary>Averages every parameter's gradient over the ranks of <paramref name="communicator"/>, in place.</summary>
    public void AllReduceMean(ICommunicator communicator)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        float[] mask = parameters.Select(p => p.grad is null ? 0f : 1f).ToArray();
        bool anyMissing = mask.Contains(0f);
        used.copy_(tensor(mask));
        foreach (Bucket bucket in buckets)
        {
            long offset = 0;
            foreach (int p in bucket.Members)
            {
                long n = parameters[p].numel();
                Tensor slot = bucket.Flat.narrow(0, offset, n);
                if (parameters[p].grad is Tensor grad) slot.copy_(grad.reshape(-1));
                else slot.zero_();
                offset += n;
            }
        }
        communicator.AllReduceSum([.. buckets.Select(b => b.Flat), used]);
        // Only a rank that lacks a gradient needs the counts (a host wait); the others skip reading them.
        float[] counts = anyMissing ? used.cpu().data<float>().ToArray() : mask;
        double scale = 1.0 / communicator.WorldSize;
        foreach (Bucket bucket in buckets)
        {
            bucket.Flat.mul_(scale);
            long offset = 0;
            foreach (int p in bucket.Members)
            {
                Parameter parameter = parameters[p];
                long n = parameter.numel();
                if (counts[p] > 0)
                {
                    Tensor averaged = bucket.Flat.narrow(0, offset, n).view(parameter.shape);
                    if (parameter.grad is Tensor grad) grad.copy_(averaged);
                    else parameter.grad = averaged.clone().DetachFromDisposeScope();
                }
                offset += n;
            }
        }
    }

    public void Dispose()
    {
        foreach (Bucket bucket in buckets) bucket.Flat.Dispose();
        used.Dispose();
    }

    private sealed record Bucket(IReadOnlyList<int> Members, Tensor Flat);
}
