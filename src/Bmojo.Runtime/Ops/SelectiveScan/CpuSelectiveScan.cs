using System.Numerics;
using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// The selective scan on the CPU in plain C# over the tensors' memory (<see cref="CpuScanSweep{T}"/>): one sweep
/// over L per channel (b, d), channels in parallel on torch's CPU thread count. Computes in fp32 (float64 stays
/// float64); results in <c>u</c>'s dtype. Arguments as <see cref="SelectiveScanReference"/>.
/// <see cref="CpuSelectiveScanFunction"/> makes it differentiable.
/// </summary>
public static class CpuSelectiveScan
{
    /// <summary><c>y</c> of <see cref="SelectiveScanReference.Run"/>, differentiable in every tensor argument
    /// (the initial state included).</summary>
    public static Tensor Apply(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D = null, Tensor? z = null,
                               Tensor? deltaBias = null, bool deltaSoftplus = false, Tensor? initialState = null)
    {
        Check(u, delta, A, B, C, D, z, deltaBias, initialState);
        return CpuSelectiveScanFunction.apply(u, delta, A, B, C, D!, z!, deltaBias!, initialState!, deltaSoftplus);
    }

    /// <summary>As <see cref="SelectiveScanReference.RunWithFinalState"/>, without a gradient: the final state of
    /// a cache carries none (use <see cref="ChunkedSelectiveScan"/> to train through a cache).</summary>
    public static (Tensor Output, Tensor FinalState) RunWithFinalState(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D = null, Tensor? z = null,
        Tensor? deltaBias = null, bool deltaSoftplus = false, Tensor? initialState = null)
    {
        Check(u, delta, A, B, C, D, z, deltaBias, initialState);
        if (is_grad_enabled() && new[] { u, delta, A, B, C, D, z, deltaBias, initialState }.Any(t => t?.requires_grad == true))
            throw new ArgumentException("selective scan: the CPU path's final state carries no gradient; "
                                        + "train through a cache with ScanPath.Chunked (or Auto)");
        (Tensor y, Tensor? state) = Forward(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState, keepFinalState: true);
        return (y, state!);
    }

    /// <summary>y in <c>u</c>'s dtype and, when asked, the final state in the compute dtype.</summary>
    internal static (Tensor Output, Tensor? FinalState) Forward(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? deltaBias,
        bool deltaSoftplus, Tensor? initialState, bool keepFinalState)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var memory = new CpuScanTensors(u, delta, A, B, C, D, z, deltaBias, initialState);
        Tensor y = empty_like(memory.U);
        Tensor? state = keepFinalState ? empty(u.shape[0], u.shape[1], A.shape[1], memory.U.dtype) : null;
        if (memory.U.dtype == ScalarType.Float64) Forward<double>(memory, deltaSoftplus, y, state);
        else Forward<float>(memory, deltaSoftplus, y, state);
        return (y.to_type(u.dtype).MoveToOuterDisposeScope(), state?.MoveToOuterDisposeScope());
    }

    /// <summary>The gradients of every input given <paramref name="dy"/>, in the compute dtype; null for the
    /// absent optional inputs.</summary>
    internal static CpuScanGradients Backward(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? deltaBias,
        bool deltaSoftplus, Tensor? initialState, Tensor dy)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var memory = new CpuScanTensors(u, delta, A, B, C, D, z, deltaBias, initialState);
        int groups = (int)Math.Min(u.shape[1], Threads);
        CpuScanGradients g = memory.U.dtype == ScalarType.Float64
            ? Backward<double>(memory, deltaSoftplus, dy, groups)
            : Backward<float>(memory, deltaSoftplus, dy, groups);
        return g.MoveToOuterDisposeScope();
    }

    private static unsafe void Forward<T>(CpuScanTensors x, bool deltaSoftplus, Tensor y, Tensor? finalState)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ScanMemory<T> m = x.Memory<T>(deltaSoftplus);
        m.Y = Pointer<T>(y);
        m.FinalState = Pointer<T>(finalState);
        int dInner = m.DInner;
        Parallel.For(0, m.Batch * dInner, Options, i => CpuScanSweep<T>.Forward(m, i / dInner, i % dInner));
    }

    private static unsafe CpuScanGradients Backward<T>(CpuScanTensors x, bool deltaSoftplus, Tensor dy, int groups)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Tensor U = x.U;
        long batch = U.shape[0], length = U.shape[2], dState = x.A.shape[1];
        Tensor dyc = dy.to_type(U.dtype).contiguous();
        var g = new CpuScanGradients(
            U: empty_like(U), Delta: empty_like(U), A: zeros_like(x.A),
            B: zeros(groups, batch, length, dState, U.dtype), C: zeros(groups, batch, length, dState, U.dtype), // (G, B, L, N)
            D: x.D is null ? null : zeros_like(x.D), Z: x.Z is null ? null : empty_like(U),
            DeltaBias: x.DeltaBias is null ? null : zeros_like(x.DeltaBias),
            InitialState: x.InitialState is null ? null : empty_like(x.InitialState));

        ScanMemory<T> m = x.Memory<T>(deltaSoftplus);
        m.DY = Pointer<T>(dyc);
        m.DU = Pointer<T>(g.U);
        m.DDelta = Pointer<T>(g.Delta);
        m.DA = Pointer<T>(g.A);
        m.DBt = Pointer<T>(g.B);
        m.DCt = Pointer<T>(g.C);
        m.DD = Pointer<T>(g.D);
        m.DZ = Pointer<T>(g.Z);
        m.DDeltaBias = Pointer<T>(g.DeltaBias);
        m.DInitialState = Pointer<T>(g.InitialState);
        int dInner = m.DInner, perGroup = (dInner + groups - 1) / groups;
        Parallel.For(0, groups, Options, group =>
        {
            // Each group owns its channels d (so DA, DD, DDeltaBias need no lock) and its partial DBt, DCt.
            var states = new T[m.Length * m.DState];
            var decays = new T[m.Length * m.DState];
            var steps = new T[m.Length];
            var sums = new T[m.Length];
            for (int d = group * perGroup; d < Math.Min(dInner, (group + 1) * perGroup); d++)
                for (int b = 0; b < m.Batch; b++)
                    CpuScanSweep<T>.Backward(m, b, d, group, states, decays, steps, sums);
        });
        return g with
        {
            B = g.B.sum(dim: 0).transpose(1, 2).contiguous(),                   // (B, N, L)
            C = g.C.sum(dim: 0).transpose(1, 2).contiguous(),                   // (B, N, L)
        };
    }

    private static int Threads => Math.Max(1, torch.get_num_threads());

    private static ParallelOptions Options => new() { MaxDegreeOfParallelism = Threads };

    internal static unsafe T* Pointer<T>(Tensor? t) where T : unmanaged =>
        t is null ? null : (T*)TorchInterop.DataPointer(t);

    private static void Check(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
                              Tensor? deltaBias, Tensor? initialState)
    {
        ScanShapes.Check(u, delta, A, B, C, D, z, deltaBias, initialState);
        Tensor?[] all = [u, delta, A, B, C, D, z, deltaBias, initialState];
        if (all.Any(t => t is not null && t.device_type != DeviceType.CPU))
            throw new ArgumentException("selective scan: the CPU path needs every tensor on the CPU, got "
                                        + string.Join(", ", all.Where(t => t is not null).Select(t => t!.device).Distinct()));
        if (all.Any(t => t is not null && !t.is_floating_point()))
            throw new ArgumentException("selective scan: the CPU path needs floating-point tensors");
    }
}
