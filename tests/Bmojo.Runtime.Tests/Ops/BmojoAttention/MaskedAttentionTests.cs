using Bmojo.Runtime.Ops.BmojoAttention;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.BmojoAttention;

public sealed class MaskedAttentionTests
{
    /// <summary>
    /// Dh = 1, scale 1, q = (1, 1, 1), keys (0, ln 3), values (4, 8).
    /// Row 0 sees key 0 only: output 4. Row 1 sees both: scores (0, ln 3), softmax (1/4, 3/4), output 1 + 6 = 7.
    /// Row 2 sees nothing: output 0.
    /// </summary>
    [Fact]
    public void MatchesTheHandComputationAndZeroesFullyMaskedRows()
    {
        Tensor q = ones(1, 1, 3, 1, ScalarType.Float64);
        Tensor k = tensor(new[] { 0.0, Math.Log(3) }).reshape(1, 1, 2, 1);
        Tensor v = tensor(new[] { 4.0, 8.0 }).reshape(1, 1, 2, 1);
        Tensor mask = tensor(new[] { true, false, true, true, false, false }).reshape(1, 1, 3, 2);
        TensorAssert.Values(new[] { 4.0, 7.0, 0.0 }, MaskedAttention.Run(q, k, v, mask, scale: 1.0), 1e-12, "attention");
    }

    [Fact]
    public void FullyMaskedRowsHaveFiniteZeroGradients()
    {
        manual_seed(3);
        Tensor q = randn(1, 2, 3, 4, ScalarType.Float64).requires_grad_();
        Tensor k = randn(1, 2, 3, 4, ScalarType.Float64).requires_grad_();
        Tensor v = randn(1, 2, 3, 4, ScalarType.Float64).requires_grad_();
        Tensor mask = tril(ones(3, 3, ScalarType.Bool)).reshape(1, 1, 3, 3).clone();
        mask[.., .., 1] = tensor(false);
        MaskedAttention.Run(q, k, v, mask).sum().backward();
        Assert.False(q.grad!.isnan().any().item<bool>());
        TensorAssert.Close(zeros(1, 2, 4, ScalarType.Float64), q.grad![.., .., 1], 0.0, what: "grad of a masked row");
    }

    [Fact]
    public void EqualsScaledDotProductAttentionWithGroupedHeads()
    {
        manual_seed(4);
        Tensor q = randn(2, 4, 6, 8);
        Tensor k = randn(2, 2, 6, 8);
        Tensor v = randn(2, 2, 6, 8);
        Tensor causal = tril(ones(6, 6, ScalarType.Bool)).reshape(1, 1, 6, 6);
        Tensor expected = nn.functional.scaled_dot_product_attention(
            q, k.repeat_interleave(2, dim: 1), v.repeat_interleave(2, dim: 1), is_casual: true);
        TensorAssert.Close(expected, MaskedAttention.Run(q, k, v, causal), 1e-5, what: "GQA causal attention");
    }

    [Fact]
    public void RejectsAMaskOfTheWrongShape()
    {
        Tensor q = randn(1, 2, 3, 4);
        var error = Assert.Throws<ArgumentException>(() => MaskedAttention.Run(q, q, q, ones(1, 1, 3, 2, ScalarType.Bool)));
        Assert.Contains("mask must be (B or 1, H or 1, Lq=3, Lk=3), got (1, 1, 3, 2)", error.Message);
    }
}
