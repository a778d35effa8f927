namespace Bmojo.Runtime.Mixers;

/// <summary>Which implementation of the selective scan a <see cref="MambaMixer"/> runs. All give the same function.</summary>
public enum ScanPath
{
    /// <summary><see cref="Fused"/> for fp32/bf16/half tensors on CUDA with d_state &lt;= 32, <see cref="Cpu"/> for CPU
    /// tensors, <see cref="Chunked"/> otherwise (CUDA float64, larger states) and for a gradient through a cache's
    /// state.</summary>
    Auto,

    /// <summary><see cref="Auto"/> without the ILGPU kernels: <see cref="Cpu"/> for CPU tensors, <see cref="Chunked"/>
    /// on other devices and for a gradient through a cache's state. What a model built with
    /// <c>BmojoFusedKernels=false</c> runs.</summary>
    Unfused,

    /// <summary>The chunked parallel scan (<see cref="ChunkedSelectiveScan"/>) of TorchSharp ops, on any device.</summary>
    Chunked,

    /// <summary>The exact sequential scan (<see cref="Ops.SelectiveScan.SelectiveScanReference"/>): one step per token.</summary>
    Sequential,

    /// <summary>The fused ILGPU kernels (<see cref="Ops.SelectiveScan.SelectiveScanFunction"/>, fused both ways), on CUDA or,
    /// for CPU tensors, on ILGPU's CPU accelerator; computes in fp32. With a cache the forward is fused too, but no
    /// gradient flows through the cached state (that throws; use <see cref="Chunked"/> to train through a cache).</summary>
    Fused,

    /// <summary>The scan in plain C# over CPU tensors' memory (<see cref="CpuSelectiveScan"/>), differentiable through
    /// <see cref="CpuSelectiveScanFunction"/>; computes in fp32 (float64 stays float64). With a cache the forward runs
    /// here too, but no gradient flows through the cached state (that throws; use <see cref="Chunked"/>).</summary>
    Cpu,
}
