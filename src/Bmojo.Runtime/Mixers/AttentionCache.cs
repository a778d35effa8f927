using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The keys and values an <see cref="AttentionMixer"/> keeps: all of them (full attention) or the last
/// <c>w</c> (sliding window), in order of position, with RoPE already applied. It holds values only (no autograd history).</summary>
public sealed class AttentionCache : IMixerCache
{
    private Tensor keys;
    private Tensor values;

    internal AttentionCache(Tensor keys, Tensor values)
    {
        this.keys = keys.DetachFromDisposeScope();
        this.values = values.DetachFromDisposeScope();
    }

    /// <summary>Cached keys <c>(B, Hkv, S, Dh)</c>, the last of them at position <see cref="Position"/> - 1.</summary>
    public Tensor Keys => keys;

    /// <summary>Cached values <c>(B, Hkv, S, Dh)</c>.</summary>
    public Tensor Values => values;

    public long Position { get; private set; }

    /// <summary>Appends a chunk's keys and values, keeping at most <paramref name="keep"/> (all when null).</summary>
    internal void Append(Tensor newKeys, Tensor newValues, long? keep)
    {
        Tensor k = cat(new[] { keys, newKeys }, 2), v = cat(new[] { values, newValues }, 2);  // (B, Hkv, S + T, Dh)
        if (keep is long w && k.shape[2] > w)
        {
            k = k[.., .., ^(int)w..];
            v = v[.., .., ^(int)w..];
        }
        keys.Dispose();
        values.Dispose();
        keys = k.detach().DetachFromDisposeScope();
        values = v.detach().DetachFromDisposeScope();
        Position += newKeys.shape[2];
    }

    public void Dispose()
    {
        keys.Dispose();
        values.Dispose();
    }
}
