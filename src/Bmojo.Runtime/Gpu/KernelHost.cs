using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Gpu;

/// <summary>
/// The one ILGPU context of the process and one accelerator per torch device, created on first use: a CUDA
/// accelerator for tensors on <c>cuda:i</c>, ILGPU's CPU accelerator (simulating 32-lane warps, as on NVIDIA GPUs)
/// for tensors on the CPU. ILGPU runs in a CUDA context of its own, so <see cref="Launch"/> orders the two runtimes:
/// torch's queued work finishes before a kernel starts, and the kernel finishes before torch reads its output.
/// Binding the accelerator leaves ILGPU's CUDA context current on the calling thread; torch's CUDA calls on that
/// thread work on regardless (the device pointers are the same in both contexts, as the CUDA tests check), but the
/// two runtimes never overlap: each fused call costs its kernel plus ~12-21 µs of waiting (docs/benchmarks.md).
/// <para>
/// Each launch makes ILGPU's context current itself, whatever ILGPU believes is bound: <c>Accelerator.Bind()</c> is a
/// no-op when ILGPU's thread-static current accelerator already is this one, although something else may have made
/// another context current on the thread since (Bmojo.Distributed makes torch's primary context current before every
/// NCCL call). A kernel launched on ILGPU's stream, with its module's function, from another context fails with
/// <c>CudaException: invalid resource handle</c>.
/// </para>
/// </summary>
public sealed class KernelHost
{
    private static readonly Lazy<Context> SharedContext = new(() =>
        Context.Create(builder => Configure(builder).Cuda().CPU(CPUDeviceKind.Nvidia)));

    /// <summary>The compiler settings every kernel is built with (also by <c>bmojo bench ptx</c>, which compiles the
    /// kernels to PTX offline, so what it shows is what runs).</summary>
    internal static Context.Builder Configure(Context.Builder builder) => builder.EnableAlgorithms();

    private static readonly ConcurrentDictionary<(DeviceType Type, int Index), KernelHost> Hosts = new();

    private readonly DeviceType deviceType;
    private readonly int deviceIndex;

    private KernelHost(DeviceType deviceType, int deviceIndex, Accelerator accelerator)
    {
        this.deviceType = deviceType;
        this.deviceIndex = deviceIndex;
        Accelerator = accelerator;
    }

    /// <summary>The ILGPU accelerator that runs kernels on this host's device.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>True when kernels run on a CUDA GPU, false on ILGPU's CPU accelerator.</summary>
    public bool IsCuda => deviceType == DeviceType.CUDA;

    /// <summary>The CUDA device index (0 for the CPU host).</summary>
    public int DeviceIndex => deviceIndex;

    /// <summary>The torch device this host serves, as torch names it (<c>cpu</c>, <c>cuda:0</c>).</summary>
    public string DeviceName => IsCuda ? $"cuda:{deviceIndex}" : "cpu";

    /// <summary>True when a CUDA tensor can be handed to a fused kernel: torch sees a GPU and so does ILGPU.</summary>
    public static bool CudaAvailable => cuda.is_available() && SharedContext.Value.GetCudaDevices().Count > 0;

    /// <summary>The host for the device <paramref name="tensor"/> lives on.</summary>
    public static KernelHost For(Tensor tensor) => For(tensor.device);

    /// <summary>The host for <paramref name="device"/> (<c>cpu</c> or <c>cuda:i</c>).</summary>
    public static KernelHost For(Device device)
    {
        int index = device.type == DeviceType.CUDA ? Math.Max(device.index, 0) : 0;
        return Hosts.GetOrAdd((device.type, index), key => Create(key.Type, key.Index));
    }

    /// <summary>
    /// Runs <paramref name="launch"/> (which enqueues ILGPU kernels) ordered against torch: waits for torch's work
    /// on the device, launches, waits for the kernels. On the CPU both waits are no-ops for torch.
    /// </summary>
    public void Launch(Action<Accelerator> launch)
    {
        if (IsCuda) cuda.synchronize(new Device(DeviceType.CUDA, deviceIndex));
        Bind();
        launch(Accelerator);
        Accelerator.Synchronize();
    }

    /// <summary>Binds the accelerator to the calling thread and, on CUDA, makes its context current even when ILGPU
    /// takes it for bound already (see the class remarks): kernels load into, launch in and synchronise the current
    /// context.</summary>
    private void Bind()
    {
        Accelerator.Bind();
        if (Accelerator is CudaAccelerator)
            CudaException.ThrowIfFailed(CudaAPI.CurrentAPI.SetCurrentContext(Accelerator.NativePtr));
    }

    /// <summary>A CPU host (not the shared one) whose accelerator simulates <paramref name="multiprocessors"/>
    /// multiprocessors of 32 warps that run groups at the same time; the shared CPU host has one, so its groups run one
    /// after another. For tests of kernels whose groups wait for each other; dispose its accelerator when done.</summary>
    internal static KernelHost ConcurrentCpu(int multiprocessors) =>
        new(DeviceType.CPU, 0, new CPUDevice(32, 32, multiprocessors)
            .CreateCPUAccelerator(SharedContext.Value, CPUAcceleratorMode.Parallel));

    private static KernelHost Create(DeviceType type, int index)
    {
        Context context = SharedContext.Value;
        switch (type)
        {
            case DeviceType.CPU:
                return new KernelHost(type, 0, context.CreateCPUAccelerator(0));
            case DeviceType.CUDA:
                int devices = context.GetCudaDevices().Count;
                if (index >= devices)
                    throw new InvalidOperationException(
                        $"fused kernels: the tensor is on cuda:{index} but ILGPU finds {devices} CUDA device(s); " +
                        "is the NVIDIA driver (libcuda) visible to this process?");
                return new KernelHost(type, index, context.CreateCudaAccelerator(index));
            default:
                throw new NotSupportedException($"fused kernels run on CPU and CUDA tensors, not on {type}");
        }
    }
}
