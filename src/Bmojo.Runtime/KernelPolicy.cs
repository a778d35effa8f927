using Bmojo.Runtime.Ops.Ssd;
using Bmojo.Runtime.Mixers;

namespace Bmojo.Runtime;

/// <summary>Which implementation each operation of a model runs: one value, given to the model's constructor (or the
/// build's default from <see cref="ModelSettings.Kernels"/>), handed to every mixer, read once by each mixer when it
/// is built and never changed afterwards. Every path of one operation computes the same function.</summary>
/// <param name="Scan">The selective scan of Mamba layers and of B'MOJO's fading SSM.</param>
/// <param name="BmojoAttention">The softmax of a B'MOJO layer's full forward (recurrent inference has its own).</param>
public sealed record KernelPolicy(ScanPath Scan = ScanPath.Auto, BmojoPath BmojoAttention = BmojoPath.Auto)
{
    /// <summary>Every operation picks its path from the tensors it sees (the fused ILGPU kernels where they apply).</summary>
    public static KernelPolicy Auto { get; } = new();

    /// <summary>Never the ILGPU kernels: the CPU or chunked scan and blockwise B'MOJO attention. What a model built with
    /// <c>BmojoFusedKernels=false</c> runs.</summary>
    public static KernelPolicy Unfused { get; } = new(ScanPath.Unfused, BmojoPath.Blockwise);
}

/// <summary>Which implementation a mixer's last forward ran, by operation; null: the mixer has no such operation or
/// has not run it yet.</summary>
/// <param name="Scan">The selective scan (<see cref="ScanPath"/> resolved: never Auto or Unfused).</param>
/// <param name="BmojoAttention">The B'MOJO softmax of a full forward (resolved: never Auto).</param>
/// <param name="TorchAttention">True for attention through torch's scaled_dot_product_attention.</param>
/// <param name="Ssd">Mamba-2's SSD: chunked or the one-token step.</param>
public sealed record MixerPath(ScanPath? Scan = null, BmojoPath? BmojoAttention = null, bool TorchAttention = false,
                               SsdPath? Ssd = null)
{
    public override string ToString()
    {
        var parts = new List<string>();
        if (Scan is ScanPath scan) parts.Add($"scan {scan}");
        if (BmojoAttention is BmojoPath attention) parts.Add($"B'MOJO attention {attention}");
        if (TorchAttention) parts.Add("attention torch SDPA");
        if (Ssd is SsdPath ssd) parts.Add($"ssd {ssd}");
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }
}
