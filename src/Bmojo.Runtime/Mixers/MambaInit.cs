using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The initialisation of state-spaces/mamba <c>Mamba.__init__</c>.</summary>
internal static class MambaInit
{
    /// <summary>dt_proj: weight uniform in ±dt_rank^-0.5 (dt_scale 1, dt_init "random"); bias the inverse softplus of
    /// dt drawn log-uniform in [dt_min, dt_max] and floored at dt_init_floor, so softplus(bias) = dt at init.</summary>
    public static void DtProjection(Linear dtProj, long dtRank, MambaOptions options)
    {
        using var noGrad = no_grad();
        double std = Math.Pow(dtRank, -0.5);
        nn.init.uniform_(dtProj.weight!, -std, std);
        long dInner = dtProj.weight!.shape[0];
        double logMin = Math.Log(options.DtMin), logMax = Math.Log(options.DtMax);
        Tensor dt = exp(rand(dInner) * (logMax - logMin) + logMin).clamp_min(options.DtInitFloor);
        Tensor inverseSoftplus = dt + log(-expm1(-dt));                                   // softplus(x) = dt
        dtProj.bias!.copy_(inverseSoftplus);
    }

    /// <summary>S4D-real: A = -(1, 2, ..., N) in every channel, stored as A_log = log(1..N) <c>(d_inner, N)</c>.</summary>
    public static Tensor ALog(long dInner, long dState) =>
        log(arange(1, dState + 1, dtype: ScalarType.Float32)).unsqueeze(0).repeat(dInner, 1).contiguous();
}
