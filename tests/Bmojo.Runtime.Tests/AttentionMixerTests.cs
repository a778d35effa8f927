using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.BmojoAttention;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

public sealed class AttentionMixerTests
{
    public static TheoryData<int, int, int?, int> Cases => new()
    {
        // heads, kv_heads, window, rotary_dim (d_model 16)
        { 2, 2, null, 0 },     // MHA, full causal, no RoPE
        { 4, 2, 3, 2 },        // GQA, sliding window 3, RoPE on 2 of 4 dims
        { 4, 1, null, 4 },     // MQA, full, RoPE on the whole head
        { 2, 1, 1, 8 },        // window 1: each token sees itself only
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EqualsMaskedAttentionOnExplicitProjections(int heads, int kvHeads, int? window, int rotaryDim)
    {
        manual_seed(20);
        var options = new AttentionOptions(heads, kvHeads, window, rotaryDim, RopeBase: 100.0, Bias: true);
        using var mixer = new AttentionMixer(16, 0, options);
        Tensor x = randn(2, 9, 16);
        TensorAssert.Close(Oracle(mixer, x, options), mixer.forward(x), atol: 1e-5, what: "attention vs oracle");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RecurrentRunsEqualTheFullForward(int heads, int kvHeads, int? window, int rotaryDim)
    {
        manual_seed(21);
        using var mixer = new AttentionMixer(16, 0, new AttentionOptions(heads, kvHeads, window, rotaryDim));
        Tensor x = randn(2, 13, 16);
        Tensor full = mixer.forward(x);
        using var cache = (AttentionCache)mixer.AllocateCache(2);
        var pieces = new List<Tensor>();
        foreach (var (start, length) in new[] { (0, 5), (5, 1), (6, 1), (7, 4), (11, 1), (12, 1) })
            pieces.Add(mixer.Forward(x[.., start..(start + length)], cache));
        TensorAssert.Close(full, cat(pieces, 1), atol: 1e-5, what: "recurrent vs full");
        Assert.Equal(13, cache.Position);
        Assert.Equal(window is int w ? Math.Min(w, 13) : 13, cache.Keys.shape[2]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(2)]
    public void GradientsMatchCentralDifferences(int? window)
    {
        manual_seed(22);
        using var mixer = new AttentionMixer(8, 0, new AttentionOptions(2, 1, window, RotaryDim: 2, Bias: true));
        mixer.to(ScalarType.Float64);
        Tensor x = randn(2, 5, 8, ScalarType.Float64).requires_grad_();
        Tensor weight = randn(2, 5, 8, ScalarType.Float64);
        GradCheck.Run(() => (mixer.forward(x) * weight).sum(), GradCheck.Parameters(mixer).Append(("x", x)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void HasTheReferenceNamesAndTheFormulaCount(bool bias)
    {
        const long D = 32, H = 4, Hkv = 2, Dh = D / H;
        using var mixer = new AttentionMixer((int)D, 0, new AttentionOptions((int)H, (int)Hkv, Bias: bias));
        var expected = bias ? new[] { "in_proj.bias", "in_proj.weight", "out_proj.bias", "out_proj.weight" }
                            : new[] { "in_proj.weight", "out_proj.weight" };
        Assert.Equal(expected, mixer.state_dict().Keys.Order());
        long formula = D * Dh * (H + 2 * Hkv) + (bias ? Dh * (H + 2 * Hkv) : 0) + H * Dh * D + (bias ? D : 0);
        Assert.Equal(formula, mixer.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void RotaryScoresDependOnlyOnTheDistance()
    {
        manual_seed(23);
        var rope = new RotaryEmbedding(6, 10000.0);
        Tensor q = randn(1, 1, 1, 8), k = randn(1, 1, 1, 8);
        double Score(long qAt, long kAt) => (rope.Apply(q, qAt) * rope.Apply(k, kAt)).sum().item<float>();
        Assert.Equal(Score(2, 0), Score(7, 5), 4);
        Assert.Equal(Score(40, 3), Score(37, 0), 4);
        Assert.NotEqual(Score(2, 0), Score(3, 0), 2);
        // The two dims past rotary_dim pass through unchanged.
        TensorAssert.Close(q[.., .., .., 6..], rope.Apply(q, 9)[.., .., .., 6..], 0.0, what: "pass-through dims");
    }

    [Fact]
    public void RejectsBadOptionsAndInputsWithClearMessages()
    {
        var error = Assert.Throws<ArgumentException>(() => new AttentionMixer(16, 2, new AttentionOptions(4, 3)));
        Assert.Contains("AttentionMixer (layer 2): kv_heads (3) must divide heads (4)", error.Message);
        error = Assert.Throws<ArgumentException>(() => new AttentionMixer(16, 2, new AttentionOptions(4, 4, RotaryDim: 6)));
        Assert.Contains("rotary_dim must be even and at most the head size 4, got 6", error.Message);
        using var mixer = new AttentionMixer(16, 0, new AttentionOptions(4, 4));
        error = Assert.Throws<ArgumentException>(() => mixer.Forward(randn(1, 2, 16), new MambaMixer(16, 1, new MambaOptions()).AllocateCache(1)));
        Assert.Contains("expected an AttentionCache, got MambaCache", error.Message);
    }

    /// <summary>The same function written out: explicit projections, RoPE pair by pair, an explicit mask.</summary>
    private static Tensor Oracle(AttentionMixer mixer, Tensor x, AttentionOptions options)
    {
        var state = mixer.state_dict();
        long batch = x.shape[0], length = x.shape[1], heads = options.Heads, kvHeads = options.KvHeads, dh = x.shape[2] / heads;
        Tensor qkv = nn.functional.linear(x, state["in_proj.weight"], state["in_proj.bias"]);
        Tensor Heads(long from, long count) => qkv[.., .., (int)(from * dh)..(int)((from + count) * dh)]
                                               .reshape(batch, length, count, dh).permute(0, 2, 1, 3);   // (B, h, L, Dh)
        Tensor q = Rotate(Heads(0, heads), options), k = Rotate(Heads(heads, kvHeads), options);
        Tensor v = Heads(heads + kvHeads, kvHeads);

        var allowed = new bool[length * length];
        for (long t = 0; t < length; t++)
            for (long j = 0; j < length; j++)
                allowed[t * length + j] = j <= t && (options.Window is not int w || j > t - w);
        Tensor mask = tensor(allowed).reshape(1, 1, length, length);
        Tensor context = MaskedAttention.Run(q, k, v, mask);                                              // (B, H, L, Dh)
        Tensor merged = context.permute(0, 2, 1, 3).reshape(batch, length, heads * dh);
        return nn.functional.linear(merged, state["out_proj.weight"], state["out_proj.bias"]);
    }

    private static Tensor Rotate(Tensor x, AttentionOptions options)
    {
        long r = options.RotaryDim, half = r / 2;
        Tensor rotated = x.clone();
        for (long p = 0; p < x.shape[2]; p++)
            for (long i = 0; i < half; i++)
            {
                double angle = p * Math.Pow(options.RopeBase, -2.0 * i / r);
                Tensor x1 = x[.., .., p, i], x2 = x[.., .., p, i + half];
                rotated[.., .., p, i] = x1 * Math.Cos(angle) - x2 * Math.Sin(angle);
                rotated[.., .., p, i + half] = x2 * Math.Cos(angle) + x1 * Math.Sin(angle);
            }
        return rotated;
    }
}
