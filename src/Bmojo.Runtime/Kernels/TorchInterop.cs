using System.Runtime.CompilerServices;
using ILGPU;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Kernels;

/// <summary>
/// ILGPU views over TorchSharp tensors' memory, without copies: the kernel reads and writes the tensor in place.
/// Every view is checked first (device, dtype, contiguity, shape), with an error that names the argument.
/// Dispose the scope after the kernels that use its views have finished (<see cref="KernelHost.Launch"/> waits).
/// </summary>
public sealed class TorchInterop : IDisposable
{
    private readonly KernelHost host;
    private readonly string operation;
    private readonly List<ExternalMemoryBuffer> buffers = [];

    /// <param name="host">The host whose accelerator the views are for.</param>
    /// <param name="operation">Named in every error, e.g. <c>"fused selective scan"</c>.</param>
    public TorchInterop(KernelHost host, string operation)
    {
        this.host = host;
        this.operation = operation;
    }

    /// <summary>A float32 view of <paramref name="tensor"/>, which must have exactly <paramref name="shape"/>.</summary>
    public ArrayView<float> Float32(Tensor tensor, string name, params long[] shape)
    {
        Check(tensor, name, ScalarType.Float32, shape);
        return Wrap<float, float>(tensor);
    }

    /// <summary>An int32 view of <paramref name="tensor"/>, which must have exactly <paramref name="shape"/>.</summary>
    public ArrayView<int> Int32(Tensor tensor, string name, params long[] shape)
    {
        Check(tensor, name, ScalarType.Int32, shape);
        return Wrap<int, int>(tensor);
    }

    /// <summary>A byte view of the bool tensor <paramref name="tensor"/> (torch stores a bool as one byte, 0 or 1; a
    /// kernel must write only those two values), which must have exactly <paramref name="shape"/>.</summary>
    public ArrayView<byte> Bool(Tensor tensor, string name, params long[] shape)
    {
        Check(tensor, name, ScalarType.Bool, shape);
        return Wrap<byte, bool>(tensor);
    }

    /// <summary>An empty view, for an optional argument that is absent (the kernel never reads it).</summary>
    public static ArrayView<float> Absent => ArrayView<float>.Empty;

    // TStorage is the tensor's own element type (bool for a bool tensor): storage<T>() of another type converts the
    // tensor first, and a view of that copy would never show the kernel's writes.
    private ArrayView<TView> Wrap<TView, TStorage>(Tensor tensor) where TView : unmanaged where TStorage : unmanaged
    {
        long length = tensor.numel();
        if (length == 0) return ArrayView<TView>.Empty;
        int elementSize = Unsafe.SizeOf<TView>();
        IntPtr pointer = DataPointer<TStorage>(tensor, elementSize);
        var buffer = new ExternalMemoryBuffer(host.Accelerator, pointer, length, elementSize);
        buffers.Add(buffer);
        return buffer.AsArrayView<TView>(0, length);
    }

    /// <summary>The address of the tensor's first element: its storage's base plus the storage offset. T must be the
    /// tensor's element type (see <see cref="Wrap{TView, TStorage}"/>).</summary>
    internal static IntPtr DataPointer<T>(Tensor tensor, int elementSize) where T : unmanaged =>
        tensor.storage<T>().data_ptr() + checked((nint)(tensor.storage_offset() * elementSize));

    private void Check(Tensor tensor, string name, ScalarType dtype, long[] shape)
    {
        string where = $"{operation}: {name}";
        if (tensor.device_type != (host.IsCuda ? DeviceType.CUDA : DeviceType.CPU) ||
            (host.IsCuda && tensor.device_index != host.DeviceIndex))
            throw new ArgumentException($"{where} is on {tensor.device}, the kernel runs on {host.DeviceName}");
        if (tensor.dtype != dtype)
            throw new ArgumentException($"{where} must be {dtype}, got {tensor.dtype}");
        if (!tensor.shape.SequenceEqual(shape))
            throw new ArgumentException($"{where} must be ({string.Join(", ", shape)}), got ({string.Join(", ", tensor.shape)})");
        if (!tensor.is_contiguous())
            throw new ArgumentException($"{where} must be contiguous (call .contiguous() first)");
    }

    public void Dispose()
    {
        foreach (ExternalMemoryBuffer buffer in buffers) buffer.Dispose();
        buffers.Clear();
    }
}
