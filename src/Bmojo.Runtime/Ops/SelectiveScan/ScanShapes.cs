using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>Argument checks and the shared first steps of every selective-scan path (reference and fast).</summary>
internal static class ScanShapes
{
    /// <summary>fp32 for every floating input but float64, which stays float64 (gradient checks).</summary>
    public static ScalarType ComputeType(ScalarType input) => input == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary><c>softplus(delta + bias)</c> (or without either), in the compute dtype: <c>(B, d_inner, L)</c>.</summary>
    public static Tensor StepSizes(Tensor delta, Tensor? deltaBias, bool deltaSoftplus, ScalarType compute)
    {
        Tensor dt = delta.to_type(compute);
        if (deltaBias is not null) dt = dt + deltaBias.to_type(compute).unsqueeze(-1);
        return deltaSoftplus ? nn.functional.softplus(dt) : dt;
    }

    public static void Check(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
                             Tensor? deltaBias, Tensor? initialState)
    {
        Require(u.dim() == 3, $"u must be (B, d_inner, L), got {Shape(u)}");
        long batch = u.shape[0], dInner = u.shape[1], length = u.shape[2];
        Require(A.dim() == 2 && A.shape[0] == dInner, $"A must be (d_inner={dInner}, N), got {Shape(A)}");
        long dState = A.shape[1];
        Require(SameShape(delta, batch, dInner, length), $"delta must be ({batch}, {dInner}, {length}) like u, got {Shape(delta)}");
        Require(SameShape(B, batch, dState, length), $"B must be (B={batch}, N={dState}, L={length}), got {Shape(B)}");
        Require(SameShape(C, batch, dState, length), $"C must be (B={batch}, N={dState}, L={length}), got {Shape(C)}");
        Require(z is null || SameShape(z, batch, dInner, length), $"z must be ({batch}, {dInner}, {length}) like u, got {Shape(z)}");
        Require(D is null || SameShape(D, dInner), $"D must be (d_inner={dInner}), got {Shape(D)}");
        Require(deltaBias is null || SameShape(deltaBias, dInner), $"deltaBias must be (d_inner={dInner}), got {Shape(deltaBias)}");
        Require(initialState is null || SameShape(initialState, batch, dInner, dState),
                $"initialState must be ({batch}, {dInner}, {dState}), got {Shape(initialState)}");
    }

    private static bool SameShape(Tensor t, params long[] shape) => t.shape.SequenceEqual(shape);

    private static string Shape(Tensor? t) => t is null ? "null" : "(" + string.Join(", ", t.shape) + ")";

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new ArgumentException("selective scan: " + message);
    }
}

/// <summary>The register kernels' per-token tensors as kernel views, fp32 or raw bf16 (<see cref="ScanOptions.Bf16"/>).</summary>
internal static class ScanViews
{
    /// <summary>True when the register kernels can read every given per-token tensor as it is: all bf16 (absent ones,
    /// null, do not count).</summary>
    public static bool AllBf16(params Tensor?[] tensors) =>
        tensors.All(t => t is null || t.dtype == ScalarType.BFloat16);

    /// <summary>The tensor as the kernels read it: contiguous bf16 in bf16 mode (one copy only when strided), else
    /// contiguous fp32 (<see cref="Gpu.KernelTensors.Fp32"/>).</summary>
    public static Tensor Prepare(Tensor t, bool bf16) => bf16 ? t.contiguous() : Gpu.KernelTensors.Fp32(t);

    /// <summary>The fp32 view (bf16 mode: empty) and the raw bf16 view (fp32 mode: empty) of a prepared tensor, or two
    /// empty views when it is absent.</summary>
    public static (ILGPU.ArrayView<float> Fp32, ILGPU.ArrayView<ushort> Raw) Of(Gpu.TorchInterop views, Tensor? t, bool bf16, string name, params long[] shape)
    {
        if (t is null) return (Gpu.TorchInterop.Absent, ILGPU.ArrayView<ushort>.Empty);
        return bf16 ? (Gpu.TorchInterop.Absent, views.Bf16(t, name, shape)) : (views.Float32(t, name, shape), ILGPU.ArrayView<ushort>.Empty);
    }
}
