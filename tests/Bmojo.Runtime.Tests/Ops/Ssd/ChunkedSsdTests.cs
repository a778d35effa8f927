using Bmojo.Runtime.Ops.Ssd;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.Ssd;

/// <summary>The chunked SSD algorithm is the sequential recurrence: outputs, final state and gradients, in float64.</summary>
public sealed class ChunkedSsdTests
{
    /// <summary>Random SSD inputs of a batch of 2, 4 heads of P = 3, state N = 5, as the mixer makes them:
    /// dt = softplus(.) &gt; 0, A = -exp(.) &lt; 0. Leaves that require grad.</summary>
    private sealed record Inputs(Tensor X, Tensor Dt, Tensor A, Tensor B, Tensor C, Tensor D, Tensor H0)
    {
        public static Inputs Random(long length, long groups = 2, int seed = 0)
        {
            torch.manual_seed(seed);
            const long batch = 2, heads = 4, p = 3, n = 5;
            var f64 = ScalarType.Float64;
            return new Inputs(
                randn(batch, length, heads, p, f64).requires_grad_(),
                nn.functional.softplus(randn(batch, length, heads, f64) - 1).detach().requires_grad_(),
                (-exp(randn(heads, f64) * 0.5)).detach().requires_grad_(),
                randn(batch, length, groups, n, f64).requires_grad_(),
                randn(batch, length, groups, n, f64).requires_grad_(),
                randn(heads, f64).requires_grad_(),
                randn(batch, heads, p, n, f64).requires_grad_());
        }

        public IEnumerable<(string, Tensor)> Leaves =>
            new[] { ("x", X), ("dt", Dt), ("A", A), ("B", B), ("C", C), ("D", D), ("h0", H0) };
    }

    [Theory]
    [InlineData(1, 1)]      // one token
    [InlineData(16, 1)]     // every chunk one token
    [InlineData(16, 4)]     // 4 whole chunks
    [InlineData(17, 4)]     // L not a multiple of the chunk: padded at the end
    [InlineData(13, 5)]
    [InlineData(16, 16)]    // one chunk: the quadratic form alone
    [InlineData(12, 64)]    // a chunk longer than the sequence
    public void Chunked_equals_the_sequential_reference_in_values_and_final_state(int length, int chunk)
    {
        using var scope = NewDisposeScope();
        Inputs i = Inputs.Random(length);
        (Tensor yRef, Tensor hRef) = SsdReference.Run(i.X, i.Dt, i.A, i.B, i.C, i.D, i.H0);
        (Tensor y, Tensor h) = ChunkedSsd.Run(i.X, i.Dt, i.A, i.B, i.C, i.D, chunk, i.H0);
        TensorAssert.Close(yRef, y, 1e-12, 1e-10, $"y (L {length}, chunk {chunk})");
        TensorAssert.Close(hRef, h, 1e-12, 1e-10, $"final state (L {length}, chunk {chunk})");
    }

    [Fact]
    public void Without_an_initial_state_both_start_from_zero_and_a_single_group_is_shared_by_every_head()
    {
        using var scope = NewDisposeScope();
        Inputs i = Inputs.Random(11, groups: 1, seed: 3);
        (Tensor yRef, Tensor hRef) = SsdReference.Run(i.X, i.Dt, i.A, i.B, i.C, null);
        (Tensor y, Tensor h) = ChunkedSsd.Run(i.X, i.Dt, i.A, i.B, i.C, null, 4);
        TensorAssert.Close(yRef, y, 1e-12, 1e-10, "y");
        TensorAssert.Close(hRef, h, 1e-12, 1e-10, "final state");
        // Zero state, no D: the first output is dt_0 (C_0 . B_0) x_0 per head.
        Tensor first = i.Dt[.., 0].unsqueeze(-1) * (i.C[.., 0, 0] * i.B[.., 0, 0]).sum(-1).unsqueeze(-1).unsqueeze(-1) * i.X[.., 0];
        TensorAssert.Close(first, y[.., 0], 1e-12, 1e-10, "y_0");
    }

    [Theory]
    [InlineData(16, 4)]
    [InlineData(10, 3)]
    public void Chunked_gradients_equal_the_sequential_references(int length, int chunk)
    {
        using var scope = NewDisposeScope();
        Inputs i = Inputs.Random(length, seed: 1);
        Tensor wy = randn(2, length, 4, 3, ScalarType.Float64), wh = randn(2, 4, 3, 5, ScalarType.Float64);
        Tensor[] Gradients(Func<(Tensor, Tensor)> run)
        {
            foreach (var (_, t) in i.Leaves) t.grad?.zero_();
            (Tensor y, Tensor h) = run();
            ((y * wy).sum() + (h * wh).sum()).backward();
            return i.Leaves.Select(l => l.Item2.grad!.clone()).ToArray();
        }
        Tensor[] expected = Gradients(() => SsdReference.Run(i.X, i.Dt, i.A, i.B, i.C, i.D, i.H0));
        Tensor[] actual = Gradients(() => ChunkedSsd.Run(i.X, i.Dt, i.A, i.B, i.C, i.D, chunk, i.H0));
        string[] names = i.Leaves.Select(l => l.Item1).ToArray();
        for (int k = 0; k < names.Length; k++)
        {
            Assert.True(actual[k].isfinite().all().item<bool>(), $"d/d{names[k]} is not finite");
            TensorAssert.Close(expected[k], actual[k], 1e-10, 1e-9, $"d loss / d {names[k]} (L {length}, chunk {chunk})");
        }
    }

    [Fact]
    public void Chunked_gradients_match_central_differences()
    {
        using var scope = NewDisposeScope();
        Inputs i = Inputs.Random(7, seed: 2);
        Tensor w = randn(2, 7, 4, 3, ScalarType.Float64);
        GradCheck.Run(() => (ChunkedSsd.Run(i.X, i.Dt, i.A, i.B, i.C, i.D, 3, i.H0).Y * w).sum(), i.Leaves, coordinates: 5);
    }

    [Fact]
    public void Segsum_is_the_sum_of_the_segment_and_minus_infinity_above_the_diagonal()
    {
        using var scope = NewDisposeScope();
        Tensor a = tensor(new double[] { 1, 2, 4, 8 });
        double[] s = ChunkedSsd.Segsum(a).flatten().data<double>().ToArray();
        double inf = double.NegativeInfinity;
        Assert.Equal(new double[] { 0, inf, inf, inf, 2, 0, inf, inf, 6, 4, 0, inf, 14, 12, 8, 0 }, s);
    }

    [Fact]
    public void Mismatched_shapes_are_one_line_errors_that_name_the_argument()
    {
        using var scope = NewDisposeScope();
        Inputs i = Inputs.Random(5);
        var error = Assert.Throws<ArgumentException>(() => ChunkedSsd.Run(i.X, i.Dt[.., ..4], i.A, i.B, i.C, i.D, 2));
        Assert.Equal("SSD: dt must be (2, 5, 4), got (2, 4, 4) (Parameter 'dt')", error.Message);
        error = Assert.Throws<ArgumentException>(() => SsdReference.Run(i.X, i.Dt, i.A, randn(2, 5, 3, 5, ScalarType.Float64), i.C, i.D));
        Assert.StartsWith("SSD: B must be (2, 5, G, N) with G dividing 4", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkedSsd.Run(i.X, i.Dt, i.A, i.B, i.C, i.D, 0));
    }
}
