namespace Bmojo.Runtime.Mixers;

/// <summary>Mamba-2's SSD mixer, parameterised as state-spaces/mamba <c>Mamba2</c> (its defaults).</summary>
/// <param name="DState">N, the state size per head.</param>
/// <param name="DConv">Width of the causal depthwise convolution over x, B and C.</param>
/// <param name="Expand">d_inner = Expand * d_model.</param>
/// <param name="HeadDim">P, channels per head; heads H = d_inner / P.</param>
/// <param name="NGroups">G, groups of heads sharing B and C; divides H.</param>
/// <param name="ChunkSize">Tokens per chunk of the chunked SSD algorithm (the function does not depend on it).</param>
/// <param name="DtMin">Lower end of the log-uniform dt initialisation range.</param>
/// <param name="DtMax">Upper end of the log-uniform dt initialisation range.</param>
/// <param name="DtInitFloor">Floor applied to the initial dt.</param>
/// <param name="ConvBias">Bias on the depthwise convolution.</param>
/// <param name="Bias">Bias on in_proj and out_proj.</param>
public sealed record SsdOptions(
    int DState = 128,
    int DConv = 4,
    int Expand = 2,
    int HeadDim = 64,
    int NGroups = 1,
    int ChunkSize = 256,
    double DtMin = 0.001,
    double DtMax = 0.1,
    double DtInitFloor = 1e-4,
    bool ConvBias = true,
    bool Bias = false) : MixerOptions
{
    /// <summary>The range A = -uniform(1, 16) per head is drawn from (state-spaces/mamba <c>A_init_range</c>).</summary>
    public const double AInitMin = 1, AInitMax = 16;
}
