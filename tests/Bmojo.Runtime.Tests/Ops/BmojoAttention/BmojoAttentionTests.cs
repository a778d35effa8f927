using Bmojo.Runtime.Ops.BmojoAttention;
using Bmojo.Runtime.Tests.Gpu;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.BmojoAttention;

/// <summary>The fused B'MOJO attention against the masked float64 reference, on ILGPU's CPU accelerator (always) and
/// on CUDA (when present); gradients of the autograd function against the reference's autograd.</summary>
public sealed class BmojoAttentionTests
{
    // fp32 dot products of up to 128 terms and sums over up to ~100 keys against float64.
    private const double Atol = 2e-5, Rtol = 2e-4;

    public static TheoryData<long, long, long, long, long, int, int, int, double> Shapes => new()
    {
        // batch, heads, kv heads, L, Dh, w, m_f, m_e, share of tokens selected
        { 1, 1, 1, 1, 4, 1, 1, 1, 1.0 },       // L = 1
        { 2, 4, 2, 37, 16, 5, 3, 4, 0.4 },     // odd L, grouped-query heads, every source
        { 1, 2, 1, 41, 64, 8, 8, 6, 0.3 },     // the usual head size, several key tiles per source
        { 2, 2, 2, 23, 8, 30, 4, 3, 0.5 },     // w >= L: window only
        { 1, 3, 3, 50, 32, 6, 0, 5, 0.5 },     // m_f = 0
        { 2, 2, 1, 45, 16, 4, 7, 0, 0.5 },     // m_e = 0 (B'MOJO-F)
        { 1, 2, 2, 33, 16, 3, 5, 8, 0.0 },     // nothing selected: empty eidetic memory
        { 1, 1, 1, 70, 5, 2, 3, 40, 1.0 },     // every token selected, odd head size, memory wider than a tile
        { 1, 2, 1, 29, 128, 0, 4, 3, 0.5 },    // w = 0 (fading and memory only), the largest head size
        { 1, 1, 1, 19, 96, 0, 0, 2, 0.3 },     // w = 0, m_f = 0: early queries see nothing (output 0)
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheMaskedReferenceOnCpu(long batch, long heads, long kvHeads, long length, long headDim,
                                               int window, int fadingTokens, int eideticCapacity, double density) =>
        CheckValues(batch, heads, kvHeads, length, headDim, window, fadingTokens, eideticCapacity, density, CPU);

    [CudaFact]
    public void MatchesTheMaskedReferenceOnCuda()
    {
        foreach (object[] row in Shapes)
            CheckValues((long)row[0], (long)row[1], (long)row[2], (long)row[3], (long)row[4], (int)row[5], (int)row[6],
                        (int)row[7], (double)row[8], CUDA);
        CheckValues(2, 4, 4, 1000, 64, 64, 64, 32, 0.2, CUDA);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(32)]
    public void EveryBlockSizeMatchesTheReference(int queriesPerBlock)
    {
        manual_seed(14);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 2, 1, 43, 16, 0.4, CPU);
        Tensor o = FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, 5, 4, 3, queriesPerBlock);
        TensorAssert.Close(s.Float64Cpu().Reference(5, 4, 3), o, Atol, Rtol, $"o with {queriesPerBlock} queries per block");
    }

    [Fact]
    public void GradientsMatchTheReferenceAutogradOnCpu() => CheckGradients(CPU);

    [CudaFact]
    public void GradientsMatchTheReferenceAutogradOnCuda() => CheckGradients(CUDA);

    [Fact]
    public void GradientsFlowWhenASourceIsUnused()
    {
        manual_seed(12);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 2, 1, 9, 4, 0.5, CPU, ScalarType.Float64);
        Tensor kf = s.Kf.detach().requires_grad_(true);
        BmojoAttentionFunction.Apply(s.Q, s.K, s.V, kf, s.Vf, s.Selected, window: 20, fadingTokens: 0, eideticCapacity: 0).sum().backward();
        Assert.Equal(0.0, kf.grad!.abs().sum().item<double>());
    }

    [Fact]
    public void ReturnsTheInputDtype()
    {
        manual_seed(13);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 2, 2, 17, 8, 0.5, CPU, ScalarType.BFloat16);
        Tensor o = FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, 4, 4, 4);
        Assert.Equal(ScalarType.BFloat16, o.dtype);
        TensorAssert.Close(s.Reference(4, 4, 4), o, atol: 1e-2, rtol: 2e-2, what: "bf16 o");
    }

    [Fact]
    public void RefusesAHeadLargerThanTheKernelHolds()
    {
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 1, 1, 3, 130, 0.5, CPU);
        var error = Assert.Throws<ArgumentException>(() => FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, 2, 2, 2));
        Assert.Contains("head size 130", error.Message);
    }

    [Fact]
    public void RefusesABlockOverTheSharedMemoryLimit()
    {
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 1, 1, 5, 128, 0.5, CPU);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, 2, 2, 2, queriesPerBlock: 32));
        Assert.Contains("32 queries per block with head size 128 need 49280 bytes", error.Message);
    }

    [Fact]
    public void RefusesMismatchedInputsWithClearErrors()
    {
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 4, 2, 6, 8, 0.5, CPU);
        var shape = Assert.Throws<ArgumentException>(() =>
            FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf.narrow(2, 0, 5), s.Vf, s.Selected, 2, 2, 2));
        Assert.Contains("kf must be", shape.Message);
        var flags = Assert.Throws<ArgumentException>(() =>
            FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected.to_type(ScalarType.Float32), 2, 2, 2));
        Assert.Contains("selected must be bool", flags.Message);
        var negative = Assert.Throws<ArgumentException>(() =>
            FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, -1, 2, 2));
        Assert.Contains("window (-1)", negative.Message);
    }

    [Fact]
    public void TheEideticTablesFollowTheFifoRule()
    {
        Tensor selected = tensor(new[] { true, false, true, true, false, true }).unsqueeze(0);   // (1, 6)
        EideticTables tables = FusedBmojoAttention.Tables(selected, window: 2);
        Assert.Equal(new[] { 0, 0, 1, 1, 2, 3 }, tables.Edge.data<int>().ToArray());             // S[t - 2]
        Assert.Equal(new[] { 0, 2, 3, 5, 0, 0 }, tables.Positions.data<int>().ToArray());        // ranks 0..3, then 0
        Assert.Equal(new[] { 4 }, tables.Count.data<int>().ToArray());
    }

    private static void CheckValues(long batch, long heads, long kvHeads, long length, long headDim,
                                    int window, int fadingTokens, int eideticCapacity, double density, Device device)
    {
        manual_seed(batch * 1000 + heads * 100 + length + headDim + window);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(batch, heads, kvHeads, length, headDim, density, device);
        Tensor o = FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, window, fadingTokens, eideticCapacity);
        Tensor expected = s.Float64Cpu().Reference(window, fadingTokens, eideticCapacity);
        string shape = $"(B={batch}, H={heads}, Hkv={kvHeads}, L={length}, Dh={headDim}, w={window}, m_f={fadingTokens}, "
                       + $"m_e={eideticCapacity}, s={density}) on {device}";
        Assert.Equal(device.type, o.device_type);
        TensorAssert.Close(expected, o.to(float64, CPU), Atol, Rtol, "o " + shape);
    }

    private static void CheckGradients(Device device)
    {
        manual_seed(11);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(2, 4, 2, 27, 16, 0.4, device, ScalarType.Float64);
        Tensor[] fused = Leaves(s), reference = Leaves(s);
        Tensor weights = randn(2, 4, 27, 16, float64, device);   // a loss that weighs every output differently
        Tensor o = BmojoAttentionFunction.Apply(fused[0], fused[1], fused[2], fused[3], fused[4], s.Selected, 4, 3, 5, blockSize: 8);
        Tensor oRef = s.Reference(reference[0], reference[1], reference[2], reference[3], reference[4], 4, 3, 5);
        TensorAssert.Close(oRef, o, Atol, Rtol, "o");
        (o * weights).sum().backward();
        (oRef * weights).sum().backward();
        string[] names = ["q", "k", "v", "kf", "vf"];
        for (int i = 0; i < names.Length; i++)
            TensorAssert.Close(reference[i].grad!, fused[i].grad!, 1e-10, 1e-8, "d" + names[i]);
    }

    private static Tensor[] Leaves(BmojoAttentionInputs s) =>
        new[] { s.Q, s.K, s.V, s.Kf, s.Vf }.Select(t => t.detach().clone().requires_grad_(true)).ToArray();
}
