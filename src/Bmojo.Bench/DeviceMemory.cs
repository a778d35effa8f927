using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Bench;

/// <summary>
/// Device memory in use as the driver sees it (total − free, <c>cudaMemGetInfo</c> of the CUDA runtime torch loaded). TorchSharp 0.107
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
            // The CUDA runtime torch already loaded, on torch's own (primary) context: binding ILGPU's context here
            // would leave it current on this thread for torch's next launches.
            cuda.synchronize(device);
            return MemGetInfo(out nuint free, out nuint total) == 0 ? (long)(total - free) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [DllImport("libcudart.so.13", EntryPoint = "cudaMemGetInfo")]
    private static extern int MemGetInfo(out nuint free, out nuint total);

}
