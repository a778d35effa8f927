using System.Runtime.CompilerServices;
using Bmojo.Runtime.Mixers;
using ILGPU;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// Four fp32 values in registers. ILGPU keeps a struct's fields in registers as long as code names them (no arrays,
/// no indexing at run time); a <see cref="Float4"/> loaded from or stored to an <c>ArrayView&lt;Float4&gt;</c> of shared
/// memory is one 16-byte access (<c>ld.shared.v4.f32</c>). <see cref="Get"/> and <see cref="With"/> take an index that
/// must be a constant after inlining (the kernels' straight-line steps), so they fold to a field access.
/// </summary>
internal struct Float4
{
    public float X, Y, Z, W;

    public Float4(float x, float y, float z, float w)
    {
        X = x;
        Y = y;
        Z = z;
        W = w;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Get(int i) => i == 0 ? X : i == 1 ? Y : i == 2 ? Z : W;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly Float4 With(int i, float value) =>
        new(i == 0 ? value : X, i == 1 ? value : Y, i == 2 ? value : Z, i == 3 ? value : W);
}

/// <summary>The 8 of a channel's 16 states that one lane holds, as two quads of consecutive states (see
/// <see cref="StateLanes"/> for which).</summary>
internal struct States
{
    public Float4 Lo, Hi;
}

/// <summary>
/// The register-state layout of <see cref="RegisterScanKernel"/> and <see cref="RegisterScanBackwardKernel"/>: a
/// channel (b, d) is two adjacent lanes, lane bit 0 (<c>half</c>) holding states <c>8 half .. 8 half + 7</c>. The two
/// quads of a lane are swapped on lanes whose bit 4 is set: <see cref="Lo"/> is the first state of the quad in
/// <see cref="States.Lo"/>, <see cref="Hi"/> that of <see cref="States.Hi"/>. (The backward's transpose-reduce over
/// channels then starts with <c>Lo + partner's Hi</c> across lane bit 4, with no selects.) States at or past d_state
/// hold A = 0, B = C = 0 and state 0: they never change and add nothing.
/// </summary>
internal readonly struct StateLanes
{
    /// <summary>First state of the lane's <see cref="States.Lo"/> and <see cref="States.Hi"/> quads.</summary>
    public readonly int Lo, Hi;

    private StateLanes(int lo, int hi)
    {
        Lo = lo;
        Hi = hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static StateLanes Of(int lane)
    {
        int half = lane & 1, swap = (lane >> 4) & 1;
        return new StateLanes(8 * half + 4 * swap, 8 * half + 4 - 4 * swap);
    }

    /// <summary><c>source[at + n] * scale</c> for the lane's states <c>n &lt; dState</c>, 0 for the others.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public States Load(ArrayView<float> source, int at, int dState, float scale) => new()
    {
        Lo = LoadQuad(source, at, Lo, dState, scale),
        Hi = LoadQuad(source, at, Hi, dState, scale),
    };

    /// <summary><c>target[at + n] = values</c> for the lane's states <c>n &lt; dState</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(ArrayView<float> target, int at, int dState, States values)
    {
        StoreQuad(target, at, Lo, dState, values.Lo);
        StoreQuad(target, at, Hi, dState, values.Hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 LoadQuad(ArrayView<float> source, int at, int first, int dState, float scale) => new(
        first < dState ? source[at + first] * scale : 0f,
        first + 1 < dState ? source[at + first + 1] * scale : 0f,
        first + 2 < dState ? source[at + first + 2] * scale : 0f,
        first + 3 < dState ? source[at + first + 3] * scale : 0f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreQuad(ArrayView<float> target, int at, int first, int dState, Float4 values)
    {
        if (first < dState) target[at + first] = values.X;
        if (first + 1 < dState) target[at + first + 1] = values.Y;
        if (first + 2 < dState) target[at + first + 2] = values.Z;
        if (first + 3 < dState) target[at + first + 3] = values.W;
    }
}

/// <summary>
/// How the register kernels read and write the per-token tensors in global memory: <see cref="Fp32Elements"/> or
/// <see cref="Bf16Elements"/> (<see cref="ScanOptions.Bf16"/>: a bf16 training step hands its tensors over without fp32
/// copies). The kernels are generic in it, so each instance reads one kind of view and carries no branch for the other.
/// </summary>
internal interface IScanElements
{
    float Load(ArrayView<float> fp32, ArrayView<ushort> raw, int index);

    void Store(ArrayView<float> fp32, ArrayView<ushort> raw, int index, float value);
}

/// <summary>fp32 tensors: the <c>ArrayView&lt;float&gt;</c> views.</summary>
internal readonly struct Fp32Elements : IScanElements
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Load(ArrayView<float> fp32, ArrayView<ushort> raw, int index) => fp32[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(ArrayView<float> fp32, ArrayView<ushort> raw, int index, float value) => fp32[index] = value;
}

/// <summary>bf16 tensors: the raw 16-bit views. A value is read as the upper half of a float and written rounded to
/// nearest, ties to even, as torch's <c>to(bfloat16)</c> rounds, so on the same values the bf16 instance gives exactly
/// the fp32 instance's results, rounded once.</summary>
internal readonly struct Bf16Elements : IScanElements
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Load(ArrayView<float> fp32, ArrayView<ushort> raw, int index) => Gpu.Bf16.Low(raw[index]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(ArrayView<float> fp32, ArrayView<ushort> raw, int index, float value) => raw[index] = (ushort)Gpu.Bf16.Round(value);
}
