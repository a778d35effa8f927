using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>
/// Rotary position embedding on the first <c>rotary_dim</c> dims of each head, GPT-NeoX "rotate half" convention
/// (flash-attn <c>RotaryEmbedding</c>, interleaved = false): with <c>x1 = x[:r/2]</c>, <c>x2 = x[r/2:r]</c> and
/// <c>theta_i = base^(-2i/r)</c>, position p maps <c>(x1, x2)</c> to <c>(x1 cos - x2 sin, x2 cos + x1 sin)</c>
/// at angles <c>p theta_i</c>; dims past r pass through.
/// </summary>
public sealed class RotaryEmbedding
{
    private readonly long rotaryDim;
    private readonly double ropeBase;

    public RotaryEmbedding(long rotaryDim, double ropeBase)
    {
        if (rotaryDim < 0 || rotaryDim % 2 != 0) throw new ArgumentOutOfRangeException(nameof(rotaryDim), rotaryDim, "rotary_dim must be even and at least 0");
        if (!(ropeBase > 1)) throw new ArgumentOutOfRangeException(nameof(ropeBase), ropeBase, "the RoPE base must be above 1");
        (this.rotaryDim, this.ropeBase) = (rotaryDim, ropeBase);
    }

    public long RotaryDim => rotaryDim;

    /// <summary>Rotates <paramref name="x"/> <c>(B, H, L, Dh)</c> whose tokens sit at positions
    /// <c>offset .. offset + L - 1</c>.</summary>
    public Tensor Apply(Tensor x, long offset)
    {
        if (rotaryDim == 0) return x.alias();
        using var scope = NewDisposeScope();
        long length = x.shape[2], half = rotaryDim / 2;
        ScalarType angleType = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor inverseFrequency = pow(ropeBase, -arange(0, rotaryDim, 2, angleType, x.device) / rotaryDim); // (r/2)
        Tensor positions = arange(offset, offset + length, 1, angleType, x.device);                          // (L)
        Tensor angles = outer(positions, inverseFrequency);                                                   // (L, r/2)
        Tensor cos = angles.cos().to_type(x.dtype), sin = angles.sin().to_type(x.dtype);
        Tensor x1 = x[.., .., .., ..(int)half], x2 = x[.., .., .., (int)half..(int)rotaryDim];                // (B, H, L, r/2)
        Tensor rotated = cat(new[] { x1 * cos - x2 * sin, x2 * cos + x1 * sin, x[.., .., .., (int)rotaryDim..] }, -1);
        return rotated.MoveToOuterDisposeScope();                                                             // (B, H, L, Dh)
    }
}
