namespace Bmojo.Runtime.Mixers;

/// <summary>The Mamba selective SSM, parameterised as state-spaces/mamba <c>mamba_simple.Mamba</c>.</summary>
/// <param name="DState">N, the fading-state size per channel.</param>
/// <param name="DConv">Width of the causal depthwise convolution.</param>
/// <param name="Expand">d_inner = Expand * d_model.</param>
/// <param name="DtRank">Rank of the dt projection (the reference's "auto" is ceil(d_model / 16)).</param>
/// <param name="DtMin">Lower end of the log-uniform dt initialisation range.</param>
/// <param name="DtMax">Upper end of the log-uniform dt initialisation range.</param>
/// <param name="DtInitFloor">Floor applied to the initial dt.</param>
/// <param name="ConvBias">Bias on the depthwise convolution.</param>
/// <param name="Bias">Bias on in_proj and out_proj.</param>
public sealed record MambaOptions(
    int DState = 16,
    int DConv = 4,
    int Expand = 2,
    int DtRank = 0,
    double DtMin = 0.001,
    double DtMax = 0.1,
    double DtInitFloor = 1e-4,
    bool ConvBias = true,
    bool Bias = false) : MixerOptions
{
    /// <summary>The reference's dt_rank="auto": ceil(d_model / 16).</summary>
    public static int AutoDtRank(int dModel) => (dModel + 15) / 16;
}
