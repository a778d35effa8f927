using ILGPU;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Gpu;

/// <summary>
/// An ILGPU buffer over memory that something else owns (a TorchSharp tensor's storage): no allocation, no copy,
/// nothing freed on dispose. Kernels read and write it in place; copies through ILGPU are refused, since the owner
/// (torch) is the one that moves that memory.
/// </summary>
internal sealed class ExternalMemoryBuffer : MemoryBuffer
{
    public ExternalMemoryBuffer(Accelerator accelerator, IntPtr pointer, long length, int elementSize)
        : base(accelerator, length, elementSize)
    {
        NativePtr = pointer;
    }

    protected override void MemSet(AcceleratorStream stream, byte value, in ArrayView<byte> targetView) =>
        throw Refused();

    protected override void CopyFrom(AcceleratorStream stream, in ArrayView<byte> sourceView, in ArrayView<byte> targetView) =>
        throw Refused();

    protected override void CopyTo(AcceleratorStream stream, in ArrayView<byte> sourceView, in ArrayView<byte> targetView) =>
        throw Refused();

    // The tensor owns the memory: nothing to free.
    protected override void DisposeAcceleratorObject(bool disposing) { }

    private static NotSupportedException Refused() =>
        new("a tensor's memory is read and written by kernels in place; copy it with TorchSharp, not through ILGPU");
}
