using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.SelectiveScan;
using Bmojo.Runtime.Tests.Gpu;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.SelectiveScan;

/// <summary>The fused scan against the float64 reference, on ILGPU's CPU accelerator (always) and on CUDA (when present).</summary>
public sealed class FusedSelectiveScanTests
{
    // fp32 arithmetic over up to a few hundred steps against float64: far under 1e-4 relative.
    private const double Atol = 2e-5, Rtol = 2e-4;

    public static TheoryData<long, long, long, long, bool> Shapes => new()
    {
        // batch, d_inner, L, d_state, every option on
        { 1, 1, 1, 1, true },        // L = 1, a single state
        { 2, 3, 37, 16, true },      // odd L, the usual N
        { 1, 5, 16, 16, false },     // L exactly one chunk, no options
        { 3, 2, 33, 5, true },       // N not a power of two: idle lanes
        { 2, 3, 50, 32, false },     // N = 32: a whole warp per channel
        { 1, 7, 9, 3, true },        // odd channel count: a block mostly padding
        { 2, 40, 21, 16, true },     // several blocks per batch row, the last one part padding
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheReferenceOnCpu(long batch, long dInner, long length, long dState, bool options) =>
        CheckAgainstReference(batch, dInner, length, dState, options, CPU);

    [CudaFact]
    public void MatchesTheReferenceOnCuda()
    {
        foreach (object[] row in Shapes)
            CheckAgainstReference((long)row[0], (long)row[1], (long)row[2], (long)row[3], (bool)row[4], CUDA);
        CheckAgainstReference(2, 64, 1000, 16, true, CUDA);
    }

    [Fact]
    public void ReturnsTheInputDtype()
    {
        manual_seed(3);
        ScanInputs s = ScanInputs.Random(2, 3, 11, 4, CPU);
        Tensor u = s.U.to_type(ScalarType.BFloat16);
        Tensor y = FusedSelectiveScan.Run(u, s.Delta, s.A, s.B, s.C, s.D, deltaSoftplus: true);
        Tensor expected = SelectiveScanReference.Run(u, s.Delta, s.A, s.B, s.C, s.D, deltaSoftplus: true);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        TensorAssert.Close(expected, y, atol: 1e-6, rtol: 1e-2, what: "bf16 y");
    }

    [Fact]
    public void TakesNonContiguousInputs()
    {
        manual_seed(4);
        ScanInputs s = ScanInputs.Random(2, 4, 13, 6, CPU);
        Tensor BC = cat(new[] { s.B, s.C }, 1);             // (B, 2N, L), as x_proj's output is split
        Tensor B = BC[.., ..6], C = BC[.., 6..];            // non-contiguous views
        Assert.False(B.is_contiguous());
        Tensor y = FusedSelectiveScan.Run(s.U, s.Delta, s.A, B, C, s.D, deltaSoftplus: true);
        TensorAssert.Close(SelectiveScanReference.Run(s.U, s.Delta, s.A, s.B, s.C, s.D, deltaSoftplus: true), y, Atol, Rtol, "y");
    }

    [Fact]
    public void RefusesALargeStateWithAClearError()
    {
        ScanInputs s = ScanInputs.Random(1, 2, 3, 33, CPU);
        var error = Assert.Throws<ArgumentException>(() => FusedSelectiveScan.Run(s.U, s.Delta, s.A, s.B, s.C));
        Assert.Contains("d_state = 33", error.Message);
    }

    [Fact]
    public void RefusesMismatchedShapesWithAClearError()
    {
        ScanInputs s = ScanInputs.Random(1, 2, 3, 4, CPU);
        var error = Assert.Throws<ArgumentException>(() => FusedSelectiveScan.Run(s.U, s.Delta, s.A, s.B[.., .., ..2], s.C));
        Assert.Contains("B must be", error.Message);
    }

    private static void CheckAgainstReference(long batch, long dInner, long length, long dState, bool options, Device device)
    {
        manual_seed(batch * 1000 + dInner * 100 + length + dState);
        ScanInputs s = ScanInputs.Random(batch, dInner, length, dState, device);
        ScanInputs r = s.Float64Cpu();
        (Tensor y, Tensor last) = options
            ? FusedSelectiveScan.RunWithFinalState(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, deltaSoftplus: true, s.InitialState)
            : FusedSelectiveScan.RunWithFinalState(s.U, nn.functional.softplus(s.Delta), s.A, s.B, s.C);   // positive steps
        (Tensor yRef, Tensor lastRef) = options
            ? SelectiveScanReference.RunWithFinalState(r.U, r.Delta, r.A, r.B, r.C, r.D, r.Z, r.DeltaBias, deltaSoftplus: true, r.InitialState)
            : SelectiveScanReference.RunWithFinalState(r.U, nn.functional.softplus(r.Delta), r.A, r.B, r.C);
        string shape = $"(B={batch}, d_inner={dInner}, L={length}, N={dState}, options={options}) on {device}";
        Assert.Equal(device.type, y.device_type);
        TensorAssert.Close(yRef, y, Atol, Rtol, "y " + shape);
        TensorAssert.Close(lastRef, last, Atol, Rtol, "final state " + shape);
    }
}
