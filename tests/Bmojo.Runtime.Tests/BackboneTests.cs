using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

public sealed class BackboneTests
{
    private const int V = 50, D = 16;
    private static readonly NormOptions Rms = new(NormKind.RmsNorm);
    private static readonly AttentionOptions Attention = new(Heads: 4, KvHeads: 2, Window: 5, RotaryDim: 4, Bias: true);
    private static readonly MambaOptions Mamba = new(DState: 4, DConv: 3, Expand: 2, Bias: true);
    private static readonly MlpOptions Mlp = new(Hidden: 24, Bias: true);
    private static readonly MoeOptions Moe = new(Experts: 3, TopK: 2, new MlpOptions(Hidden: 8));

    /// <summary>A small hybrid: mamba + MLP, attention (sliding) + MoE, mamba alone, full attention + MoE.</summary>
    private static Backbone Hybrid() => new(V, D, new[]
    {
        new Block(D, 0, new MambaMixer(D, 0, Mamba), Rms, new Blocks.Mlp(D, Mlp)),
        new Block(D, 1, new AttentionMixer(D, 1, Attention), Rms, new MixtureOfExperts(D, Moe)),
        new Block(D, 2, new MambaMixer(D, 2, Mamba), Rms, null),
        new Block(D, 3, new AttentionMixer(D, 3, Attention with { Window = null }), Rms, new MixtureOfExperts(D, Moe)),
    }, Rms);

    [Fact]
    public void ParameterCountEqualsTheArchitectureFormula()
    {
        using Backbone backbone = Hybrid();
        long dInner = 2 * D, R = MambaOptions.AutoDtRank(D), N = 4, Dh = D / 4, H = 4, Hkv = 2;
        long mamba = D * 2 * dInner + 2 * dInner + dInner * 3 + dInner + dInner * (R + 2 * N) + R * dInner + dInner
                   + dInner * N + dInner + dInner * D + D;
        long attention = D * Dh * (H + 2 * Hkv) + Dh * (H + 2 * Hkv) + H * Dh * D + D;
        long mlp = D * 2 * 24 + 2 * 24 + 24 * D + D;
        long moe = D * 3 + 3 * (D * 2 * 8 + 8 * D);
        long norms = 7 * D + D;                                                          // 4 norm + 3 norm2, norm_f
        long formula = V * D + mamba + mlp + attention + moe + mamba + attention + moe + norms;
        Assert.Equal(formula, backbone.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void StateDictNamesFollowMixerModel()
    {
        using Backbone backbone = Hybrid();
        var keys = backbone.state_dict().Keys.ToHashSet();
        foreach (string key in new[] { "embedding.weight", "norm_f.weight", "layers.0.norm.weight", "layers.0.mixer.A_log",
                                       "layers.0.mixer.dt_proj.bias", "layers.0.mixer.conv1d.weight", "layers.0.norm2.weight",
                                       "layers.0.mlp.fc1.weight", "layers.1.mixer.in_proj.weight", "layers.1.mlp.router.weight",
                                       "layers.1.mlp.experts.2.fc2.weight", "layers.2.mixer.x_proj.weight", "layers.3.mixer.out_proj.bias" })
            Assert.Contains(key, keys);
        Assert.DoesNotContain("layers.2.norm2.weight", keys);
    }

    [Fact]
    public void InitialisesLikeTheReference()
    {
        manual_seed(42);
        using var backbone = new Backbone(1000, 64, Enumerable.Range(0, 2)
            .Select(i => new Block(64, i, new AttentionMixer(64, i, new AttentionOptions(4, 4, Bias: true)), Rms, new Blocks.Mlp(64, new MlpOptions(128, Bias: true))))
            .ToList(), Rms);
        var state = backbone.state_dict();
        Assert.InRange(state["embedding.weight"].std().item<float>(), 0.019, 0.021);
        Assert.Equal(0f, state["layers.0.mixer.in_proj.bias"].abs().max().item<float>());
        Assert.Equal(0f, state["layers.1.mlp.fc2.bias"].abs().max().item<float>());
        // Default (kaiming-uniform, bound 1/sqrt(fan_in)) init: std 1/sqrt(3 fan_in); out_proj and fc2 divided by
        // sqrt(2 residuals * 2 layers) = 2.
        double Std(long fanIn, double divide) => 1 / Math.Sqrt(3.0 * fanIn) / divide;
        Assert.InRange(state["layers.0.mixer.in_proj.weight"].std().item<float>(), Std(64, 1) * 0.95, Std(64, 1) * 1.05);
        Assert.InRange(state["layers.0.mixer.out_proj.weight"].std().item<float>(), Std(64, 2) * 0.95, Std(64, 2) * 1.05);
        Assert.InRange(state["layers.1.mlp.fc2.weight"].std().item<float>(), Std(128, 2) * 0.93, Std(128, 2) * 1.07);

        using var mamba = new Backbone(10, 32, new[] { new Block(32, 0, new MambaMixer(32, 0, new MambaOptions(Bias: true)), Rms, null) }, Rms);
        Tensor dt = nn.functional.softplus(mamba.state_dict()["layers.0.mixer.dt_proj.bias"]);
        Assert.True(dt.min().item<float>() >= 0.0009f, "the dt bias is not re-initialised to zero");
    }

    [Fact]
    public void RecurrentRunsEqualTheFullForward()
    {
        manual_seed(43);
        using Backbone backbone = Hybrid();
        Tensor tokens = randint(0, V, new long[] { 2, 14 });
        Tensor full = backbone.forward(tokens);
        using ModelCache cache = backbone.AllocateCache(2);
        var pieces = new List<Tensor>();
        foreach (var (start, length) in new[] { (0, 6), (6, 1), (7, 1), (8, 5), (13, 1) })
            pieces.Add(backbone.Forward(tokens[.., start..(start + length)], cache));
        TensorAssert.Close(full, cat(pieces, 1), atol: 1e-4, what: "backbone recurrent vs full");
        Assert.Equal(14, cache.Position);
    }

    [Fact]
    public void AuxLossSumsTheMoeLayers()
    {
        manual_seed(44);
        using Backbone backbone = Hybrid();
        backbone.forward(randint(0, V, new long[] { 2, 7 }));
        var moeLosses = backbone.modules().OfType<MixtureOfExperts>().Select(m => m.AuxLoss!.item<float>()).ToArray();
        Assert.Equal(2, moeLosses.Length);
        Assert.Equal(moeLosses.Sum(), backbone.AuxLoss!.item<float>(), 6);

        using var plain = new Backbone(V, D, new[] { new Block(D, 0, new MambaMixer(D, 0, Mamba), Rms, null) }, Rms);
        plain.forward(randint(0, V, new long[] { 1, 3 }));
        Assert.Null(plain.AuxLoss);
    }

    [Fact]
    public void RejectsTokensOutsideTheVocabulary()
    {
        using Backbone backbone = Hybrid();
        var error = Assert.Throws<ArgumentException>(() => backbone.forward(tensor(new long[] { 1, 50 }).reshape(1, 2)));
        Assert.Contains("token ids must be in [0, 50), got values in [1, 50]", error.Message);
    }
}
