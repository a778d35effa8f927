using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.SelectiveScan;
using Bmojo.Runtime.Tests.Gpu;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Tests.Ops.SelectiveScan;

/// <summary>The fused backward kernel against float64 autograd through the reference, every input's gradient.</summary>
public sealed class FusedSelectiveScanBackwardTests
{
    private const double Atol = 5e-5, Rtol = 5e-4;

    [Theory]
    [MemberData(nameof(FusedSelectiveScanTests.Shapes), MemberType = typeof(FusedSelectiveScanTests))]
    public void MatchesReferenceAutogradOnCpu(long batch, long dInner, long length, long dState, bool options) =>
        Check(batch, dInner, length, dState, options, CPU);

    [CudaFact]
    public void MatchesReferenceAutogradOnCuda()
    {
        foreach (object[] row in FusedSelectiveScanTests.Shapes)
            Check((long)row[0], (long)row[1], (long)row[2], (long)row[3], (bool)row[4], CUDA);
        Check(2, 64, 300, 16, true, CUDA);
    }

    // The lane-per-state kernels (16 < N <= 32) have a forward sweep of their own inside the backward kernel, a
    // different computation of the checkpoints from the forward kernel's; for N <= 16 the host runs the forward kernel
    // itself when none are given, so there is nothing to compare there.
    public static TheoryData<long, long, long, long, bool> LaneShapes => new()
    {
        { 2, 3, 50, 32, false },
        { 1, 4, 37, 20, true },
        { 2, 2, 9, 17, true },
        { 1, 3, 1, 24, true },
    };

    [Theory]
    [MemberData(nameof(LaneShapes))]
    public void TheForwardKernelsCheckpointsGiveTheSameGradientsOnCpu(long batch, long dInner, long length, long dState, bool options) =>
        CheckCheckpoints(batch, dInner, length, dState, options, CPU);

    [CudaFact]
    public void TheForwardKernelsCheckpointsGiveTheSameGradientsOnCuda()
    {
        foreach (object[] row in LaneShapes)
            CheckCheckpoints((long)row[0], (long)row[1], (long)row[2], (long)row[3], (bool)row[4], CUDA);
    }

    [Fact]
    public void RefusesAGradientOfTheWrongShape()
    {
        ScanInputs s = ScanInputs.Random(1, 2, 3, 4, CPU);
        var error = Assert.Throws<ArgumentException>(() =>
            FusedSelectiveScanBackward.Run(s.U, s.Delta, s.A, s.B, s.C, null, null, null, false, zeros(1, 2, 4)));
        Assert.Contains("gradOutput must be (1, 2, 3)", error.Message);
    }

    /// <summary>Backward from the forward kernel's checkpoints = backward from its own forward sweep.</summary>
    private static void CheckCheckpoints(long batch, long dInner, long length, long dState, bool options, Device device)
    {
        Assert.False(FusedSelectiveScan.InRegisters(dState), $"N = {dState} runs the register kernels: no sweep of their own to compare");
        manual_seed(batch * 1000 + dInner * 100 + length + dState + 11);
        ScanInputs s = ScanInputs.Random(batch, dInner, length, dState, device);
        Tensor delta = options ? s.Delta : nn.functional.softplus(s.Delta);
        Tensor? D = options ? s.D : null, z = options ? s.Z : null, bias = options ? s.DeltaBias : null;
        Tensor gradOutput = randn(batch, dInner, length, device: device);
        (_, Tensor checkpoints) = FusedSelectiveScan.RunForTraining(s.U, delta, s.A, s.B, s.C, D, z, bias, options);
        SelectiveScanGradients given = FusedSelectiveScanBackward.Run(s.U, delta, s.A, s.B, s.C, D, z, bias, options, gradOutput, checkpoints);
        SelectiveScanGradients swept = FusedSelectiveScanBackward.Run(s.U, delta, s.A, s.B, s.C, D, z, bias, options, gradOutput);
        string shape = $"(B={batch}, d_inner={dInner}, L={length}, N={dState}, options={options}) on {device}";
        TensorAssert.Close(swept.U, given.U, 1e-6, 1e-5, "du " + shape);
        TensorAssert.Close(swept.Delta, given.Delta, 1e-6, 1e-5, "ddelta " + shape);
        TensorAssert.Close(swept.A, given.A, 1e-6, 1e-5, "dA " + shape);
        TensorAssert.Close(swept.B, given.B, 1e-6, 1e-5, "dB " + shape);
    }

    private static void Check(long batch, long dInner, long length, long dState, bool options, Device device)
    {
        manual_seed(batch * 1000 + dInner * 100 + length + dState + 7);
        ScanInputs s = ScanInputs.Random(batch, dInner, length, dState, device);
        Tensor delta = options ? s.Delta : nn.functional.softplus(s.Delta);        // positive steps when no softplus
        Tensor gradOutput = randn(batch, dInner, length, device: device);
        SelectiveScanGradients g = options
            ? FusedSelectiveScanBackward.Run(s.U, delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, true, gradOutput)
            : FusedSelectiveScanBackward.Run(s.U, delta, s.A, s.B, s.C, null, null, null, false, gradOutput);

        Tensor[] leaves = new[] { s.U, delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias }
            .Select(t => t.detach().to_type(ScalarType.Float64).cpu().requires_grad_(true)).ToArray();
        Tensor y = options
            ? SelectiveScanReference.Run(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6], leaves[7], deltaSoftplus: true)
            : SelectiveScanReference.Run(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4]);
        (y * gradOutput.to_type(ScalarType.Float64).cpu()).sum().backward();

        string shape = $"(B={batch}, d_inner={dInner}, L={length}, N={dState}, options={options}) on {device}";
        Tensor?[] fused = [g.U, g.Delta, g.A, g.B, g.C, g.D, g.Z, g.DeltaBias];
        string[] names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"];
        for (int i = 0; i < names.Length; i++)
        {
            if (!options && i >= 5)
            {
                Assert.Null(fused[i]);
                continue;
            }
            TensorAssert.Close(leaves[i].grad!, fused[i]!, Atol, Rtol, $"d{names[i]} {shape}");
        }
    }
}
