using Bmojo.Runtime.Ops.SelectiveScan;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The selective scan on a chosen <see cref="ScanPath"/>; arguments as <see cref="SelectiveScanReference"/>.</summary>
public static class SelectiveScan
{
    /// <param name="keepFinalState">Whether the caller needs the final state (a cache); without it and without an
    /// initial state the fused path runs the autograd function, which has no final state (null then).</param>
    public static (Tensor Output, Tensor? FinalState) Run(
        ScanPath path, Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? deltaBias, bool deltaSoftplus, Tensor? initialState, bool keepFinalState = true)
    {
        bool stateful = keepFinalState || initialState is not null;
        bool gradient = NeedsGradient(u, delta, A, B, C, D, z, deltaBias, initialState);
        switch (Resolve(path, u, A, stateful && gradient))
        {
            case ScanPath.Chunked:
                return ChunkedSelectiveScan.RunWithFinalState(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState);
            case ScanPath.Sequential:
                return SelectiveScanReference.RunWithFinalState(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState);
            case ScanPath.Fused when !stateful:
                return (SelectiveScanFunction.Apply(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus), null);
            case ScanPath.Fused when !gradient:
                return FusedSelectiveScan.RunWithFinalState(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState);
            case ScanPath.Fused:
                throw new ArgumentException("selective scan: the fused path has no gradient through a cache's state; "
                                            + "train with ScanPath.Chunked (or Auto) when a cache is used");
            case ScanPath.Cpu when !gradient:
                return CpuSelectiveScan.RunWithFinalState(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState);
            case ScanPath.Cpu when !keepFinalState:
                return (CpuSelectiveScan.Apply(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState), null);
            case ScanPath.Cpu:
                throw new ArgumentException("selective scan: the CPU path has no gradient through a cache's final state; "
                                            + "train with ScanPath.Chunked (or Auto) when a cache is used");
            default:
                throw new ArgumentOutOfRangeException(nameof(path), path, "unknown scan path");
        }
    }

    /// <summary>The path <see cref="Run"/> takes with these arguments (<see cref="ScanPath.Auto"/> and
    /// <see cref="ScanPath.Unfused"/> resolved; other paths are kept).</summary>
    public static ScanPath Resolve(ScanPath path, Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
                                   Tensor? deltaBias, Tensor? initialState, bool keepFinalState)
    {
        bool stateful = keepFinalState || initialState is not null;
        return Resolve(path, u, A, stateful && NeedsGradient(u, delta, A, B, C, D, z, deltaBias, initialState));
    }

    /// <summary>The path <see cref="ScanPath.Auto"/> stands for with these tensors; other paths are kept.</summary>
    public static ScanPath Resolve(ScanPath path, Tensor u, Tensor A, bool gradientThroughState) => path switch
    {
        ScanPath.Auto or ScanPath.Unfused when gradientThroughState => ScanPath.Chunked,
        ScanPath.Auto or ScanPath.Unfused when u.device_type == DeviceType.CPU => ScanPath.Cpu,
        ScanPath.Unfused => ScanPath.Chunked,
        ScanPath.Auto => u.dtype != ScalarType.Float64 && A.shape[1] <= FusedSelectiveScan.MaxDState
            ? ScanPath.Fused : ScanPath.Chunked,
        _ => path,
    };

    private static bool NeedsGradient(params Tensor?[] inputs) => is_grad_enabled() && inputs.Any(t => t?.requires_grad == true);
}
