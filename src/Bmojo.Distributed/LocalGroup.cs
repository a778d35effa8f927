using static TorchSharp.torch;

namespace Bmojo.Distributed;

/// <summary>
/// Ranks as threads of one process, for the CPU: the same collectives as NCCL, summed in rank order (so every rank
/// gets the same bits). It runs the data-parallel code paths where there is no GPU (the tests, CI) and lets a CPU
/// check that the data-parallel step equals the single-process one.
/// </summary>
public sealed class LocalGroup
{
    private readonly Barrier barrier;
    private readonly IReadOnlyList<Tensor>?[] deposits;
    private int left;   // members disposed

    public LocalGroup(int worldSize)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "a group has at least one rank");
        WorldSize = worldSize;
        barrier = new Barrier(worldSize);
        deposits = new IReadOnlyList<Tensor>?[worldSize];
    }

    public int WorldSize { get; }

    /// <summary>The communicator of rank <paramref name="rank"/>; each rank's thread uses its own.</summary>
    public ICommunicator Join(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, WorldSize);
        return new Member(this, rank);
    }

    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    private void Wait(int rank)
    {
        // A wait that times out withdraws its signal (Barrier's contract), so waiting again in short slices is exact;
        // between slices, a member that left (its rank failed) ends the wait with an error instead of a hang.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!barrier.SignalAndWait(TimeSpan.FromMilliseconds(200)))
        {
            if (Volatile.Read(ref left) > 0)
                throw new DistributedError($"rank {rank}: another rank left the group (it failed or finished) while this one waited in a collective");
            if (clock.Elapsed > Patience)
                throw new DistributedError($"rank {rank}: the other ranks did not reach the same collective within {Patience.TotalMinutes} minutes");
        }
    }

    private sealed class Member(LocalGroup group, int rank) : ICommunicator
    {
        public int Rank => rank;

        public int WorldSize => group.WorldSize;

        public Device Device => CPU;

        public void AllReduceSum(IReadOnlyList<Tensor> tensors)
        {
            group.deposits[rank] = tensors;
            group.Wait(rank);
            var sums = new Tensor[tensors.Count];
            for (int i = 0; i < tensors.Count; i++)
            {
                Tensor sum = group.deposits[0]![i].clone();
                for (int r = 1; r < group.WorldSize; r++) sum.add_(group.deposits[r]![i]);
                sums[i] = sum;
            }
            group.Wait(rank);
            for (int i = 0; i < tensors.Count; i++)
            {
                tensors[i].copy_(sums[i]);
                sums[i].Dispose();
            }
            group.deposits[rank] = null;
        }

        public void Broadcast(IReadOnlyList<Tensor> tensors, int root)
        {
            group.deposits[rank] = tensors;
            group.Wait(rank);
            var copies = rank == root ? [] : group.deposits[root]!.Select(t => t.clone()).ToArray();
            group.Wait(rank);
            for (int i = 0; i < copies.Length; i++)
            {
                tensors[i].copy_(copies[i]);
                copies[i].Dispose();
            }
            group.deposits[rank] = null;
        }

        /// <summary>Leaving ends the group: a rank still waiting in a collective (its peer failed) gets an error
        /// instead of waiting forever, as NCCL ranks are stopped by the launcher.</summary>
        public void Dispose() => Interlocked.Increment(ref group.left);
    }
}
