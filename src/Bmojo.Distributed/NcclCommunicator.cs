using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Distributed;

/// <summary>
/// An NCCL communicator of one rank on one GPU. Collectives are enqueued on the legacy default CUDA stream (handle
/// 0), which is torch's current stream: TorchSharp never switches streams, and PyTorch's default stream is that one
/// (<c>torch.cuda.current_stream().cuda_stream == 0</c>), so the all-reduce runs after the backward's kernels and
/// before the optimizer's, with no host synchronisation.
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    private static readonly IntPtr TorchStream = IntPtr.Zero;

    private readonly CudaPrimaryContext context;
    private IntPtr comm;

    private NcclCommunicator(int rank, int worldSize, Device device, CudaPrimaryContext context, IntPtr comm)
    {
        Rank = rank;
        WorldSize = worldSize;
        Device = device;
        this.context = context;
        this.comm = comm;
    }

    public int Rank { get; }

    public int WorldSize { get; }

    public Device Device { get; }

    /// <summary>
    /// Joins the group: rank 0 makes the NCCL id and hands it to <paramref name="exchange"/> (which publishes it),
    /// the other ranks get it from <paramref name="exchange"/> (which waits for it); then <c>ncclCommInitRank</c> on
    /// <c>cuda:<paramref name="deviceOrdinal"/></c>, which returns once every rank has joined.
    /// </summary>
    public static NcclCommunicator Create(int rank, int worldSize, int deviceOrdinal, Func<Func<NcclUniqueId>?, NcclUniqueId> exchange)
    {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new ArgumentException($"rank {rank} of world size {worldSize}");
        SafeEnvironment.ApplyToThisProcess();
        if (!cuda.is_available())
            throw new DistributedError($"rank {rank}: torch sees no CUDA device (is a CUDA libtorch on LD_LIBRARY_PATH?); NCCL training runs on GPUs");
        int devices = cuda.device_count();
        if (deviceOrdinal >= devices)
            throw new DistributedError($"rank {rank}: needs cuda:{deviceOrdinal} but torch sees {devices} CUDA device(s)");
        var device = new Device(DeviceType.CUDA, deviceOrdinal);
        using (Tensor touch = zeros(1, device: device)) { }   // torch's CUDA runtime is up on this device (its primary context exists)
        _ = Nccl.Functions;                                      // a missing NCCL is reported before the rendezvous
        NcclUniqueId id = exchange(rank == 0 ? Nccl.GetUniqueId : null);
        CudaPrimaryContext context = CudaPrimaryContext.Retain(deviceOrdinal);
        try
        {
            context.MakeCurrent();
            IntPtr comm;
            Nccl.Check(Nccl.Functions.CommInitRank(&comm, worldSize, id, rank), $"ncclCommInitRank(rank {rank} of {worldSize}, cuda:{deviceOrdinal})");
            return new NcclCommunicator(rank, worldSize, device, context, comm);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public void AllReduceSum(IReadOnlyList<Tensor> tensors)
    {
        ObjectDisposedException.ThrowIf(comm == IntPtr.Zero, this);
        foreach (Tensor t in tensors) CheckTensor(t, "all-reduce");
        context.MakeCurrent();
        Group(() =>
        {
            foreach (Tensor t in tensors)
            {
                IntPtr data = DataPointer(t);
                Nccl.Check(Nccl.Functions.AllReduce(data, data, (nuint)t.numel(), Nccl.DataType(t.dtype), Nccl.Sum, comm, TorchStream), "ncclAllReduce", comm);
            }
        });
    }

    public void Broadcast(IReadOnlyList<Tensor> tensors, int root)
    {
        ObjectDisposedException.ThrowIf(comm == IntPtr.Zero, this);
        foreach (Tensor t in tensors) CheckTensor(t, "broadcast");
        context.MakeCurrent();
        Group(() =>
        {
            foreach (Tensor t in tensors)
            {
                IntPtr data = DataPointer(t);
                Nccl.Check(Nccl.Functions.Broadcast(data, data, (nuint)t.numel(), Nccl.DataType(t.dtype), root, comm, TorchStream), "ncclBroadcast", comm);
            }
        });
    }

    public void Dispose()
    {
        if (comm == IntPtr.Zero) return;
        context.MakeCurrent();
        _ = Nccl.Functions.CommDestroy(comm);
        comm = IntPtr.Zero;
        context.Dispose();
    }

    private void Group(Action enqueue)
    {
        Nccl.Check(Nccl.Functions.GroupStart(), "ncclGroupStart");
        try
        {
            enqueue();
        }
        finally
        {
            Nccl.Check(Nccl.Functions.GroupEnd(), "ncclGroupEnd", comm);
        }
    }

    private void CheckTensor(Tensor t, string what)
    {
        if (t.device_type != DeviceType.CUDA || t.device_index != Device.index)
            throw new ArgumentException($"NCCL {what}: a tensor on {t.device}, the communicator is on {Device}");
        if (!t.is_contiguous()) throw new ArgumentException($"NCCL {what}: tensors must be contiguous");
    }

    /// <summary>libtorch's <c>Tensor::data_ptr()</c> through TorchSharp's native library.</summary>
    internal static IntPtr DataPointer(Tensor tensor)
    {
        IntPtr pointer = THSTensor_data(tensor.Handle);
        if (pointer == IntPtr.Zero && tensor.numel() > 0) throw new InvalidOperationException($"libtorch gave no data pointer for a {tensor.dtype} tensor on {tensor.device}");
        return pointer;
    }

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr tensor);
}
