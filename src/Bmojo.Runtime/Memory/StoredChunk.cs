using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Memory;

/// <summary>c consecutive tokens evicted from the eidetic memory of one sequence, as kept in a chunk store.</summary>
/// <param name="Keys">Keys of the chunk's tokens, per key/value head <c>(Hkv, c, Dh)</c> (after RoPE).</param>
/// <param name="Values">Values <c>(Hkv, c, Dv)</c>.</param>
/// <param name="Positions">The tokens' positions in the sequence, increasing.</param>
public sealed record StoredChunk(Tensor Keys, Tensor Values, long[] Positions)
{
    /// <summary>The mean key per head <c>(Hkv, Dh)</c> as floats: what retrieval scores queries against.</summary>
    public float[][] MeanKey { get; } = MeanPerHead(Keys);

    internal static float[][] MeanPerHead(Tensor keys)
    {
        if (keys.dim() != 3)
            throw new ArgumentException($"stored chunk: keys must be (Hkv, c, Dh), got ({string.Join(", ", keys.shape)})");
        using var scope = NewDisposeScope();
        Tensor mean = keys.detach().to_type(ScalarType.Float32).mean([1]).cpu();                 // (Hkv, Dh)
        return Enumerable.Range(0, (int)mean.shape[0]).Select(h => mean[h].data<float>().ToArray()).ToArray();
    }
}
