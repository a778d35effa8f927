using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.SelectiveScan;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.SelectiveScan;

/// <summary>The plain C# CPU scan: values, final state and every gradient equal the sequential reference's.</summary>
public sealed class CpuSelectiveScanTests
{
    private const int WithD = 1, WithZ = 2, WithBias = 4, WithSoftplus = 8, WithState = 16, All = 31;

    public static TheoryData<int, int, int, int, int> Cases => new()
    {
        // batch, d_inner, L, N, which optional inputs
        { 2, 3, 1, 4, All },            // L = 1
        { 1, 2, 7, 1, All },            // odd L, N = 1
        { 3, 5, 33, 16, All },          // N = 16
        { 2, 4, 16, 3, 0 },             // no optional input at all
        { 1, 3, 9, 5, WithD },
        { 2, 2, 11, 4, WithZ | WithSoftplus },
        { 2, 3, 10, 2, WithBias | WithState },
        { 1, 6, 64, 8, WithD | WithZ | WithSoftplus },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ValuesAndFinalStateEqualTheReference(int batch, int dInner, int length, int dState, int options)
    {
        foreach (var (dtype, tolerance) in new[] { (ScalarType.Float32, 1e-5), (ScalarType.Float64, 1e-12) })
        {
            manual_seed(20 + length);
            Scan s = Scan.Random(batch, dInner, length, dState, options, dtype);
            using var noGrad = no_grad();
            (Tensor y0, Tensor h0) = SelectiveScanReference.RunWithFinalState(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, s.Softplus, s.InitialState);
            (Tensor y1, Tensor h1) = CpuSelectiveScan.RunWithFinalState(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, s.Softplus, s.InitialState);
            Assert.Equal(dtype, y1.dtype);
            TensorAssert.Close(y0, y1, atol: tolerance, rtol: tolerance, what: $"y ({dtype})");
            TensorAssert.Close(h0, h1, atol: tolerance, rtol: tolerance, what: $"final state ({dtype})");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsEqualAutogradThroughTheReference(int batch, int dInner, int length, int dState, int options)
    {
        manual_seed(30 + length);
        Scan reference = Scan.Random(batch, dInner, length, dState, options, ScalarType.Float64), cpu = reference.Leaves();
        Tensor weight = randn(batch, dInner, length, ScalarType.Float64);    // a loss that weighs every output differently

        Tensor y0 = SelectiveScanReference.Run(reference.U, reference.Delta, reference.A, reference.B, reference.C, reference.D,
                                               reference.Z, reference.DeltaBias, reference.Softplus, reference.InitialState);
        Tensor y1 = CpuSelectiveScan.Apply(cpu.U, cpu.Delta, cpu.A, cpu.B, cpu.C, cpu.D, cpu.Z, cpu.DeltaBias, cpu.Softplus, cpu.InitialState);
        TensorAssert.Close(y0, y1, atol: 1e-12, rtol: 1e-12, what: "y");
        (y0 * weight).sum().backward();
        (y1 * weight).sum().backward();
        foreach (var ((name, expected), (_, actual)) in reference.Present.Zip(cpu.Present))
            TensorAssert.Close(expected.grad!, actual.grad!, atol: 1e-11, rtol: 1e-10, what: "d" + name);
    }

    [Fact]
    public void GradientsMatchCentralDifferences()
    {
        manual_seed(40);
        Scan s = Scan.Random(2, 2, 5, 3, All, ScalarType.Float64);
        Tensor weight = randn(2, 2, 5, ScalarType.Float64);
        GradCheck.Run(() => (CpuSelectiveScan.Apply(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, s.Softplus, s.InitialState) * weight).sum(),
                      s.Present, coordinates: 6);
    }

    [Fact]
    public void Fp32GradientsAndBf16ValuesStayCloseToTheReference()
    {
        manual_seed(41);
        Scan s = Scan.Random(2, 4, 40, 16, All, ScalarType.Float32), cpu = s.Leaves();
        Tensor y0 = SelectiveScanReference.Run(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, s.Softplus, s.InitialState);
        Tensor y1 = CpuSelectiveScan.Apply(cpu.U, cpu.Delta, cpu.A, cpu.B, cpu.C, cpu.D, cpu.Z, cpu.DeltaBias, cpu.Softplus, cpu.InitialState);
        y0.sum().backward();
        y1.sum().backward();
        foreach (var ((name, expected), (_, actual)) in s.Present.Zip(cpu.Present))
        {
            Assert.Equal(ScalarType.Float32, actual.grad!.dtype);
            TensorAssert.Close(expected.grad!, actual.grad!, atol: 1e-4, rtol: 1e-4, what: "d" + name);
        }

        using var noGrad = no_grad();
        Tensor bf16 = CpuSelectiveScan.Apply(s.U.to_type(ScalarType.BFloat16), s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, s.Softplus);
        Tensor bf16Reference = SelectiveScanReference.Run(s.U.to_type(ScalarType.BFloat16), s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, s.Softplus);
        Assert.Equal(ScalarType.BFloat16, bf16.dtype);
        TensorAssert.Close(bf16Reference, bf16, atol: 0.02, rtol: 0.01, what: "bf16 y");
    }

    [Fact]
    public void AFinalStateWithAGradientIsRefusedWithAClearError()
    {
        Scan s = Scan.Random(1, 2, 4, 3, All, ScalarType.Float32).Leaves();
        var error = Assert.Throws<ArgumentException>(() =>
            Mixers.SelectiveScan.Run(ScanPath.Cpu, s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.DeltaBias, s.Softplus, s.InitialState, keepFinalState: true));
        Assert.Contains("no gradient through a cache's final state", error.Message);
        var wrongType = Assert.Throws<ArgumentException>(() =>
            CpuSelectiveScan.Apply(s.U.detach().to_type(ScalarType.Int32), s.Delta, s.A, s.B, s.C));
        Assert.Contains("floating-point", wrongType.Message);
    }

    [Fact]
    public void AutoPicksTheCpuScanForCpuTensorsUnlessAGradientGoesThroughAState()
    {
        Tensor u = zeros(1, 2, 3), A = zeros(2, 16);
        Assert.Equal(ScanPath.Cpu, Mixers.SelectiveScan.Resolve(ScanPath.Auto, u, A, gradientThroughState: false));
        Assert.Equal(ScanPath.Cpu, Mixers.SelectiveScan.Resolve(ScanPath.Auto, u.to_type(ScalarType.Float64), A, gradientThroughState: false));
        Assert.Equal(ScanPath.Chunked, Mixers.SelectiveScan.Resolve(ScanPath.Auto, u, A, gradientThroughState: true));
        Assert.Equal(ScanPath.Chunked, Mixers.SelectiveScan.Resolve(ScanPath.Chunked, u, A, gradientThroughState: false));
    }

    [Fact]
    public void MambaWithTheCpuScanEqualsTheSequentialPathWithGradients()
    {
        manual_seed(42);
        var options = new MambaOptions(DState: 16, DConv: 3, Expand: 2, DtRank: 2, Bias: true);
        using var reference = new MambaMixer(8, 0, options, new KernelPolicy(Scan: ScanPath.Sequential));
        reference.to(ScalarType.Float64);
        using var auto = new MambaMixer(8, 0, options);
        auto.to(ScalarType.Float64);
        auto.load_state_dict(reference.state_dict());
        Assert.Equal(ScanPath.Auto, auto.ScanPath);
        Tensor x = randn(2, 23, 8, ScalarType.Float64), weight = randn(2, 23, 8, ScalarType.Float64);

        TensorAssert.Close(reference.forward(x).mul(weight), auto.forward(x).mul(weight), atol: 1e-12, rtol: 1e-12, what: "output");
        reference.forward(x).mul(weight).sum().backward();
        auto.forward(x).mul(weight).sum().backward();
        foreach (var ((name, expected), (_, actual)) in GradCheck.Parameters(reference).Zip(GradCheck.Parameters(auto)))
            TensorAssert.Close(expected.grad!, actual.grad!, atol: 1e-11, rtol: 1e-10, what: "d" + name);
    }

    [Fact]
    public void MambaRecurrentRunsEqualTheFullForwardOnTheCpuScan()
    {
        manual_seed(43);
        using var mixer = new MambaMixer(8, 0, new MambaOptions(DState: 4, DConv: 3, Expand: 2, DtRank: 2));
        Tensor x = randn(2, 12, 8);
        foreach (bool gradient in new[] { false, true })
        {
            // Without a gradient the cache runs on the CPU scan; with one, Auto trains through it on the chunked scan.
            using var mode = gradient ? enable_grad() : no_grad();
            Tensor full = mixer.forward(x);
            using var cache = (MambaCache)mixer.AllocateCache(2);
            var pieces = new List<Tensor>();
            foreach (var (start, length) in new[] { (0, 5), (5, 1), (6, 1), (7, 3), (10, 2) })
                pieces.Add(mixer.Forward(x[.., start..(start + length)], cache));
            Tensor recurrent = cat(pieces, 1);
            TensorAssert.Close(full, recurrent, atol: 1e-5, rtol: 1e-5, what: $"recurrent vs full (gradient: {gradient})");
            Assert.Equal(gradient, recurrent.requires_grad);
            if (gradient) recurrent.sum().backward();
        }
        Assert.All(GradCheck.Parameters(mixer), p => Assert.NotNull(p.Item2.grad));
    }

    /// <summary>Scan inputs with a chosen set of optional ones (null when absent).</summary>
    private sealed record Scan(Tensor U, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? Z,
                               Tensor? DeltaBias, bool Softplus, Tensor? InitialState)
    {
        public static Scan Random(long batch, long dInner, long length, long dState, int options, ScalarType dtype)
        {
            ChunkedSelectiveScanTests.ScanInputs x = ChunkedSelectiveScanTests.ScanInputs.Random(batch, dInner, length, dState, dtype);
            Tensor? If(int flag, Tensor t) => (options & flag) != 0 ? t : null;
            return new Scan(x.u, x.delta, x.A, x.B, x.C, If(WithD, x.D), If(WithZ, x.z), If(WithBias, x.deltaBias),
                            (options & WithSoftplus) != 0, If(WithState, x.initialState));
        }

        /// <summary>Fresh leaves with the same values, collecting their own gradients.</summary>
        public Scan Leaves()
        {
            static Tensor Leaf(Tensor t) => t.detach().clone().requires_grad_();
            return new Scan(Leaf(U), Leaf(Delta), Leaf(A), Leaf(B), Leaf(C), D is null ? null : Leaf(D), Z is null ? null : Leaf(Z),
                            DeltaBias is null ? null : Leaf(DeltaBias), Softplus, InitialState is null ? null : Leaf(InitialState));
        }

        public IEnumerable<(string Name, Tensor Tensor)> Present =>
            new (string, Tensor?)[]
            {
                ("u", U), ("delta", Delta), ("A", A), ("B", B), ("C", C), ("D", D), ("z", Z), ("deltaBias", DeltaBias),
                ("initialState", InitialState),
            }.Where(p => p.Item2 is not null).Select(p => (p.Item1, p.Item2!));
    }
}
