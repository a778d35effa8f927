using System.Numerics;
using System.Runtime.CompilerServices;
using Bmojo.Runtime.Mixers;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// The memory of one selective scan, as raw pointers into contiguous CPU tensors of the compute dtype. Layouts:
/// <c>U, Delta, Z, Y, DU, DDelta, DZ (B, d_inner, L)</c>; <c>A, DA (d_inner, N)</c>; <c>Bt, Ct (B, L, N)</c>
/// (mamba's B and C transposed, so that the N states of one step are adjacent); <c>D, DeltaBias, DD, DDeltaBias
/// (d_inner)</c>; <c>InitialState, FinalState, DInitialState (B, d_inner, N)</c>; <c>DBt, DCt (groups, B, L, N)</c>:
/// one partial sum per group of channels. Optional tensors are null pointers when absent.
/// </summary>
internal unsafe struct ScanMemory<T> where T : unmanaged
{
    public int Batch, DInner, Length, DState;
    public bool DeltaSoftplus;
    public T* U, Delta, A, Bt, Ct, D, Z, DeltaBias, InitialState;
    public T* Y, FinalState;
    public T* DY, DU, DDelta, DA, DBt, DCt, DD, DZ, DDeltaBias, DInitialState;
}

/// <summary>
/// The selective scan of one channel <c>(b, d)</c>, forward and its exact adjoint, in plain loops over L with the
/// N states in registers or stack memory: <c>h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t</c>,
/// <c>y_t = (&lt;h_t, C_t&gt; + D u_t) silu(z_t)</c>, <c>dt_t = softplus(delta_t + delta_bias)</c>. T is float or double.
/// </summary>
internal static unsafe partial class CpuScanSweep<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T SoftplusThreshold = T.CreateTruncating(20);   // torch's softplus: linear above it

    /// <summary>Writes <c>y</c> of channel (b, d) and, when <c>m.FinalState</c> is set, its last state.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // hot from the first call: no tier-0 code
    public static void Forward(in ScanMemory<T> m, int b, int d)
    {
        if (Vectorized(m.DState))
        {
            ForwardVector(Unsafe.As<ScanMemory<T>, ScanMemory<float>>(ref Unsafe.AsRef(in m)), b, d);   // CpuScanSweep.Vector.cs
            return;
        }
        int length = m.Length, n = m.DState;
        long row = ((long)b * m.DInner + d) * length;                       // (b, d, 0) of (B, d_inner, L)
        T* h = stackalloc T[n];
        LoadInitialState(m, b, d, h);
        T* A = m.A + (long)d * n;
        T skip = m.D == null ? T.Zero : m.D[d];
        T bias = m.DeltaBias == null ? T.Zero : m.DeltaBias[d];
        T* Bt = m.Bt + (long)b * length * n, Ct = m.Ct + (long)b * length * n;
        for (int t = 0; t < length; t++)
        {
            T u = m.U[row + t];
            T dt = StepSize(m.Delta[row + t] + bias, m.DeltaSoftplus);
            T dtu = dt * u, acc = T.Zero;
            T* Bs = Bt + (long)t * n, Cs = Ct + (long)t * n;
            for (int s = 0; s < n; s++)
            {
                h[s] = T.Exp(dt * A[s]) * h[s] + dtu * Bs[s];
                acc += h[s] * Cs[s];
            }
            T y = acc + skip * u;
            m.Y[row + t] = m.Z == null ? y : y * Silu(m.Z[row + t]);
        }
        if (m.FinalState != null)
            new Span<T>(h, n).CopyTo(new Span<T>(m.FinalState + ((long)b * m.DInner + d) * n, n));
    }

    /// <summary>
    /// The gradients of channel (b, d): writes <c>DU, DDelta, DZ, DInitialState</c> of (b, d), adds to <c>DA, DD,
    /// DDeltaBias</c> of channel d and to the partial <c>DBt, DCt</c> of <paramref name="group"/>. Recomputes the
    /// forward sweep into the scratch spans: <paramref name="states"/> (L, N), <paramref name="decays"/> (L, N),
    /// <paramref name="steps"/> and <paramref name="sums"/> (L).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(in ScanMemory<T> m, int b, int d, int group, Span<T> states, Span<T> decays, Span<T> steps, Span<T> sums)
    {
        if (Vectorized(m.DState))
        {
            BackwardVector(Unsafe.As<ScanMemory<T>, ScanMemory<float>>(ref Unsafe.AsRef(in m)), b, d, group,
                           System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(states), System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(decays),
                           System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(steps), System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(sums));
            return;
        }
        int length = m.Length, n = m.DState;
        long row = ((long)b * m.DInner + d) * length;
        long stateAt = ((long)b * m.DInner + d) * n;
        T* A = m.A + (long)d * n;
        T skip = m.D == null ? T.Zero : m.D[d];
        T bias = m.DeltaBias == null ? T.Zero : m.DeltaBias[d];
        T* Bt = m.Bt + (long)b * length * n, Ct = m.Ct + (long)b * length * n;
        long partial = ((long)group * m.Batch + b) * length * n;           // (group, b, 0, 0) of (groups, B, L, N)
        T* dBt = m.DBt + partial, dCt = m.DCt + partial;

        T* h0 = stackalloc T[n];
        LoadInitialState(m, b, d, h0);
        fixed (T* hs = states, a = decays, dts = steps, sum = sums)
        {
            // Forward again, keeping every state, decay, step size and pre-gate output.
            T* previous = h0;
            for (int t = 0; t < length; t++)
            {
                T u = m.U[row + t];
                T dt = StepSize(m.Delta[row + t] + bias, m.DeltaSoftplus);
                T dtu = dt * u, acc = T.Zero;
                T* h = hs + (long)t * n, at = a + (long)t * n, Bs = Bt + (long)t * n, Cs = Ct + (long)t * n;
                for (int s = 0; s < n; s++)
                {
                    at[s] = T.Exp(dt * A[s]);
                    h[s] = at[s] * previous[s] + dtu * Bs[s];
                    acc += h[s] * Cs[s];
                }
                dts[t] = dt;
                sum[t] = acc + skip * u;
                previous = h;
            }

            // Reverse sweep: dh carries d loss / d h_t back through h_t = a_t h_{t-1} + ...
            T* dh = stackalloc T[n];
            for (int s = 0; s < n; s++) dh[s] = T.Zero;
            T* dA = m.DA + (long)d * n;
            T dSkip = T.Zero, dBias = T.Zero;
            for (int t = length - 1; t >= 0; t--)
            {
                T u = m.U[row + t], dt = dts[t], g = m.DY[row + t];
                T dSum = g;                                                  // d loss / d (<h_t, C_t> + D u_t)
                if (m.Z != null)
                {
                    T zt = m.Z[row + t], sigmoid = Sigmoid(zt);
                    dSum = g * zt * sigmoid;
                    m.DZ[row + t] = g * sum[t] * sigmoid * (T.One + zt * (T.One - sigmoid));
                }
                dSkip += dSum * u;
                T du = dSum * skip, dDt = T.Zero;
                T* h = hs + (long)t * n, at = a + (long)t * n, Bs = Bt + (long)t * n, Cs = Ct + (long)t * n;
                T* hPrevious = t > 0 ? hs + (long)(t - 1) * n : h0;
                T* dBs = dBt + (long)t * n, dCs = dCt + (long)t * n;
                for (int s = 0; s < n; s++)
                {
                    T dhs = dh[s] + dSum * Cs[s];                            // d loss / d h_t
                    dCs[s] += dSum * h[s];
                    T decayed = at[s] * hPrevious[s];
                    dA[s] += dhs * decayed * dt;
                    dDt += dhs * (decayed * A[s] + Bs[s] * u);
                    dBs[s] += dhs * dt * u;
                    du += dhs * dt * Bs[s];
                    dh[s] = at[s] * dhs;                                     // d loss / d h_{t-1}
                }
                m.DU[row + t] = du;
                T dDelta = m.DeltaSoftplus ? dDt * SoftplusSlope(m.Delta[row + t] + bias) : dDt;
                m.DDelta[row + t] = dDelta;
                dBias += dDelta;
            }
            if (m.DD != null) m.DD[d] += dSkip;
            if (m.DDeltaBias != null) m.DDeltaBias[d] += dBias;
            if (m.DInitialState != null) new Span<T>(dh, n).CopyTo(new Span<T>(m.DInitialState + stateAt, n));
        }
    }

    private static void LoadInitialState(in ScanMemory<T> m, int b, int d, T* h)
    {
        var state = new Span<T>(h, m.DState);
        if (m.InitialState == null) state.Clear();
        else new Span<T>(m.InitialState + ((long)b * m.DInner + d) * m.DState, m.DState).CopyTo(state);
    }

    /// <summary>softplus as torch computes it (beta 1, threshold 20), or the identity.</summary>
    private static T StepSize(T x, bool softplus) =>
        !softplus || x > SoftplusThreshold ? x : T.LogP1(T.Exp(x));

    /// <summary>d softplus(x) / dx as torch's softplus backward: 1 above the threshold, sigmoid(x) below.</summary>
    private static T SoftplusSlope(T x)
    {
        if (x > SoftplusThreshold) return T.One;
        T e = T.Exp(x);
        return e / (e + T.One);
    }

    private static T Sigmoid(T x) => T.One / (T.One + T.Exp(-x));

    private static T Silu(T x) => x * Sigmoid(x);
}
