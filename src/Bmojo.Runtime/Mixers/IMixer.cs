using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>
/// The one contract of a token mixer (attention, Mamba, B'MOJO): built from (d_model, layer index, options),
/// a full parallel forward <c>(B, L, D) -> (B, L, D)</c>, and recurrent inference over a cache.
/// </summary>
public interface IMixer
{
    /// <summary>The full parallel forward: <c>(B, L, D) -> (B, L, D)</c>, causal.</summary>
    Tensor forward(Tensor x);

    /// <summary>An empty inference cache for <paramref name="batch"/> sequences, on this mixer's device and dtype.</summary>
    IMixerCache AllocateCache(long batch);

    /// <summary>
    /// Runs a chunk <c>(B, T, D)</c>, T &gt;= 1, that continues the sequence held by <paramref name="cache"/>, and
    /// advances the cache. Chunk-by-chunk and token-by-token runs equal the full forward on the whole sequence.
    /// </summary>
    Tensor Forward(Tensor x, IMixerCache cache);

    /// <summary>Which implementation the last forward (full or cached) ran; null before any. Every mixer sets it
    /// through <see cref="Mixer"/>.</summary>
    MixerPath? LastPath { get; }
}

/// <summary>The state a mixer carries between chunks of one batch of sequences.</summary>
public interface IMixerCache : IDisposable
{
    /// <summary>How many tokens of each sequence the cache has seen.</summary>
    long Position { get; }
}
