namespace Bmojo.Bench;

/// <summary>
/// What the device does at best, measured in the same run as the kernels: a large device copy (bytes/s, read + write)
/// and a large matrix product (FLOP/s, bf16 on the GPU). Measured on CUDA only: on the CPU the kernels run on ILGPU's
/// CPU accelerator, which walks a GPU's threads one by one, so its times show that a kernel runs and agrees, not how
/// fast it is; rates against CPU ceilings, speed-ups over TorchSharp's CPU ops and a launch overhead would describe
/// the simulator, and <c>bench kernels</c> prints none of them there.
/// </summary>
public sealed record DeviceCeilings(double CopyBytesPerSecond, double MatmulFlops)
{
    /// <summary>The note <c>bench kernels</c> prints on the CPU instead of the ceilings.</summary>
    public const string CpuNote =
        "on the CPU (ILGPU's CPU accelerator runs a GPU's threads one by one): agreement and times only; "
        + "no device ceilings, rates, speed-ups or launch overhead, which would describe the simulator, not the kernels";

    /// <summary>"ours Nx faster" and the like, only where the device is a GPU (null ceilings: nothing).</summary>
    public static string Faster(DeviceCeilings? ceilings, string text) => ceilings is null ? "" : text;
}
