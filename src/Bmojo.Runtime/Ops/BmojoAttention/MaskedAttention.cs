using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>
/// Exact attention with an explicit boolean mask: <c>softmax(q k^T * scale + mask) v</c>, computed in fp32 (float64
/// stays float64), result in q's dtype. A query whose row of the mask is all false gets a zero output (and zero
/// gradient). Grouped-query attention: k and v may have fewer heads than q (a divisor); query head h reads key head
/// <c>h / (H / Hkv)</c>. The oracle of every attention path (attention, sliding window, B'MOJO).
/// </summary>
public static class MaskedAttention
{
    /// <param name="q">Queries <c>(B, H, Lq, Dh)</c>.</param>
    /// <param name="k">Keys <c>(B, Hkv, Lk, Dh)</c>.</param>
    /// <param name="v">Values <c>(B, Hkv, Lk, Dv)</c>.</param>
    /// <param name="mask">True where a query may attend to a key: <c>(B or 1, H or 1, Lq, Lk)</c>.</param>
    /// <param name="scale">Score scale; default <c>1/sqrt(Dh)</c>.</param>
    /// <returns><c>(B, H, Lq, Dv)</c> in q's dtype.</returns>
    public static Tensor Run(Tensor q, Tensor k, Tensor v, Tensor mask, double? scale = null)
    {
        Check(q, k, v, mask);
        using var scope = NewDisposeScope();
        ScalarType compute = q.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        long heads = q.shape[1], group = heads / k.shape[1];
        Tensor kf = k.to_type(compute).repeat_interleave(group, dim: 1);                     // (B, H, Lk, Dh)
        Tensor vf = v.to_type(compute).repeat_interleave(group, dim: 1);                     // (B, H, Lk, Dv)
        double s = scale ?? 1.0 / Math.Sqrt(q.shape[3]);

        Tensor scores = matmul(q.to_type(compute), kf.transpose(-2, -1)) * s;              // (B, H, Lq, Lk)
        Tensor allowed = mask.to_type(ScalarType.Bool);
        Tensor anyAllowed = allowed.any(-1, keepdim: true);                                  // (B|1, H|1, Lq, 1)
        // Rows with no allowed key get finite scores (so no NaN reaches softmax or its gradient), then weight 0.
        scores = scores.masked_fill(allowed.logical_not(), double.NegativeInfinity)
                       .masked_fill(anyAllowed.logical_not(), 0.0);
        Tensor weights = scores.softmax(-1) * anyAllowed.to_type(compute);
        return matmul(weights, vf).to_type(q.dtype).MoveToOuterDisposeScope();             // (B, H, Lq, Dv)
    }

    private static void Check(Tensor q, Tensor k, Tensor v, Tensor mask)
    {
        static string Shape(Tensor t) => "(" + string.Join(", ", t.shape) + ")";
        if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
            throw new ArgumentException($"masked attention: q, k, v must be 4-d (B, H, L, Dh), got q {Shape(q)}, k {Shape(k)}, v {Shape(v)}");
        if (k.shape[0] != q.shape[0] || v.shape[0] != q.shape[0] || k.shape[3] != q.shape[3]
            || v.shape[1] != k.shape[1] || v.shape[2] != k.shape[2] || q.shape[1] % k.shape[1] != 0)
            throw new ArgumentException($"masked attention: incompatible q {Shape(q)}, k {Shape(k)}, v {Shape(v)} "
                                        + "(same batch, same Dh for q and k, k and v alike, key heads dividing query heads)");
        bool maskFits = mask.dim() == 4 && (mask.shape[0] == 1 || mask.shape[0] == q.shape[0])
                        && (mask.shape[1] == 1 || mask.shape[1] == q.shape[1])
                        && mask.shape[2] == q.shape[2] && mask.shape[3] == k.shape[2];
        if (!maskFits)
            throw new ArgumentException($"masked attention: mask must be (B or 1, H or 1, Lq={q.shape[2]}, Lk={k.shape[2]}), got {Shape(mask)}");
    }
}
