using ILGPU;

namespace Bmojo.Runtime.Gpu;

/// <summary>
/// bfloat16 in kernels, as raw bits: ILGPU has no bf16 type, so a pair of bf16 values travels as one <c>uint</c>
/// (the lower index in the low 16 bits, as the tensor cores and torch's memory layout both have it). Rounding is
/// round-to-nearest-even, as CUDA's <c>cvt.rn.bf16x2.f32</c> and torch do (a test compares the bits with torch's).
/// </summary>
internal static class Bf16
{
    /// <summary>The low bf16 of a pair as a float.</summary>
    public static float Low(uint pair) => Interop.IntAsFloat(pair << 16);

    /// <summary>The high bf16 of a pair as a float.</summary>
    public static float High(uint pair) => Interop.IntAsFloat(pair & 0xFFFF0000u);

    /// <summary><paramref name="low"/> and <paramref name="high"/> rounded to bf16 (nearest, ties to even) and packed,
    /// in integer arithmetic (<see cref="CudaTensorCores.Pair"/> is the one-instruction CUDA version).</summary>
    public static uint PackInSoftware(float low, float high) => Round(low) | (Round(high) << 16);

    /// <summary>Round-to-nearest-even of a float to its upper 16 bits (NaN stays a quiet NaN).</summary>
    public static uint Round(float value)
    {
        uint bits = Interop.FloatAsInt(value);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (bits >> 16) | 0x40u;
        return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    }

    /// <summary>The two bf16 halves of two pairs regrouped: the low halves of <paramref name="first"/> and
    /// <paramref name="second"/> (a transposed pair), for staging a tile transposed.</summary>
    public static uint Lows(uint first, uint second) => (first & 0xFFFFu) | (second << 16);

    /// <summary>The high halves of <paramref name="first"/> and <paramref name="second"/> as one pair.</summary>
    public static uint Highs(uint first, uint second) => (first >> 16) | (second & 0xFFFF0000u);
}
