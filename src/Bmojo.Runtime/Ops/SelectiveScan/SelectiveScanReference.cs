using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// The exact sequential selective scan, same semantics and layout as state-spaces/mamba <c>selective_scan_ref</c>:
/// <c>h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t</c>, <c>y_t = &lt;h_t, C_t&gt; + D u_t</c>, <c>y_t *= silu(z_t)</c>.
/// Computed in fp32 (float64 stays float64), result in <c>u</c>'s dtype; differentiable. The oracle of every fast scan.
/// </summary>
public static class SelectiveScanReference
{
    /// <param name="u">Input <c>(B, d_inner, L)</c>.</param>
    /// <param name="delta">Step sizes <c>(B, d_inner, L)</c>, before the optional bias and softplus.</param>
    /// <param name="A">State matrix (diagonal per channel) <c>(d_inner, N)</c>.</param>
    /// <param name="B">Input-dependent input matrix <c>(B, N, L)</c>.</param>
    /// <param name="C">Input-dependent output matrix <c>(B, N, L)</c>.</param>
    /// <param name="D">Skip connection <c>(d_inner)</c>.</param>
    /// <param name="z">Gate <c>(B, d_inner, L)</c>: the output is multiplied by <c>silu(z)</c>.</param>
    /// <param name="deltaBias">Added to <paramref name="delta"/> <c>(d_inner)</c>.</param>
    /// <param name="deltaSoftplus">Apply softplus to <c>delta + deltaBias</c>.</param>
    /// <param name="initialState">The state before the first step <c>(B, d_inner, N)</c>; zero when null.</param>
    /// <returns><c>y</c> <c>(B, d_inner, L)</c> in <paramref name="u"/>'s dtype.</returns>
    public static Tensor Run(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D = null, Tensor? z = null,
                             Tensor? deltaBias = null, bool deltaSoftplus = false, Tensor? initialState = null)
    {
        (Tensor output, Tensor finalState) = RunWithFinalState(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState);
        finalState.Dispose();
        return output;
    }

    /// <summary>As <see cref="Run"/>, also returning the state after the last step <c>(B, d_inner, N)</c> in the
    /// compute dtype (fp32, or float64 for float64 inputs).</summary>
    public static (Tensor Output, Tensor FinalState) RunWithFinalState(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D = null, Tensor? z = null,
        Tensor? deltaBias = null, bool deltaSoftplus = false, Tensor? initialState = null)
    {
        ScanShapes.Check(u, delta, A, B, C, D, z, deltaBias, initialState);
        using var scope = NewDisposeScope();
        ScalarType compute = ScanShapes.ComputeType(u.dtype);
        long batch = u.shape[0], dInner = u.shape[1], length = u.shape[2], dState = A.shape[1];

        Tensor uf = u.to_type(compute);
        Tensor dt = ScanShapes.StepSizes(delta, deltaBias, deltaSoftplus, compute);                // (B, d_inner, L)
        Tensor dA = exp(dt.unsqueeze(-1) * A.to_type(compute).unsqueeze(1));                       // (B, d_inner, L, N)
        Tensor dBu = (dt * uf).unsqueeze(-1) * B.to_type(compute).transpose(1, 2).unsqueeze(1);    // (B, d_inner, L, N)
        Tensor Cf = C.to_type(compute);                                                            // (B, N, L)

        Tensor h = initialState?.to_type(compute) ?? zeros(batch, dInner, dState, compute, u.device);
        var ys = new Tensor[length];
        for (long t = 0; t < length; t++)
        {
            h = dA[.., .., t] * h + dBu[.., .., t];                                                // (B, d_inner, N)
            ys[t] = (h * Cf[.., .., t].unsqueeze(1)).sum(-1);                                       // (B, d_inner)
        }
        Tensor y = stack(ys, 2);                                                                   // (B, d_inner, L)
        if (D is not null) y = y + uf * D.to_type(compute).unsqueeze(-1);
        if (z is not null) y = y * nn.functional.silu(z.to_type(compute));
        return (y.to_type(u.dtype).MoveToOuterDisposeScope(), h.MoveToOuterDisposeScope());
    }
}
