using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Mixers;

namespace Bmojo.Runtime;

/// <summary>One layer of a resolved architecture: its mixer, its feed-forward (none: mixer-only block) and what it
/// keeps per sequence at inference.</summary>
public sealed record LayerSettings(int Index, MixerOptions Mixer, FeedForwardOptions? FeedForward, InferenceMemory Memory);

/// <summary>What one layer keeps per sequence at inference, in floats, as its kind in the spec compiler computes it.</summary>
/// <param name="FixedFloats">State of a fixed size: an SSM's state <c>d_inner·N</c> and conv state <c>d_inner·(d_conv-1)</c>.</param>
/// <param name="KvFloatsPerToken">Keys and values kept per token, <c>2·Hkv·Dh</c>.</param>
/// <param name="KvTokenCap">The most tokens kept (a window; w + m_f + m_e); null: every token of the sequence.</param>
/// <param name="RetrievalFloats">Retrieved tokens attended per chunk, <c>2·Hkv·Dh·k·c</c>; the store itself is outside.</param>
public sealed record InferenceMemory(long FixedFloats, long KvFloatsPerToken, int? KvTokenCap, long RetrievalFloats);

/// <summary>The resolved settings of a generated model: everything its spec said, defaults filled in.</summary>
/// <param name="Kernels">The kernel policy: the build's default in a generated class's settings
/// (<c>BmojoFusedKernels=false</c>: <see cref="KernelPolicy.Unfused"/>), the one it was built with in
/// <see cref="LanguageModel.Settings"/>.</param>
public sealed record ModelSettings(
    string Name,
    int Vocab,
    int DModel,
    NormOptions Norm,
    bool TiedEmbeddings,
    IReadOnlyList<LayerSettings> Layers,
    long ParameterCount,
    KernelPolicy Kernels);
