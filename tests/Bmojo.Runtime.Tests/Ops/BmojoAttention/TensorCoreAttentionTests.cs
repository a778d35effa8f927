using Bmojo.Runtime.Ops.BmojoAttention;
using Bmojo.Runtime.Tests.Gpu;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Tests.Ops.BmojoAttention;

/// <summary>
/// The tensor-core B'MOJO attention (bf16 operands, fp32 softmax and accumulation) against the masked float64
/// reference computed from the same bf16 inputs, so what is left is the kernels' own rounding: P and dS rounded to
/// bf16 before their products, O rounded to bf16 at the end (each a relative 2^-9 at most).
/// </summary>
public sealed class TensorCoreAttentionTests
{
    // Relative norm error ‖got - ref‖ / ‖ref‖ (METHOD.md: bf16 operands land between 1e-3 and 1e-2) and an element
    // bound for the output: its own bf16 rounding (2^-9 relative) plus P's.
    private const double NormTolerance = 6e-3, Atol = 2e-2, Rtol = 1e-2;

    public static TheoryData<long, long, long, long, long, int, int, int, double> Shapes => new()
    {
        // batch, heads, kv heads, L, Dh, w, m_f, m_e, share of tokens selected
        { 1, 1, 1, 1, 64, 1, 1, 1, 1.0 },          // L = 1
        { 2, 4, 2, 37, 16, 5, 3, 4, 0.4 },         // odd L, grouped-query heads, a head padded to 64
        { 1, 1, 1, 260, 64, 130, 130, 70, 0.5 },   // several tiles per source, whole tiles (no mask) among them
        { 2, 2, 2, 23, 8, 30, 4, 3, 0.5 },         // w >= L: window only
        { 1, 2, 2, 90, 32, 6, 0, 5, 0.5 },         // m_f = 0
        { 1, 2, 1, 80, 64, 4, 7, 0, 0.5 },         // m_e = 0 (B'MOJO-F)
        { 1, 2, 2, 33, 48, 3, 5, 8, 0.0 },         // nothing selected: empty eidetic memory
        { 1, 1, 1, 140, 64, 2, 3, 90, 1.0 },       // every token selected, the memory wider than a tile
        { 1, 2, 1, 29, 64, 0, 4, 3, 0.5 },         // w = 0 (fading and memory only)
        { 1, 1, 1, 19, 40, 0, 0, 2, 0.3 },         // w = 0, m_f = 0: early queries see nothing (output 0)
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardMatchesTheMaskedReferenceOnCpu(long batch, long heads, long kvHeads, long length, long headDim,
                                                      int window, int fadingTokens, int eideticCapacity, double density) =>
        CheckForward(batch, heads, kvHeads, length, headDim, window, fadingTokens, eideticCapacity, density, CPU);

    [Theory]
    [InlineData(2, 4, 2, 37, 16, 5, 3, 4, 0.4)]
    [InlineData(1, 1, 1, 260, 64, 130, 130, 70, 0.5)]
    [InlineData(1, 2, 2, 33, 48, 3, 5, 8, 0.0)]
    [InlineData(1, 1, 1, 140, 64, 2, 3, 90, 1.0)]
    [InlineData(1, 1, 1, 19, 40, 0, 0, 2, 0.3)]
    public void GradientsMatchTheReferenceAutogradOnCpu(long batch, long heads, long kvHeads, long length, long headDim,
                                                        int window, int fadingTokens, int eideticCapacity, double density) =>
        CheckGradients(batch, heads, kvHeads, length, headDim, window, fadingTokens, eideticCapacity, density, CPU);

    [CudaFact]
    public void ForwardAndGradientsMatchTheReferenceOnCuda()
    {
        foreach (object[] row in Shapes)
        {
            CheckForward((long)row[0], (long)row[1], (long)row[2], (long)row[3], (long)row[4], (int)row[5], (int)row[6], (int)row[7], (double)row[8], CUDA);
            CheckGradients((long)row[0], (long)row[1], (long)row[2], (long)row[3], (long)row[4], (int)row[5], (int)row[6], (int)row[7], (double)row[8], CUDA);
        }
        CheckForward(2, 4, 2, 1000, 64, 64, 64, 32, 0.2, CUDA);
        CheckGradients(2, 4, 2, 1000, 64, 64, 64, 32, 0.2, CUDA);
        CheckGradients(1, 2, 2, 3000, 64, 512, 512, 256, 0.05, CUDA);    // sparse selection: long query ranges per rank tile
    }

    [Fact]
    public void TheLogSumExpIsTheSoftmaxDenominatorInBase2()
    {
        manual_seed(41);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 2, 1, 70, 64, 0.5, CPU, ScalarType.BFloat16);
        (int w, int mf, int me) = (0, 5, 3);                  // w = 0: the first queries see nothing
        (_, Tensor lse) = TensorCoreAttention.Forward(s.Q, s.K, s.V, s.Kf, s.Vf, FusedBmojoAttention.Tables(s.Selected, w), w, mf, me);
        BmojoAttentionInputs d = s.Float64Cpu();
        Tensor mask = BmojoMask.Build(d.Selected, w, mf, me);                                  // (B, 1, L, 2L)
        Tensor scores = d.Q.matmul(cat([d.K, d.Kf], 2).repeat_interleave(2, 1).transpose(-2, -1)) / Math.Sqrt(64);
        Tensor expected = scores.masked_fill(mask.logical_not(), double.NegativeInfinity).logsumexp(-1) / Math.Log(2);
        Tensor seen = mask.any(-1).expand_as(expected);
        Assert.True(lse.masked_select(seen.logical_not()).isinf().all().item<bool>(), "queries that see no key: +inf");
        TensorAssert.Close(expected.masked_select(seen), lse.masked_select(seen), 1e-4, 1e-5, "log2-sum-exp");
    }

    [Fact]
    public void FusedRunTakesTheTensorCoresForBf16()
    {
        manual_seed(42);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(1, 2, 2, 40, 32, 0.5, CPU, ScalarType.BFloat16);
        Tensor o = FusedBmojoAttention.Run(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, 4, 4, 4);
        (Tensor padded, _) = TensorCoreAttention.Forward(s.Q, s.K, s.V, s.Kf, s.Vf, FusedBmojoAttention.Tables(s.Selected, 4), 4, 4, 4);
        Assert.Equal(ScalarType.BFloat16, o.dtype);
        Assert.True(o.eq(padded.narrow(3, 0, 32)).all().item<bool>(), "the bf16 run is the tensor-core output");
        Assert.True(padded.narrow(3, 32, 32).eq(0).all().item<bool>(), "padded head dimensions stay 0");
    }

    private static void CheckForward(long batch, long heads, long kvHeads, long length, long headDim,
                                     int window, int fadingTokens, int eideticCapacity, double density, Device device)
    {
        manual_seed(batch * 1000 + heads * 100 + length + headDim + window);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(batch, heads, kvHeads, length, headDim, density, device, ScalarType.BFloat16);
        Tensor o = BmojoAttentionFunction.Apply(s.Q, s.K, s.V, s.Kf, s.Vf, s.Selected, window, fadingTokens, eideticCapacity);
        Tensor expected = s.Float64Cpu().Reference(window, fadingTokens, eideticCapacity);
        string shape = Describe(batch, heads, kvHeads, length, headDim, window, fadingTokens, eideticCapacity, density, device);
        Assert.Equal(ScalarType.BFloat16, o.dtype);
        Assert.Equal(device.type, o.device_type);
        TensorAssert.Close(expected, o, Atol, Rtol, "o " + shape);
        AssertRelative(expected, o, NormTolerance, "o " + shape);
    }

    private static void CheckGradients(long batch, long heads, long kvHeads, long length, long headDim,
                                       int window, int fadingTokens, int eideticCapacity, double density, Device device)
    {
        manual_seed(7 + batch * 1000 + heads * 100 + length + headDim + window);
        BmojoAttentionInputs s = BmojoAttentionInputs.Random(batch, heads, kvHeads, length, headDim, density, device, ScalarType.BFloat16);
        Tensor weights = randn(batch, heads, length, headDim, device: device).to_type(ScalarType.BFloat16);   // a loss weighing every output
        Tensor[] fused = Leaves(s, ScalarType.BFloat16, device), reference = Leaves(s, ScalarType.Float64, CPU);
        Tensor o = BmojoAttentionFunction.Apply(fused[0], fused[1], fused[2], fused[3], fused[4], s.Selected, window, fadingTokens, eideticCapacity);
        (o * weights).sum().backward();
        Tensor oRef = s.Float64Cpu().Reference(reference[0], reference[1], reference[2], reference[3], reference[4], window, fadingTokens, eideticCapacity);
        (oRef * weights.to(float64, CPU)).sum().backward();
        string shape = Describe(batch, heads, kvHeads, length, headDim, window, fadingTokens, eideticCapacity, density, device);
        string[] names = ["q", "k", "v", "kf", "vf"];
        for (int i = 0; i < names.Length; i++)
        {
            Assert.Equal(ScalarType.BFloat16, fused[i].grad!.dtype);
            // dS is rounded to bf16 before its products, dO and P too: a looser bound than the forward's, still bf16-sized.
            AssertRelative(reference[i].grad!, fused[i].grad!, 2 * NormTolerance, $"d{names[i]} {shape}", fallbackScale: weights);
        }
    }

    // ‖actual - expected‖ <= tolerance ‖expected‖; where the expected value is exactly 0 (a query whose one key takes all
    // the weight has dq = 0), relative to the scale of what flows in (the upstream gradient), since rounding O to bf16
    // leaves dS at rounding level rather than exactly 0.
    private static void AssertRelative(Tensor expected, Tensor actual, double tolerance, string what, Tensor? fallbackScale = null)
    {
        Tensor e = expected.detach().to(float64, CPU), a = actual.detach().to(float64, CPU);
        Assert.True(isfinite(a).all().item<bool>(), $"{what}: not all finite");
        double scale = e.norm().item<double>(), error = (a - e).norm().item<double>();
        if (scale == 0 && fallbackScale is not null) scale = fallbackScale.to(float64, CPU).norm().item<double>();
        if (scale == 0) Assert.True(error == 0, $"{what}: expected all zeros, got norm {error:G3}");
        else Assert.True(error / scale <= tolerance, $"{what}: ‖got - ref‖ / ‖scale‖ = {error / scale:G3} > {tolerance:G3}");
    }

    private static Tensor[] Leaves(BmojoAttentionInputs s, ScalarType dtype, Device device) =>
        new[] { s.Q, s.K, s.V, s.Kf, s.Vf }.Select(t => t.detach().to(dtype, device).requires_grad_(true)).ToArray();

    private static string Describe(long batch, long heads, long kvHeads, long length, long headDim, int window,
                                   int fadingTokens, int eideticCapacity, double density, Device device) =>
        $"(B={batch}, H={heads}, Hkv={kvHeads}, L={length}, Dh={headDim}, w={window}, m_f={fadingTokens}, m_e={eideticCapacity}, s={density}) on {device}";
}
