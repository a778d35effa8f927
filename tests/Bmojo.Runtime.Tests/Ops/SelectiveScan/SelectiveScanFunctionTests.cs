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
