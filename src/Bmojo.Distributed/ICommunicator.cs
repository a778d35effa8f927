using static TorchSharp.torch;

namespace Bmojo.Distributed;

/// <summary>The collectives data-parallel training needs, over a fixed group of ranks. Every rank calls each
/// operation in the same order with tensors of the same shapes and dtypes (as with NCCL and torch.distributed).</summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }

    int WorldSize { get; }

    /// <summary>The device the tensors handed to this communicator live on.</summary>
    Device Device { get; }

    /// <summary>Replaces each of <paramref name="tensors"/> (contiguous) by its sum over the ranks, as one group.</summary>
    void AllReduceSum(IReadOnlyList<Tensor> tensors);

    /// <summary>Replaces each of <paramref name="tensors"/> (contiguous) by rank <paramref name="root"/>'s.</summary>
    void Broadcast(IReadOnlyList<Tensor> tensors, int root);
}
