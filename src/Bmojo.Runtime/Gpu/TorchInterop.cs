using System.Runtime.InteropServices;
using ILGPU;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Gpu;

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
        return Wrap<float>(tensor, sizeof(float));
    }

    /// <summary>An int32 view of <paramref name="tensor"/>, which must have exactly <paramref name="shape"/>.</summary>
    public ArrayView<int> Int32(Tensor tensor, string name, params long[] shape)
    {
        Check(tensor, name, ScalarType.Int32, shape);
        return Wrap<int>(tensor, sizeof(int));
    }

    /// <summary>A byte view of the bool tensor <paramref name="tensor"/> (torch stores a bool as one byte, 0 or 1; a
    /// kernel must write only those two values), which must have exactly <paramref name="shape"/>.</summary>
    public ArrayView<byte> Bool(Tensor tensor, string name, params long[] shape)
    {
        Check(tensor, name, ScalarType.Bool, shape);
        return Wrap<byte>(tensor, sizeof(byte));
    }

    /// <summary>A bf16 tensor of exactly <paramref name="shape"/> as a view of its raw 16-bit values (the upper half of
    /// the fp32 bits: <c>bits &lt;&lt; 16</c> is the value as a float).</summary>
    public ArrayView<ushort> Bf16(Tensor tensor, string name, params long[] shape)
    {
        Check(tensor, name, ScalarType.BFloat16, shape);
        return Wrap<ushort>(tensor, sizeof(ushort));
    }

    /// <summary>A bf16 tensor of exactly <paramref name="shape"/> (last dimension even) as a view of bf16 pairs: one
    /// uint holds elements 2i (low 16 bits) and 2i + 1.</summary>
    public ArrayView<uint> Bf16Pairs(Tensor tensor, string name, params long[] shape)
    {
        Check(tensor, name, ScalarType.BFloat16, shape);
        if (shape.Length == 0 || shape[^1] % 2 != 0)
            throw new ArgumentException($"{operation}: {name} must have an even last dimension to be read as bf16 pairs, got {shape.LastOrDefault()}");
        long length = tensor.numel() / 2;
        if (length == 0) return ArrayView<uint>.Empty;
        var buffer = new ExternalMemoryBuffer(host.Accelerator, DataPointer(tensor), length, sizeof(uint));
        buffers.Add(buffer);
        return buffer.AsArrayView<uint>(0, length);
    }

    /// <summary>An empty view, for an optional argument that is absent (the kernel never reads it).</summary>
    public static ArrayView<float> Absent => ArrayView<float>.Empty;

    private ArrayView<T> Wrap<T>(Tensor tensor, int elementSize) where T : unmanaged
    {
        long length = tensor.numel();
        if (length == 0) return ArrayView<T>.Empty;
        IntPtr pointer = DataPointer(tensor);
        var buffer = new ExternalMemoryBuffer(host.Accelerator, pointer, length, elementSize);
        buffers.Add(buffer);
        return buffer.AsArrayView<T>(0, length);
    }

    /// <summary>The address of the tensor's first element (storage base plus offset), for any dtype: libtorch's
    /// <c>Tensor::data_ptr()</c> through TorchSharp's native library (TorchSharp's typed storage has no bf16).</summary>
    internal static IntPtr DataPointer(Tensor tensor)
    {
        IntPtr pointer = THSTensor_data(tensor.Handle);
        if (pointer == IntPtr.Zero) throw new InvalidOperationException($"libtorch gave no data pointer for a {tensor.dtype} tensor on {tensor.device}");
        return pointer;
    }

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr tensor);

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
