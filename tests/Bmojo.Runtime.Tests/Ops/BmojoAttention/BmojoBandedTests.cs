using Bmojo.Runtime.Ops.BmojoAttention;
using Bmojo.Runtime.Tests.Gpu;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.BmojoAttention;

/// <summary>The banded path (query blocks as the batch of one torch SDPA call over gathered keys) against the masked
/// float64 reference: values on the shapes of <see cref="BmojoAttentionTests"/> at several block sizes, gradients of
/// every input, bf16, and on CUDA (when present) torch's fused kernels.</summary>
public sealed class BmojoBandedTests
{
    private const double Atol = 2e-5, Rtol = 2e-4;

    public static TheoryData<long, long, long, long, long, int, int, int, double> Shapes => BmojoAttentionTests.Shapes;

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheMaskedReferenceOnCpu(long batch, long heads, long kvHeads, long length, long headDim,
                                               int window, int fadingTokens, int eideticCapacity, double density)
    {
        foreach (int block in new[] { 1, 7, 16, 64 })
            CheckValues(batch, heads, kvHeads, length, headDim, window, fadingTokens, eideticCapacity, density, block, CPU);
    }

    [CudaFact]
    public void MatchesTheMaskedReferenceOnCuda()
    {
        foreach (object[] row in Shapes)
            CheckValues((long)row[0], (long)row[1], (long)row[2], (long)row[3], (long)row[4], (int)row[5], (int)row[6],
                        (int)row[7], (double)row[8], 16, CUDA);
        CheckValues(2, 4, 4, 1000, 64, 64, 64, 32, 0.2, 64, CUDA);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(8)]
    [InlineData(64)]
    public void GradientsMatchTheReferenceAutograd(int block) => CheckGradients(CPU, ScalarType.Float64, block, 1e-10, 1e-8);

    [CudaFact]
    public void GradientsMatchTheReferenceAutogradOnCudaInFp32() => CheckGradients(CUDA, ScalarType.Float32, 8, 1e-4, 1e-3);

    // m_f = 0: every kf slot is masked out, so kf's gradient is exactly zero; the keys that are read get theirs.
    [Fact]
    public void AnUnusedSourceGetsZeroGradient()
    {
        manual_seed(12);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 2, 1, 9, 4, 0.5, CPU, ScalarType.Float64);
        Tensor kf = s.Kf.detach().requires_grad_(true), k = s.K.detach().requires_grad_(true);
        BmojoBanded.Run(s.Q, k, s.V, kf, s.Vf, FusedBmojoAttention.Tables(s.Selected, 20), 20, 0, 0, 4).sum().backward();
        Assert.Equal(0.0, kf.grad!.abs().sum().item<double>());
        Assert.True(k.grad!.abs().sum().item<double>() > 0, "k got no gradient");
    }

    [Fact]
    public void KeepsBf16Inputs()
    {
        manual_seed(13);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 2, 2, 17, 8, 0.5, CPU, ScalarType.BFloat16);
        Tensor o = BmojoBanded.Run(s.Q, s.K, s.V, s.Kf, s.Vf, FusedBmojoAttention.Tables(s.Selected, 4), 4, 4, 4, 8);
        Assert.Equal(ScalarType.BFloat16, o.dtype);
        TensorAssert.Close(s.Float64Cpu().Reference(4, 4, 4), o.to(float64), atol: 2e-2, rtol: 2e-2, what: "bf16 o");
    }

    [Fact]
    public void RefusesABlockSizeBelowOne()
    {
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 1, 1, 3, 4, 0.5, CPU);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            BmojoBanded.Run(s.Q, s.K, s.V, s.Kf, s.Vf, FusedBmojoAttention.Tables(s.Selected, 2), 2, 2, 2, 0));
        Assert.Contains("block size must be >= 1", error.Message);
    }

    private static void CheckValues(long batch, long heads, long kvHeads, long length, long headDim, int window,
                                    int fadingTokens, int eideticCapacity, double density, int block, Device device)
    {
        manual_seed(batch * 1000 + heads * 100 + length + headDim + window);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(batch, heads, kvHeads, length, headDim, density, device);
        Tensor o = BmojoBanded.Run(s.Q, s.K, s.V, s.Kf, s.Vf, FusedBmojoAttention.Tables(s.Selected, window),
                                   window, fadingTokens, eideticCapacity, block);
        Tensor expected = s.Float64Cpu().Reference(window, fadingTokens, eideticCapacity);
        string shape = $"(B={batch}, H={heads}, Hkv={kvHeads}, L={length}, Dh={headDim}, w={window}, m_f={fadingTokens}, "
                       + $"m_e={eideticCapacity}, s={density}, C={block}) on {device}";
        Assert.Equal(device.type, o.device_type);
        TensorAssert.Close(expected, o.to(float64, CPU), Atol, Rtol, "o " + shape);
    }

    private static void CheckGradients(Device device, ScalarType dtype, int block, double atol, double rtol)
    {
        manual_seed(11);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(2, 4, 2, 27, 16, 0.4, device, dtype);
        Tensor[] banded = Leaves(s), reference = Leaves(s);
        Tensor weights = randn(2, 4, 27, 16, dtype, device);   // a loss that weighs every output differently
        Tensor o = BmojoBanded.Run(banded[0], banded[1], banded[2], banded[3], banded[4], FusedBmojoAttention.Tables(s.Selected, 4),
                                   4, 3, 5, block);
        Tensor oRef = s.Reference(reference[0], reference[1], reference[2], reference[3], reference[4], 4, 3, 5);
        TensorAssert.Close(oRef, o, atol, rtol, "o");
        (o * weights).sum().backward();
        (oRef * weights).sum().backward();
        string[] names = ["q", "k", "v", "kf", "vf"];
        for (int i = 0; i < names.Length; i++)
            TensorAssert.Close(reference[i].grad!, banded[i].grad!, atol, rtol, $"d{names[i]} (block {block})");
    }

    private static Tensor[] Leaves(BmojoAttentionInputs s) =>
        new[] { s.Q, s.K, s.V, s.Kf, s.Vf }.Select(t => t.detach().clone().requires_grad_(true)).ToArray();
}
