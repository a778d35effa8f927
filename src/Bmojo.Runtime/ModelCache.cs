using Bmojo.Runtime.Mixers;

namespace Bmojo.Runtime;

/// <summary>The inference cache of a whole model: one mixer cache per layer.</summary>
public sealed class ModelCache : IDisposable
{
    public ModelCache(IReadOnlyList<IMixerCache> layers) => Layers = layers;

    public IReadOnlyList<IMixerCache> Layers { get; }

    /// <summary>Tokens seen so far per sequence.</summary>
    public long Position => Layers.Count == 0 ? 0 : Layers[0].Position;

    public void Dispose()
    {
        foreach (IMixerCache cache in Layers) cache.Dispose();
    }
}
