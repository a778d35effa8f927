using Bmojo.Runtime.Reference;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The selective scan on a chosen <see cref="ScanPath"/>; arguments as <see cref="SelectiveScanReference"/>.</summary>
public static class SelectiveScan
{
    public static (Tensor Output, Tensor FinalState) Run(
        ScanPath path, Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? deltaBias, bool deltaSoftplus, Tensor? initialState) => path switch
        {
            ScanPath.Chunked => ChunkedSelectiveScan.RunWithFinalState(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState),
            ScanPath.Sequential => SelectiveScanReference.RunWithFinalState(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState),
            _ => throw new ArgumentOutOfRangeException(nameof(path), path, "unknown scan path"),
        };
}
