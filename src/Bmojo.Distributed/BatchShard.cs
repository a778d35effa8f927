namespace Bmojo.Distributed;

/// <summary>
/// The rows of a global batch one rank trains on (the distributed sampler). Every rank draws the same global batch
/// from the same data stream (it is seeded and checkpointed once for the whole run) and keeps its slice: rank r of W
/// gets rows <c>[r·B/W, (r+1)·B/W)</c> (integer division), so the slices are disjoint, cover the batch, differ in
/// size by at most one row, and depend on nothing but (B, W, r). Because the data stream is global, a run can resume
/// with any world size and still see the same global batches.
/// </summary>
public readonly record struct BatchShard(int Start, int Count)
{
    public int End => Start + Count;

    /// <exception cref="DistributedError">The batch has fewer rows than there are ranks.</exception>
    public static BatchShard Of(int globalBatch, int rank, int worldSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, worldSize);
        if (globalBatch < worldSize)
            throw new DistributedError($"--batch {globalBatch} is the global batch and must be at least the number of GPUs ({worldSize})");
        int start = (int)((long)globalBatch * rank / worldSize), end = (int)((long)globalBatch * (rank + 1) / worldSize);
        return new BatchShard(start, end - start);
    }
}
