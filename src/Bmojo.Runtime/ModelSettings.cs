using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Mixers;

namespace Bmojo.Runtime;

/// <summary>One layer of a resolved architecture: its mixer and its feed-forward (none: mixer-only block).</summary>
public sealed record LayerSettings(int Index, MixerOptions Mixer, FeedForwardOptions? FeedForward);

/// <summary>The resolved settings of a generated model: everything its spec said, defaults filled in.</summary>
public sealed record ModelSettings(
    string Name,
    int Vocab,
    int DModel,
    NormOptions Norm,
    bool TiedEmbeddings,
    IReadOnlyList<LayerSettings> Layers,
    long ParameterCount);
