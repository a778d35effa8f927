using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.SelectiveScan;
using Bmojo.Runtime.Tests.Gpu;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.SelectiveScan;

/// <summary>The autograd function: fused values, and the reference's gradients for every tensor input.</summary>
public sealed class SelectiveScanFunctionTests
{
    [Fact]
    public void ValuesAndGradientsMatchTheReferenceOnCpu() => Check(CPU);

    [CudaFact]
    public void ValuesAndGradientsMatchTheReferenceOnCuda() => Check(CUDA);

    [Fact]
    public void OptionalInputsMayBeAbsent()
    {
        manual_seed(8);
        ScanInputs s = ScanInputs.Random(1, 3, 7, 4, CPU);
        Tensor u = s.U.requires_grad_(true);
        Tensor delta = nn.functional.softplus(s.Delta);       // positive steps: no softplus inside
        Tensor y = SelectiveScanFunction.Apply(u, delta, s.A, s.B, s.C);
        y.sum().backward();
        Tensor uRef = s.U.detach().requires_grad_(true);
        SelectiveScanReference.Run(uRef, delta, s.A, s.B, s.C).sum().backward();
        TensorAssert.Close(uRef.grad!, u.grad!, 1e-5, 1e-4, "du");
    }

    [Fact]
    public void Bf16InputsTrainThroughTheBf16KernelsOnCpu() => CheckBf16(CPU);

    [CudaFact]
    public void Bf16InputsTrainThroughTheBf16KernelsOnCuda() => CheckBf16(CUDA);

    /// <summary>A bf16 step (u, delta, z, B, C bf16; A, D, delta_bias fp32, as MambaMixer passes them): y and every
    /// gradient come back in its input's dtype, equal to the fp32 function's on the same values rounded once (dB, dC
    /// are sums by atomics, so their rounding may land one bf16 step apart).</summary>
    private static void CheckBf16(Device device)
    {
        manual_seed(9);
        ScanInputs s = ScanInputs.Random(2, 70, 45, 16, device);
        bool[] perToken = [true, true, false, true, true, false, true, false];
        Tensor[] inputs = [s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias];
        Tensor[] half = inputs.Select((t, i) => (perToken[i] ? t.to_type(ScalarType.BFloat16) : t).detach().requires_grad_(true)).ToArray();
        Tensor[] full = half.Select(t => t.detach().to_type(ScalarType.Float32).requires_grad_(true)).ToArray();
        Tensor weights = randn(2, 70, 45, device: device).to_type(ScalarType.BFloat16);

        Tensor y = SelectiveScanFunction.Apply(half[0], half[1], half[2], half[3], half[4], half[5], half[6], half[7], deltaSoftplus: true);
        Tensor y32 = SelectiveScanFunction.Apply(full[0], full[1], full[2], full[3], full[4], full[5], full[6], full[7], deltaSoftplus: true);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        TensorAssert.Close(y32.to_type(ScalarType.BFloat16), y, 0, 0, "y");
        (y * weights).sum().backward();
        (y32 * weights.to_type(ScalarType.Float32)).sum().backward();

        string[] names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"];
        for (int i = 0; i < names.Length; i++)
        {
            Assert.Equal(half[i].dtype, half[i].grad!.dtype);
            bool atomic = names[i] is "B" or "C";
            TensorAssert.Close(full[i].grad!.to_type(half[i].dtype), half[i].grad!, 0, atomic ? 1.0 / 128 : 0, "d" + names[i]);
        }
    }

    private static void Check(Device device)
    {
        manual_seed(7);
        ScanInputs s = ScanInputs.Random(2, 3, 19, 5, device);
        Tensor[] fused = Leaves(s), reference = Leaves(s);
        Tensor weights = randn(2, 3, 19, device: device);   // a loss that weighs every output differently

        Tensor y = SelectiveScanFunction.Apply(fused[0], fused[1], fused[2], fused[3], fused[4], fused[5], fused[6], fused[7], deltaSoftplus: true);
        Tensor yRef = SelectiveScanReference.Run(reference[0], reference[1], reference[2], reference[3], reference[4], reference[5], reference[6], reference[7], deltaSoftplus: true);
        TensorAssert.Close(yRef, y, 2e-5, 2e-4, "y");
        (y * weights).sum().backward();
        (yRef * weights).sum().backward();

        string[] names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"];
        for (int i = 0; i < names.Length; i++)
            TensorAssert.Close(reference[i].grad!, fused[i].grad!, 1e-5, 1e-4, "d" + names[i]);
    }

    private static Tensor[] Leaves(ScanInputs s) =>
        new[] { s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias }.Select(t => t.detach().clone().requires_grad_(true)).ToArray();
}
