using Bmojo.Runtime.Gpu;

namespace Bmojo.Runtime.Tests.Gpu;

/// <summary>A fact that runs only where torch and ILGPU both see a CUDA GPU; elsewhere it is skipped, saying why.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    /// <summary>True where torch and ILGPU both see a CUDA GPU.</summary>
    public static bool CudaVisible => KernelHost.CudaAvailable;

    public CudaFactAttribute()
    {
        if (!CudaVisible) Skip = "no CUDA GPU visible to both TorchSharp and ILGPU";
    }
}
