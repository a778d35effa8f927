using System.Globalization;

namespace Bmojo.Cli.Tasks;

/// <summary>The task data's own random stream: xoshiro256** seeded by SplitMix64. Its whole state is four words,
/// so a checkpoint can save it and a resumed run draws exactly the batches the uninterrupted run would have.</summary>
public sealed class DataRng
{
    private readonly ulong[] s = new ulong[4];

    public DataRng(ulong seed)
    {
        ulong x = seed;
        for (int i = 0; i < 4; i++) s[i] = SplitMix64(ref x);
    }

    private DataRng(ulong[] state) => Array.Copy(state, s, 4);

    /// <summary>The state as 64 hex digits (what a checkpoint stores).</summary>
    public string State => string.Concat(s.Select(w => w.ToString("x16", CultureInfo.InvariantCulture)));

    /// <summary>A stream continuing from <paramref name="state"/>, as written by <see cref="State"/>.</summary>
    public static DataRng FromState(string state)
    {
        if (state.Length != 64) throw new FormatException($"data RNG state must be 64 hex digits, got {state.Length}");
        var words = new ulong[4];
        for (int i = 0; i < 4; i++)
            words[i] = ulong.Parse(state.AsSpan(16 * i, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        if (words.All(w => w == 0)) throw new FormatException("data RNG state is all zero");
        return new DataRng(words);
    }

    public ulong NextUInt64()
    {
        ulong result = RotateLeft(s[1] * 5, 7) * 9;
        ulong t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = RotateLeft(s[3], 45);
        return result;
    }

    /// <summary>Uniform in [0, <paramref name="n"/>), unbiased (Lemire's multiply-and-reject).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be positive");
        ulong range = (ulong)n;
        ulong threshold = (0UL - range) % range;
        while (true)
        {
            ulong high = Math.BigMul(NextUInt64(), range, out ulong low);
            if (low >= threshold) return (int)high;
        }
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
