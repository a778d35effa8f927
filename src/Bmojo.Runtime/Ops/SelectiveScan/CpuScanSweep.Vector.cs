using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// The fp32 sweeps with the N states of a step in 256-bit vectors (8 lanes; d_state a multiple of 8, as Mamba's 16):
/// the decays <c>exp(dt A)</c> by <see cref="Vector256.Exp(Vector256{float})"/> 8 at a time, the state update and
/// the reductions over N (<c>&lt;h_t, C_t&gt;</c>, and in the adjoint d dt and d u) as vector lanes summed once per
/// step. The same equations as the scalar sweeps of <see cref="CpuScanSweep{T}"/>, in another summation order.
/// </summary>
internal static unsafe partial class CpuScanSweep<T>
{
    private const int Lanes = 8;

    /// <summary><c>BMOJO_CPU_SCAN_SCALAR=1</c> keeps the scalar sweeps (for the before/after timing in docs/benchmarks.md).</summary>
    private static readonly bool ScalarOnly = Environment.GetEnvironmentVariable("BMOJO_CPU_SCAN_SCALAR") == "1";

    /// <summary>True where the vector sweeps take the scan: float, hardware 256-bit vectors, N a multiple of 8.</summary>
    private static bool Vectorized(int n) => typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated && n % Lanes == 0 && !ScalarOnly;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardVector(in ScanMemory<float> m, int b, int d)
    {
        int length = m.Length, n = m.DState;
        long row = ((long)b * m.DInner + d) * length;
        float* h = stackalloc float[n];
        if (m.InitialState == null) new Span<float>(h, n).Clear();
        else new Span<float>(m.InitialState + ((long)b * m.DInner + d) * n, n).CopyTo(new Span<float>(h, n));
        float* A = m.A + (long)d * n;
        float skip = m.D == null ? 0f : m.D[d];
        float bias = m.DeltaBias == null ? 0f : m.DeltaBias[d];
        float* Bt = m.Bt + (long)b * length * n, Ct = m.Ct + (long)b * length * n;
        for (int t = 0; t < length; t++)
        {
            float u = m.U[row + t];
            float dt = StepSizeF(m.Delta[row + t] + bias, m.DeltaSoftplus);
            Vector256<float> dtV = Vector256.Create(dt), dtuV = Vector256.Create(dt * u), acc = Vector256<float>.Zero;
            float* Bs = Bt + (long)t * n, Cs = Ct + (long)t * n;
            for (int s = 0; s < n; s += Lanes)
            {
                Vector256<float> hv = Vector256.Exp(dtV * Vector256.Load(A + s)) * Vector256.Load(h + s) + dtuV * Vector256.Load(Bs + s);
                hv.Store(h + s);
                acc += hv * Vector256.Load(Cs + s);
            }
            float y = Vector256.Sum(acc) + skip * u;
            m.Y[row + t] = m.Z == null ? y : y * SiluF(m.Z[row + t]);
        }
        if (m.FinalState != null)
            new Span<float>(h, n).CopyTo(new Span<float>(m.FinalState + ((long)b * m.DInner + d) * n, n));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardVector(in ScanMemory<float> m, int b, int d, int group, Span<float> states, Span<float> decays,
                                       Span<float> steps, Span<float> sums)
    {
        int length = m.Length, n = m.DState;
        long row = ((long)b * m.DInner + d) * length;
        long stateAt = ((long)b * m.DInner + d) * n;
        float* A = m.A + (long)d * n;
        float skip = m.D == null ? 0f : m.D[d];
        float bias = m.DeltaBias == null ? 0f : m.DeltaBias[d];
        float* Bt = m.Bt + (long)b * length * n, Ct = m.Ct + (long)b * length * n;
        long partial = ((long)group * m.Batch + b) * length * n;
        float* dBt = m.DBt + partial, dCt = m.DCt + partial;

        float* h0 = stackalloc float[n];
        if (m.InitialState == null) new Span<float>(h0, n).Clear();
        else new Span<float>(m.InitialState + stateAt, n).CopyTo(new Span<float>(h0, n));
        fixed (float* hs = states, a = decays, dts = steps, sum = sums)
        {
            float* previous = h0;
            for (int t = 0; t < length; t++)
            {
                float u = m.U[row + t];
                float dt = StepSizeF(m.Delta[row + t] + bias, m.DeltaSoftplus);
                Vector256<float> dtV = Vector256.Create(dt), dtuV = Vector256.Create(dt * u), acc = Vector256<float>.Zero;
                float* h = hs + (long)t * n, at = a + (long)t * n, Bs = Bt + (long)t * n, Cs = Ct + (long)t * n;
                for (int s = 0; s < n; s += Lanes)
                {
                    Vector256<float> decay = Vector256.Exp(dtV * Vector256.Load(A + s));
                    decay.Store(at + s);
                    Vector256<float> hv = decay * Vector256.Load(previous + s) + dtuV * Vector256.Load(Bs + s);
                    hv.Store(h + s);
                    acc += hv * Vector256.Load(Cs + s);
                }
                dts[t] = dt;
                sum[t] = Vector256.Sum(acc) + skip * u;
                previous = h;
            }

            float* dh = stackalloc float[n];
            new Span<float>(dh, n).Clear();
            float* dA = m.DA + (long)d * n;
            float dSkip = 0f, dBias = 0f;
            for (int t = length - 1; t >= 0; t--)
            {
                float u = m.U[row + t], dt = dts[t], g = m.DY[row + t];
                float dSum = g;
                if (m.Z != null)
                {
                    float zt = m.Z[row + t], sigmoid = 1f / (1f + MathF.Exp(-zt));
                    dSum = g * zt * sigmoid;
                    m.DZ[row + t] = g * sum[t] * sigmoid * (1f + zt * (1f - sigmoid));
                }
                dSkip += dSum * u;
                float* h = hs + (long)t * n, at = a + (long)t * n, Bs = Bt + (long)t * n, Cs = Ct + (long)t * n;
                float* hPrevious = t > 0 ? hs + (long)(t - 1) * n : h0;
                float* dBs = dBt + (long)t * n, dCs = dCt + (long)t * n;
                Vector256<float> dSumV = Vector256.Create(dSum), dtV = Vector256.Create(dt), uV = Vector256.Create(u), dtuV = Vector256.Create(dt * u);
                Vector256<float> dDtV = Vector256<float>.Zero, duV = Vector256<float>.Zero;
                for (int s = 0; s < n; s += Lanes)
                {
                    Vector256<float> atV = Vector256.Load(at + s), bsV = Vector256.Load(Bs + s);
                    Vector256<float> dhs = Vector256.Load(dh + s) + dSumV * Vector256.Load(Cs + s);
                    (Vector256.Load(dCs + s) + dSumV * Vector256.Load(h + s)).Store(dCs + s);
                    Vector256<float> decayed = atV * Vector256.Load(hPrevious + s);
                    (Vector256.Load(dA + s) + dhs * decayed * dtV).Store(dA + s);
                    dDtV += dhs * (decayed * Vector256.Load(A + s) + bsV * uV);
                    (Vector256.Load(dBs + s) + dhs * dtuV).Store(dBs + s);
                    duV += dhs * dtV * bsV;
                    (atV * dhs).Store(dh + s);
                }
                m.DU[row + t] = dSum * skip + Vector256.Sum(duV);
                float dDt = Vector256.Sum(dDtV);
                float x = m.Delta[row + t] + bias;
                float dDelta = m.DeltaSoftplus ? dDt * (x > 20f ? 1f : 1f / (1f + MathF.Exp(-x))) : dDt;
                m.DDelta[row + t] = dDelta;
                dBias += dDelta;
            }
            if (m.DD != null) m.DD[d] += dSkip;
            if (m.DDeltaBias != null) m.DDeltaBias[d] += dBias;
            if (m.DInitialState != null) new Span<float>(dh, n).CopyTo(new Span<float>(m.DInitialState + stateAt, n));
        }
    }

    private static float StepSizeF(float x, bool softplus) => !softplus || x > 20f ? x : float.LogP1(MathF.Exp(x));

    private static float SiluF(float x) => x / (1f + MathF.Exp(-x));
}
