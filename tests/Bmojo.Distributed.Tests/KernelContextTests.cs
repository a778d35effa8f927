using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Distributed.Tests;

/// <summary>ILGPU's kernels and NCCL's collectives on one thread: each makes its own CUDA context current (ILGPU's,
/// torch's primary) and neither may find the other's left there.</summary>
public class KernelContextTests
{
    private static void AddOne(Index1D i, ArrayView<float> x) => x[i] += 1f;

    private static void AddOne(KernelHost host, Tensor x)
    {
        using var views = new TorchInterop(host, "add one");
        ArrayView<float> view = views.Float32(x, "x", x.shape);
        host.Launch(accelerator => accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(AddOne)((int)view.Length, view));
    }

    [CudaFact]
    public void A_fused_kernel_launches_after_an_NCCL_call_made_torchs_primary_context_current()
    {
        // A rank's step 2: step 1's kernels bound ILGPU's context on this thread, then the all-reduce (and the ranks'
        // agreement before each step) made the primary context current. ILGPU's Bind() takes its accelerator for
        // bound still, so the launch used to run in the primary context: "CudaException: invalid resource handle".
        var device = new Device(DeviceType.CUDA, 0);
        using Tensor x = zeros(1000, device: device);
        KernelHost host = KernelHost.For(device);
        AddOne(host, x);
        using (CudaPrimaryContext primary = CudaPrimaryContext.Retain(0))
        {
            primary.MakeCurrent();                 // what NcclCommunicator does before every collective
            x.add_(1f);                            // torch's work in its own context, then a kernel that reads it
            AddOne(host, x);
            primary.MakeCurrent();                 // waits for ILGPU's context before leaving it
            x.add_(1f);
        }
        Assert.Equal(4f, x.cpu().data<float>().ToArray().Distinct().Single());
    }
}
