using Bmojo.Runtime.Gpu;

namespace Bmojo.Distributed.Tests;

/// <summary>A fact that runs only where torch and ILGPU both see a CUDA GPU; elsewhere it is skipped, saying why
/// (the device runner's <c>--cuda-only</c> picks these by the attribute's name, as Bmojo.Runtime.Tests's).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!KernelHost.CudaAvailable) Skip = "no CUDA GPU visible to both TorchSharp and ILGPU";
    }
}
