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

/// <summary>Tensor preparation shared by the kernels' host code.</summary>
internal static class KernelTensors
{
    /// <summary>A contiguous fp32 tensor with <paramref name="t"/>'s values (itself when it already is one).</summary>
    public static Tensor Fp32(Tensor t) => t.to_type(ScalarType.Float32).contiguous();
}
