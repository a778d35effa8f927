using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Gpu;

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

    /// <summary>How many blocks of <paramref name="groupSize"/> threads and <paramref name="sharedBytes"/> of dynamic
    /// shared memory fit on one multiprocessor at once (the driver's occupancy estimate, from the kernel's registers).</summary>
    public int ResidentGroups(Accelerator accelerator, int groupSize, int sharedBytes)
    {
        lock (_resident)
        {
            if (!_resident.TryGetValue((accelerator, groupSize, sharedBytes), out int groups))
            {
                groups = Math.Max(1, accelerator.EstimateMaxActiveGroupsPerMultiprocessor(On(accelerator).GetKernel(), groupSize, sharedBytes));
                _resident[(accelerator, groupSize, sharedBytes)] = groups;
            }
            return groups;
        }
    }

    private readonly Dictionary<(Accelerator, int, int), int> _resident = [];
}

/// <summary>A kernel generic in its <see cref="ITensorCores"/>: the CUDA instance on CUDA accelerators, compiled to PTX
/// with its inline-asm operands promoted from local memory to registers (<see cref="PtxLocals"/>) before the driver
/// loads it; the emulated one on ILGPU's CPU accelerator. Each is compiled once per accelerator.</summary>
internal sealed class TensorCoreKernel<TArguments>(Action<TArguments> cuda, Action<TArguments> emulated) where TArguments : struct
{
    // ILGPU 1.5.3 keeps a compiled kernel's PTX in this backing field and loads whatever it holds.
    private static readonly FieldInfo PtxField = typeof(PTXCompiledKernel).GetField("<PTXAssembly>k__BackingField",
        BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new InvalidOperationException("ILGPU's PTXCompiledKernel has no PTX backing field: the tensor-core kernels need ILGPU 1.5.3");

    private readonly StreamKernel<TArguments> onCpu = new(emulated);
    private readonly Dictionary<Accelerator, (Kernel Kernel, Action<KernelConfig, TArguments> Launch)> onCuda = [];

    public Action<KernelConfig, TArguments> On(Accelerator accelerator)
    {
        if (accelerator is not CudaAccelerator gpu) return onCpu.On(accelerator);
        lock (onCuda)
        {
            if (!onCuda.TryGetValue(accelerator, out var loaded))
            {
                var compiled = (PTXCompiledKernel)gpu.Backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(cuda.Method),
                                                                       new KernelSpecialization());
                PtxField.SetValue(compiled, PtxLocals.Promote(compiled.PTXAssembly, out _));
                Kernel kernel = accelerator.LoadKernel(compiled);
                var launcher = kernel.CreateLauncherDelegate<Action<AcceleratorStream, KernelConfig, TArguments>>();
                loaded = (kernel, (config, arguments) => launcher(accelerator.DefaultStream, config, arguments));
                onCuda[accelerator] = loaded;
            }
            return loaded.Launch;
        }
    }
}

/// <summary>Tensor preparation shared by the kernels' host code.</summary>
internal static class KernelTensors
{
    /// <summary>A contiguous fp32 tensor with <paramref name="t"/>'s values (itself when it already is one), in one
    /// pass: a strided tensor of another dtype is cast and laid out by a single copy (<c>to_type</c> keeps a dense
    /// view's strides, so <c>to_type(...).contiguous()</c> would copy it twice).</summary>
    public static Tensor Fp32(Tensor t)
    {
        if (t.is_contiguous()) return t.to_type(ScalarType.Float32);
        if (t.dtype == ScalarType.Float32) return t.contiguous();
        return empty(t.shape, ScalarType.Float32, t.device).copy_(t);   // differentiable, as to_type is
    }
}
