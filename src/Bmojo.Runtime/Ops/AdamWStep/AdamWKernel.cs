using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Algorithms;

namespace Bmojo.Runtime.Ops.AdamWStep;

/// <summary>One parameter's AdamW update: its four tensors (fp32 views, or bf16 views as raw bits; the other set
/// empty) and the step's scalars, computed on the host in double and rounded to fp32 as torch rounds them.</summary>
internal struct AdamWArguments
{
    public ArrayView<float> Parameter, Gradient, ExpAvg, ExpAvgSq;              // fp32 parameters
    public ArrayView<ushort> ParameterBf16, GradientBf16, ExpAvgBf16, ExpAvgSqBf16;   // bf16 parameters, odd last dimension
    public ArrayView<uint> ParameterPairs, GradientPairs, ExpAvgPairs, ExpAvgSqPairs; // bf16 parameters, as pairs
    public long Count;               // elements (pairs for the pairs kernel)
    public float Decay;              // 1 - lr * weight_decay
    public float Beta1, OneMinusBeta1, Beta2, OneMinusBeta2;
    public float StepSize;           // lr / (1 - beta1^t)
    public float RootCorrection2;    // sqrt(1 - beta2^t)
    public float Eps;
}

/// <summary>
/// The AdamW update of one parameter in one pass over its memory: each element's parameter, gradient and two moments
/// are read once and the three updated values written once, the arithmetic of TorchSharp's <c>AdamW.step</c>
/// (decoupled decay <c>p *= 1 - lr wd</c>; <c>m = b1 m + (1 - b1) g</c>; <c>v = b2 v + (1 - b2) g^2</c>;
/// <c>p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)</c>) in fp32 registers. TorchSharp runs those as
/// nine torch kernels a parameter, each a trip through memory (and, for bf16 parameters, a rounding to bf16 after
/// every one); here bf16 values are rounded once, on the store (round-to-nearest-even, as torch rounds).
/// A grid-stride loop, so any parameter size runs in a bounded grid.
/// </summary>
internal static class AdamWKernel
{
    public const int GroupSize = 256;
    public const int MaxGroups = 1024;

    public static int Groups(long count) => (int)Math.Clamp((count + GroupSize - 1) / GroupSize, 1, MaxGroups);

    public static void Fp32(AdamWArguments a)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < a.Count; i += stride)
        {
            float g = a.Gradient[i];
            Update(a, a.Parameter[i], g, a.ExpAvg[i], a.ExpAvgSq[i], out float p, out float m, out float v);
            a.Parameter[i] = p;
            a.ExpAvg[i] = m;
            a.ExpAvgSq[i] = v;
        }
    }

    public static void Bf16(AdamWArguments a)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < a.Count; i += stride)
        {
            Update(a, Gpu.Bf16.Low(a.ParameterBf16[i]), Gpu.Bf16.Low(a.GradientBf16[i]), Gpu.Bf16.Low(a.ExpAvgBf16[i]),
                   Gpu.Bf16.Low(a.ExpAvgSqBf16[i]), out float p, out float m, out float v);
            a.ParameterBf16[i] = (ushort)Gpu.Bf16.Round(p);
            a.ExpAvgBf16[i] = (ushort)Gpu.Bf16.Round(m);
            a.ExpAvgSqBf16[i] = (ushort)Gpu.Bf16.Round(v);
        }
    }

    /// <summary>bf16 read and written two elements at a time (one 32-bit access each, half the memory transactions of
    /// <see cref="Bf16"/>), for the parameters whose last dimension is even.</summary>
    public static void Bf16Pairs(AdamWArguments a)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < a.Count; i += stride)
        {
            uint p = a.ParameterPairs[i], g = a.GradientPairs[i], m = a.ExpAvgPairs[i], v = a.ExpAvgSqPairs[i];
            Update(a, Gpu.Bf16.Low(p), Gpu.Bf16.Low(g), Gpu.Bf16.Low(m), Gpu.Bf16.Low(v), out float p0, out float m0, out float v0);
            Update(a, Gpu.Bf16.High(p), Gpu.Bf16.High(g), Gpu.Bf16.High(m), Gpu.Bf16.High(v), out float p1, out float m1, out float v1);
            a.ParameterPairs[i] = Gpu.Bf16.PackInSoftware(p0, p1);
            a.ExpAvgPairs[i] = Gpu.Bf16.PackInSoftware(m0, m1);
            a.ExpAvgSqPairs[i] = Gpu.Bf16.PackInSoftware(v0, v1);
        }
    }

    private static void Update(in AdamWArguments a, float p, float g, float m, float v, out float pOut, out float mOut, out float vOut)
    {
        p *= a.Decay;
        m = m * a.Beta1 + a.OneMinusBeta1 * g;
        v = v * a.Beta2 + a.OneMinusBeta2 * g * g;
        float denominator = XMath.Sqrt(v) / a.RootCorrection2 + a.Eps;
        pOut = p - a.StepSize * (m / denominator);
        mOut = m;
        vOut = v;
    }
}
