using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.SelectiveScan;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.SelectiveScan;

public sealed class SelectiveScanTests
{
    /// <summary>
    /// One sequence, one channel, N = 2, L = 2, worked out by hand.
    /// delta: raw (0, ln(e+1)) + bias ln(e-1), softplus: softplus(ln(e-1)) = ln(e) = 1, softplus(ln(e^2-1)) = 2.
    /// A = (-ln 2, -ln 4) so exp(delta A) = (1/2, 1/4) at t=0 and (1/4, 1/16) at t=1.
    /// u = (2, 4); B_0 = (1, 2), B_1 = (3, -1); C_0 = (1, 1), C_1 = (2, 1); D = 0.5.
    /// h_0 = 0 + 1 * B_0 * 2 = (2, 4);                          y_0 = 2 + 4 = 6, + D u_0 = 6 + 1 = 7.
    /// h_1 = (2/4, 4/16) + 2 * B_1 * 4 = (0.5 + 24, 0.25 - 8) = (24.5, -7.75);
    ///                                                          y_1 = 49 - 7.75 = 41.25, + D u_1 = 41.25 + 2 = 43.25.
    /// Gate z = (ln 3, 0): silu(ln 3) = ln 3 * 3/4, silu(0) = 0, so gated y = (7 * 0.75 ln 3, 0).
    /// </summary>
    [Fact]
    public void TwoStepsMatchTheHandComputation()
    {
        double e = Math.E;
        Tensor u = tensor(new[] { 2.0, 4.0 }).reshape(1, 1, 2);
        Tensor delta = tensor(new[] { 0.0, Math.Log(e + 1) }).reshape(1, 1, 2);
        Tensor bias = tensor(new[] { Math.Log(e - 1) });
        Tensor A = tensor(new[] { -Math.Log(2), -Math.Log(4) }).reshape(1, 2);
        Tensor B = tensor(new[] { 1.0, 3.0, 2.0, -1.0 }).reshape(1, 2, 2);   // (B, N, L): column t is B_t
        Tensor C = tensor(new[] { 1.0, 2.0, 1.0, 1.0 }).reshape(1, 2, 2);
        Tensor D = tensor(new[] { 0.5 });

        (Tensor y, Tensor last) = SelectiveScanReference.RunWithFinalState(u, delta, A, B, C, D, deltaBias: bias, deltaSoftplus: true);
        TensorAssert.Values(new[] { 7.0, 43.25 }, y, 1e-12, "y");
        TensorAssert.Values(new[] { 24.5, -7.75 }, last, 1e-12, "final state");

        Tensor z = tensor(new[] { Math.Log(3), 0.0 }).reshape(1, 1, 2);
        Tensor gated = SelectiveScanReference.Run(u, delta, A, B, C, D, z, bias, deltaSoftplus: true);
        TensorAssert.Values(new[] { 7 * 0.75 * Math.Log(3), 0.0 }, gated, 1e-12, "gated y");
    }

    [Fact]
    public void ComputesInFp32AndReturnsTheInputDtype()
    {
        manual_seed(1);
        var (u, delta, A, B, C) = RandomScan(2, 3, 4, 5, ScalarType.Float64);
        Tensor expected = SelectiveScanReference.Run(u, delta, A, B, C, deltaSoftplus: true);
        Tensor half = SelectiveScanReference.Run(u.to_type(ScalarType.BFloat16), delta.to_type(ScalarType.BFloat16), A, B, C, deltaSoftplus: true);
        Assert.Equal(ScalarType.BFloat16, half.dtype);
        // Only the inputs' and the output's rounding to bf16 (8 bits of mantissa) separate the two.
        TensorAssert.Close(expected, half, atol: 0.05, rtol: 0.02, what: "bf16 scan");
    }

    [Fact]
    public void InitialStateContinuesASplitSequence()
    {
        manual_seed(2);
        var (u, delta, A, B, C) = RandomScan(2, 3, 9, 4, ScalarType.Float64);
        Tensor D = randn(3, ScalarType.Float64);
        Tensor z = randn(2, 3, 9, ScalarType.Float64);
        (Tensor whole, Tensor wholeState) = SelectiveScanReference.RunWithFinalState(u, delta, A, B, C, D, z, deltaSoftplus: true);

        var first = ..5;
        var rest = 5..;
        (Tensor head, Tensor state) = SelectiveScanReference.RunWithFinalState(
            u[.., .., first], delta[.., .., first], A, B[.., .., first], C[.., .., first], D, z[.., .., first], deltaSoftplus: true);
        (Tensor tail, Tensor tailState) = SelectiveScanReference.RunWithFinalState(
            u[.., .., rest], delta[.., .., rest], A, B[.., .., rest], C[.., .., rest], D, z[.., .., rest], deltaSoftplus: true,
            initialState: state);
        TensorAssert.Close(whole, cat(new[] { head, tail }, 2), 1e-12, what: "split scan");
        TensorAssert.Close(wholeState, tailState, 1e-12, what: "final state");
    }

    [Fact]
    public void RejectsMismatchedShapesWithAClearMessage()
    {
        var (u, delta, A, B, C) = RandomScan(1, 3, 4, 2, ScalarType.Float32);
        var error = Assert.Throws<ArgumentException>(() => SelectiveScanReference.Run(u, delta, A, B.transpose(1, 2), C));
        Assert.Contains("B must be (B=1, N=2, L=4), got (1, 4, 2)", error.Message);
    }

    internal static (Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C) RandomScan(long batch, long dInner, long length, long dState, ScalarType dtype)
    {
        Tensor u = randn(batch, dInner, length, dtype);
        Tensor delta = randn(batch, dInner, length, dtype) * 0.5 - 1.0;
        Tensor A = -exp(randn(dInner, dState, dtype) * 0.5);
        Tensor B = randn(batch, dState, length, dtype);
        Tensor C = randn(batch, dState, length, dtype);
        return (u, delta, A, B, C);
    }
}
