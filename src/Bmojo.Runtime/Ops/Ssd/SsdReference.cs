using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.Ssd;

/// <summary>
/// The SSD recurrence token by token, the definition the chunked algorithm is tested against and the step of
/// recurrent inference. Per head h (scalar A_h &lt; 0), with dt already positive (softplus applied):
/// <c>h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T</c> (a P x N state), <c>y_t = h_t C_t + D x_t</c>.
/// </summary>
/// <remarks>Shapes (mamba_ssm's <c>ssd_minimal</c>): x <c>(B, L, H, P)</c>, dt <c>(B, L, H)</c>, A <c>(H)</c>,
/// B and C <c>(B, L, G, N)</c> (head h reads group h / (H / G)), D <c>(H)</c> or null, state <c>(B, H, P, N)</c>.
/// Everything in the dtype of x; the caller picks fp32 or fp64.</remarks>
public static class SsdReference
{
    /// <summary>The whole sequence, one token at a time: y <c>(B, L, H, P)</c> and the final state <c>(B, H, P, N)</c>.</summary>
    public static (Tensor Y, Tensor FinalState) Run(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor? D,
                                                    Tensor? initialState = null)
    {
        SsdShapes.Check(x, dt, A, B, C, D, initialState);
        using var scope = NewDisposeScope();
        long length = x.shape[1];
        Tensor state = initialState ?? zeros(x.shape[0], x.shape[2], x.shape[3], B.shape[3], x.dtype, x.device);
        var ys = new Tensor[length];
        for (long t = 0; t < length; t++)
        {
            int i = (int)t;
            (ys[t], state) = Step(x[.., i], dt[.., i], A, B[.., i], C[.., i], D, state);
        }
        Tensor y = stack(ys, 1);
        return (y.MoveToOuterDisposeScope(), state.MoveToOuterDisposeScope());
    }

    /// <summary>One token: x <c>(B, H, P)</c>, dt <c>(B, H)</c>, B and C <c>(B, G, N)</c>, state <c>(B, H, P, N)</c>;
    /// returns y <c>(B, H, P)</c> and the next state.</summary>
    public static (Tensor Y, Tensor State) Step(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor state)
    {
        using var scope = NewDisposeScope();
        long repeats = x.shape[1] / B.shape[1];
        Tensor bh = B.repeat_interleave(repeats, 1), ch = C.repeat_interleave(repeats, 1);      // (B, H, N)
        Tensor decay = exp(dt * A).unsqueeze(-1).unsqueeze(-1);                                  // (B, H, 1, 1)
        Tensor input = (dt.unsqueeze(-1) * x).unsqueeze(-1) * bh.unsqueeze(2);                   // (B, H, P, N)
        Tensor next = decay * state + input;
        Tensor y = (next * ch.unsqueeze(2)).sum(-1);                                             // (B, H, P)
        if (D is not null) y = y + D.unsqueeze(-1) * x;
        return (y.MoveToOuterDisposeScope(), next.MoveToOuterDisposeScope());
    }
}

/// <summary>The shape check both SSD paths make of their arguments.</summary>
internal static class SsdShapes
{
    public static void Check(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? state)
    {
        if (x.dim() != 4) throw new ArgumentException($"SSD: x must be (B, L, H, P), got ({Shape(x)})", nameof(x));
        long batch = x.shape[0], length = x.shape[1], heads = x.shape[2], p = x.shape[3];
        if (dt.dim() != 3 || dt.shape[0] != batch || dt.shape[1] != length || dt.shape[2] != heads)
            throw new ArgumentException($"SSD: dt must be ({batch}, {length}, {heads}), got ({Shape(dt)})", nameof(dt));
        if (A.dim() != 1 || A.shape[0] != heads)
            throw new ArgumentException($"SSD: A must be ({heads}), got ({Shape(A)})", nameof(A));
        if (B.dim() != 4 || B.shape[0] != batch || B.shape[1] != length || heads % B.shape[2] != 0)
            throw new ArgumentException($"SSD: B must be ({batch}, {length}, G, N) with G dividing {heads}, got ({Shape(B)})", nameof(B));
        if (!C.shape.SequenceEqual(B.shape))
            throw new ArgumentException($"SSD: C must have B's shape ({Shape(B)}), got ({Shape(C)})", nameof(C));
        if (D is not null && (D.dim() != 1 || D.shape[0] != heads))
            throw new ArgumentException($"SSD: D must be ({heads}), got ({Shape(D)})", nameof(D));
        if (state is not null && !state.shape.SequenceEqual(new[] { batch, heads, p, B.shape[3] }))
            throw new ArgumentException($"SSD: the state must be ({batch}, {heads}, {p}, {B.shape[3]}), got ({Shape(state)})", nameof(state));
    }

    private static string Shape(Tensor t) => string.Join(", ", t.shape);
}
