using System.Runtime.InteropServices;

namespace Bmojo.Distributed;

/// <summary>
/// The CUDA primary context of one device, through the driver API (<c>libcuda.so.1</c>). PyTorch runs in the primary
/// context; ILGPU (the fused kernels) runs in a context of its own and leaves it current on the calling thread. NCCL
/// binds a communicator to the context current when it is made and enqueues on the stream given in that context, so
/// every NCCL call here first makes the primary context current: the collective then runs in torch's context, on
/// torch's stream. Leaving another context (ILGPU's), it first waits for that context's queued work: once ILGPU's
/// context is current on a thread, torch's CUDA runtime calls there run in it too (the runtime takes the current
/// context), on its own legacy stream, which is not ordered with the primary context's stream that NCCL uses.
/// ILGPU's launches make its context current again themselves (<c>KernelHost.Launch</c>).
/// </summary>
public sealed unsafe class CudaPrimaryContext : IDisposable
{
    private const string Driver = "libcuda.so.1";
    private static readonly Lazy<IntPtr> Library = new(() =>
        NativeLibrary.TryLoad(Driver, out IntPtr handle) ? handle
            : throw new DistributedError($"CUDA: could not load the driver library {Driver}; is the NVIDIA driver installed and visible?"));

    private readonly int device;
    private IntPtr context;

    private CudaPrimaryContext(int ordinal, int device, IntPtr context)
    {
        Ordinal = ordinal;
        this.device = device;
        this.context = context;
    }

    /// <summary>The device's CUDA ordinal (as <c>cuda:i</c> numbers it).</summary>
    public int Ordinal { get; }

    /// <summary>Retains (creating if needed) the primary context of device <paramref name="ordinal"/>.</summary>
    public static CudaPrimaryContext Retain(int ordinal)
    {
        Check(((delegate* unmanaged<uint, int>)Fn("cuInit"))(0), "cuInit");
        int device;
        Check(((delegate* unmanaged<int*, int, int>)Fn("cuDeviceGet"))(&device, ordinal), $"cuDeviceGet({ordinal})");
        IntPtr context;
        Check(((delegate* unmanaged<IntPtr*, int, int>)Fn("cuDevicePrimaryCtxRetain"))(&context, device), $"cuDevicePrimaryCtxRetain({ordinal})");
        return new CudaPrimaryContext(ordinal, device, context);
    }

    /// <summary>Makes the primary context current on the calling thread (a no-op when it already is). When another
    /// context was current, first waits for the work queued in it (<c>cuCtxSynchronize</c>), so that a collective
    /// enqueued next sees what the caller wrote from there.</summary>
    public void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(context == IntPtr.Zero, this);
        IntPtr current;
        Check(((delegate* unmanaged<IntPtr*, int>)Fn("cuCtxGetCurrent"))(&current), "cuCtxGetCurrent");
        if (current == context) return;
        if (current != IntPtr.Zero) Check(((delegate* unmanaged<int>)Fn("cuCtxSynchronize"))(), "cuCtxSynchronize (of the context being left)");
        Check(((delegate* unmanaged<IntPtr, int>)Fn("cuCtxSetCurrent"))(context), "cuCtxSetCurrent");
    }

    public void Dispose()
    {
        if (context == IntPtr.Zero) return;
        context = IntPtr.Zero;
        _ = ((delegate* unmanaged<int, int>)Fn("cuDevicePrimaryCtxRelease"))(device);
    }

    private static IntPtr Fn(string name) =>
        NativeLibrary.TryGetExport(Library.Value, name + "_v2", out IntPtr f) ? f
        : NativeLibrary.TryGetExport(Library.Value, name, out f) ? f
        : throw new DistributedError($"CUDA: the driver library has no {name}");

    private static void Check(int result, string call)
    {
        if (result == 0) return;
        IntPtr text = IntPtr.Zero;
        if (NativeLibrary.TryGetExport(Library.Value, "cuGetErrorString", out IntPtr f))
            _ = ((delegate* unmanaged<int, IntPtr*, int>)f)(result, &text);
        throw new DistributedError($"CUDA {call} failed: {(text != IntPtr.Zero ? Marshal.PtrToStringUTF8(text) : $"error {result}")} ({result})");
    }
}
