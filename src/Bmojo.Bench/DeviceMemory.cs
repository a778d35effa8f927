using Bmojo.Runtime.Kernels;
using ILGPU.Runtime.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Bench;

/// <summary>
/// Device memory in use as the driver sees it (total − free, <c>cuMemGetInfo</c> through ILGPU). TorchSharp 0.107
/// exposes none of torch's allocator statistics (no <c>max_memory_allocated</c>, no <c>memory_reserved</c>, no
/// <c>empty_cache</c>), so this is the measure: torch's caching allocator keeps what it reserved, so the use after a
/// step is at least that step's peak allocation, plus the CUDA contexts and whatever else holds device memory.
/// </summary>
public static class DeviceMemory
{
    /// <summary>Bytes in use on the device, or null off CUDA or when the driver does not answer.</summary>
    public static long? InUse(Device device)
    {
        if (device.type != DeviceType.CUDA) return null;
        try
        {
            KernelHost.For(device).Accelerator.Bind();                    // a current CUDA context on this thread
            return CudaAPI.CurrentAPI.GetMemoryInfo(out long free, out long total) == CudaError.CUDA_SUCCESS ? total - free : null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return null;
        }
    }
}
