using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Distributed;

/// <summary>
/// Data-parallel training of one model replica per rank, as DistributedDataParallel: the same weights on every rank
/// (broadcast from rank 0 when attached), each rank a disjoint shard of the global batch (<see cref="Shard"/>), and
/// after the backward the gradients averaged over the ranks (<see cref="GradientBuckets"/>), so every replica takes the
/// same optimizer step.
/// <para>
/// The averaged gradient equals the single-process gradient of the global batch when each rank's loss is a mean over
/// its own share of the items the global loss averages: scale it by <see cref="LossScale"/> (1 when the shards hold
/// equally many items). A loss term that is not a mean over items (MoE's load-balancing loss) is averaged over ranks,
/// as DDP does.
/// </para>
/// </summary>
public sealed class DataParallel : IDisposable
{
    private readonly ICommunicator communicator;
    private GradientBuckets? buckets;

    public DataParallel(ICommunicator communicator, long bucketBytes = GradientBuckets.DefaultBucketBytes)
    {
        this.communicator = communicator;
        BucketBytes = bucketBytes;
    }

    public int Rank => communicator.Rank;

    public int WorldSize => communicator.WorldSize;

    /// <summary>Rank 0: it alone prints, evaluates and writes checkpoints.</summary>
    public bool IsMain => Rank == 0;

    /// <summary>Where this rank's replica and its batches live (<c>cuda:LOCAL_RANK</c>, or the CPU for a
    /// <see cref="LocalGroup"/>).</summary>
    public Device Device => communicator.Device;

    public long BucketBytes { get; }

    /// <summary>What carries the collectives: <c>NCCL 2.x.y</c>, or threads of this process.</summary>
    public string Backend => communicator is NcclCommunicator ? $"NCCL {Nccl.VersionText}" : "threads of one process";

    /// <summary>The gradient buckets, once <see cref="Attach"/> made them.</summary>
    public GradientBuckets? Buckets => buckets;

    /// <summary>Joins the launch this process is a rank of: NCCL on <c>cuda:LOCAL_RANK</c>, the id through the
    /// launch's rendezvous file.</summary>
    public static DataParallel Join(RankEnvironment rank)
    {
        FileRendezvous rendezvous = rank.Rendezvous(Environment.GetEnvironmentVariable);
        return new DataParallel(NcclCommunicator.Create(rank.Rank, rank.WorldSize, rank.LocalRank,
                                                        make => rendezvous.ExchangeId(make, rank.Rank)));
    }

    /// <summary>This rank's rows of a global batch of <paramref name="globalBatch"/> rows.</summary>
    public BatchShard Shard(int globalBatch) => BatchShard.Of(globalBatch, Rank, WorldSize);

    /// <summary>The factor for this rank's mean loss over <paramref name="localItems"/> of the global batch's
    /// <paramref name="globalItems"/>, so that the average of the ranks' gradients is the global mean's gradient.</summary>
    public double LossScale(long localItems, long globalItems) => globalItems == 0 ? 0 : (double)localItems * WorldSize / globalItems;

    /// <summary>Gives every rank rank 0's parameters and buffers, and sizes the gradient buckets. Call once, after the
    /// model is on <see cref="Device"/> (and restored from a checkpoint, if resumed), before the first step.</summary>
    public void Attach(nn.Module module)
    {
        if (buckets is not null) throw new InvalidOperationException("the data-parallel group is already attached to a model");
        List<Parameter> trainable = module.parameters().Where(p => p.requires_grad).ToList();
        using (no_grad())
        {
            // Every tensor NCCL can carry (a dtype it cannot is a constant the seeded build makes alike anyway).
            List<Tensor> state = module.state_dict().Values.Where(t => t.NumberOfElements > 0 && Nccl.Carries(t.dtype)).ToList();
            foreach (Tensor t in state)
                if (t.device_type != Device.type || (Device.type == DeviceType.CUDA && t.device_index != Device.index))
                    throw new ArgumentException($"data-parallel: the model has a tensor on {t.device}; move it to {Device} first");
            if (WorldSize > 1)
            {
                List<Tensor> sent = state.Select(t => t.is_contiguous() ? t : t.contiguous()).ToList();
                communicator.Broadcast(sent, root: 0);
                for (int i = 0; i < state.Count; i++)
                    if (!ReferenceEquals(sent[i], state[i]))
                    {
                        state[i].copy_(sent[i]);
                        sent[i].Dispose();
                    }
            }
        }
        buckets = new GradientBuckets(trainable, Device, BucketBytes);
    }

    /// <summary>Averages the gradients over the ranks; call after <c>backward()</c>, before the optimizer step.</summary>
    public void SynchronizeGradients()
    {
        if (buckets is null) throw new InvalidOperationException("data-parallel: Attach the model before the first step");
        buckets.AllReduceMean(communicator);
    }

    /// <summary>The sums over the ranks of <paramref name="values"/> (float64, for metrics and agreement).</summary>
    public double[] Sum(params double[] values)
    {
        using Tensor t = tensor(values, dtype: ScalarType.Float64, device: Device);
        communicator.AllReduceSum([t]);
        return t.cpu().data<double>().ToArray();
    }

    /// <summary>True on every rank when <paramref name="flag"/> is true on any: ranks agree to stop after the same step.</summary>
    public bool Any(bool flag) => Sum(flag ? 1 : 0)[0] > 0;

    public void Dispose()
    {
        buckets?.Dispose();
        communicator.Dispose();
    }
}
