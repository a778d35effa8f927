using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.SelectiveScan;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.SelectiveScan;

public sealed class ChunkedSelectiveScanTests
{
    public static TheoryData<int, int, int, int, int> Shapes => new()
    {
        // batch, d_inner, L, N, chunk
        { 2, 3, 1, 4, 64 },     // L = 1
        { 1, 2, 7, 3, 4 },      // L not a multiple of the chunk
        { 2, 5, 16, 2, 4 },     // a multiple
        { 3, 4, 150, 8, 64 },   // the default chunk, a ragged last chunk
        { 1, 3, 33, 5, 1 },     // chunk 1: the scan across chunks does everything
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EqualsTheSequentialScanInValuesAndGradients(int batch, int dInner, int length, int dState, int chunk)
    {
        manual_seed(10 + length);
        ScanInputs reference = ScanInputs.Random(batch, dInner, length, dState, ScalarType.Float32);
        ScanInputs chunked = reference.Detached();
        Tensor weightY = randn(batch, dInner, length), weightState = randn(batch, dInner, dState);

        (Tensor y0, Tensor s0) = SelectiveScanReference.RunWithFinalState(reference.u, reference.delta, reference.A, reference.B, reference.C,
            reference.D, reference.z, reference.deltaBias, deltaSoftplus: true, reference.initialState);
        (Tensor y1, Tensor s1) = ChunkedSelectiveScan.RunWithFinalState(chunked.u, chunked.delta, chunked.A, chunked.B, chunked.C,
            chunked.D, chunked.z, chunked.deltaBias, deltaSoftplus: true, chunked.initialState, chunk);
        TensorAssert.Close(y0, y1, atol: 1e-5, rtol: 1e-4, what: "y");
        TensorAssert.Close(s0, s1, atol: 1e-5, rtol: 1e-4, what: "final state");

        ((y0 * weightY).sum() + (s0 * weightState).sum()).backward();
        ((y1 * weightY).sum() + (s1 * weightState).sum()).backward();
        foreach (var (name, expected, actual) in reference.Leaves.Zip(chunked.Leaves, (r, c) => (r.Name, r.Tensor, c.Tensor)))
            TensorAssert.Close(expected.grad!, actual.grad!, atol: 1e-4, rtol: 1e-4, what: "grad " + name);
    }

    [Fact]
    public void StaysExactWhenTheDecayWithinAChunkIsHuge()
    {
        // delta * A reaches -400 per step: exp of a cumulative sum and of its inverse would overflow fp32.
        manual_seed(11);
        ScanInputs x = ScanInputs.Random(1, 2, 40, 3, ScalarType.Float32);
        Tensor bigDelta = x.delta.detach() + 6.0;
        Tensor A = x.A.detach() * 60;
        Tensor expected = SelectiveScanReference.Run(x.u, bigDelta, A, x.B, x.C, deltaSoftplus: true);
        (Tensor actual, _) = ChunkedSelectiveScan.RunWithFinalState(x.u, bigDelta, A, x.B, x.C, deltaSoftplus: true, chunkSize: 16);
        Assert.False(actual.isnan().any().item<bool>());
        TensorAssert.Close(expected, actual, atol: 1e-5, rtol: 1e-4, what: "y");
    }

    [Fact]
    public void RejectsANonPositiveChunkSize()
    {
        ScanInputs x = ScanInputs.Random(1, 2, 4, 3, ScalarType.Float32);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ChunkedSelectiveScan.RunWithFinalState(x.u, x.delta, x.A, x.B, x.C, chunkSize: 0));
        Assert.Contains("chunk size must be at least 1", error.Message);
    }

    /// <summary>Every input of a scan, as leaves that collect gradients.</summary>
    internal sealed record ScanInputs(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor z, Tensor deltaBias, Tensor initialState)
    {
        public static ScanInputs Random(long batch, long dInner, long length, long dState, ScalarType dtype)
        {
            var (u, delta, A, B, C) = SelectiveScanTests.RandomScan(batch, dInner, length, dState, dtype);
            return new ScanInputs(u, delta, A, B, C, randn(dInner, dtype), randn(batch, dInner, length, dtype),
                                  randn(dInner, dtype) * 0.1, randn(batch, dInner, dState, dtype)).Detached();
        }

        public ScanInputs Detached()
        {
            static Tensor Leaf(Tensor t) => t.detach().clone().requires_grad_();
            return new ScanInputs(Leaf(u), Leaf(delta), Leaf(A), Leaf(B), Leaf(C), Leaf(D), Leaf(z), Leaf(deltaBias), Leaf(initialState));
        }

        public IEnumerable<(string Name, Tensor Tensor)> Leaves => new[]
        {
            (nameof(u), u), (nameof(delta), delta), (nameof(A), A), (nameof(B), B), (nameof(C), C),
            (nameof(D), D), (nameof(z), z), (nameof(deltaBias), deltaBias), (nameof(initialState), initialState),
        };
    }
}
