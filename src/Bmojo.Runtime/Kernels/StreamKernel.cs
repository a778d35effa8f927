using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Kernels;

/// <summary>An explicitly grouped ILGPU kernel, compiled once per accelerator on first use and reused after.</summary>
/// <typeparam name="TArguments">The kernel's one struct parameter.</typeparam>
internal sealed class StreamKernel<TArguments>(Action<TArguments> kernel) where TArguments : struct
{
    private readonly Dictionary<Accelerator, Action<KernelConfig, TArguments>> _loaded = [];

    /// <summary>The kernel as loaded on <paramref name="accelerator"/> (compiled at the first call there).</summary>
    public Action<KernelConfig, TArguments> On(Accelerator accelerator)
    {
        lock (_loaded)
        {
            if (!_loaded.TryGetValue(accelerator, out var loaded))
            {
                loaded = accelerator.LoadStreamKernel(kernel);
                _loaded[accelerator] = loaded;
            }
            return loaded;
        }
    }
}

/// <summary>A kernel generic in its <see cref="ITensorCores"/>: the CUDA instance on CUDA accelerators, the emulated one
/// on ILGPU's CPU accelerator, each compiled once per accelerator.</summary>
internal sealed class TensorCoreKernel<TArguments>(Action<TArguments> cuda, Action<TArguments> emulated) where TArguments : struct
{
    private readonly StreamKernel<TArguments> onCuda = new(cuda), onCpu = new(emulated);

    public Action<KernelConfig, TArguments> On(Accelerator accelerator) =>
        accelerator.AcceleratorType == AcceleratorType.Cuda ? onCuda.On(accelerator) : onCpu.On(accelerator);
}

/// <summary>Tensor preparation shared by the kernels' host code.</summary>
internal static class KernelTensors
{
    /// <summary>A contiguous fp32 tensor with <paramref name="t"/>'s values (itself when it already is one).</summary>
    public static Tensor Fp32(Tensor t) => t.to_type(ScalarType.Float32).contiguous();
}
