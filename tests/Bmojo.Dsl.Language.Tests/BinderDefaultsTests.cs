using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>Every key's default, as docs/spec-language.md states it.</summary>
public sealed class BinderDefaultsTests
{
    private static ModelPlan Model(string body) =>
        TestSpecs.Model("model A {\n  vocab = 64\n  d_model = 64\n  layers = 2\n" + body + "\n}");

    [Fact]
    public void Model_defaults()
    {
        ModelPlan model = Model("  mixer = mamba");
        Assert.Equal(new ModelSizes(64, 64, 2, NormKind.RmsNorm, 1e-5, TiedEmbeddings: true), model.Sizes);
        Assert.All(model.Layers, layer => Assert.Null(layer.FeedForward));
        Assert.Equal(new[] { 0, 1 }, model.Layers.Select(l => l.Index));
        Assert.Equal("Test.Models", model.Namespace);
        Assert.Null(model.Extends);
    }

    [Fact]
    public void Attention_defaults()
    {
        var attention = Assert.IsType<AttentionPlan>(Model("  mixer = attention { heads = 4 }").Layers[0].Mixer);
        Assert.Equal(new AttentionPlan(Heads: 4, KvHeads: 4, Window: null, RotaryDim: 16, RopeBase: 10000, Bias: false), attention);
    }

    [Fact]
    public void Attention_keys()
    {
        var attention = Assert.IsType<AttentionPlan>(Model(
            "  mixer = attention { heads = 8, kv_heads = 2, window = 128, rotary_dim = 4, rope_base = 500000, bias = true }").Layers[0].Mixer);
        Assert.Equal(new AttentionPlan(8, 2, 128, 4, 500000, true), attention);
        var noRope = Assert.IsType<AttentionPlan>(Model("  mixer = attention { heads = 4, rope = false, window = none }").Layers[0].Mixer);
        Assert.Equal(0, noRope.RotaryDim);
        Assert.Null(noRope.Window);
    }

    [Fact]
    public void Mamba_defaults_are_the_reference_implementation_s()
    {
        var mamba = Assert.IsType<MambaPlan>(Model("  mixer = mamba").Layers[0].Mixer);
        Assert.Equal(new MambaPlan(DState: 16, DConv: 4, Expand: 2, DtRank: 4, DtMin: 0.001, DtMax: 0.1, DtInitFloor: 1e-4, ConvBias: true, Bias: false), mamba);
        var explicitRank = Assert.IsType<MambaPlan>(Model("  mixer = mamba { dt_rank = 7, conv_bias = false }").Layers[0].Mixer);
        Assert.Equal((7, false), (explicitRank.DtRank, explicitRank.ConvBias));
    }

    [Fact]
    public void Dt_rank_auto_rounds_up()
    {
        var mamba = Assert.IsType<MambaPlan>(TestSpecs.Model("model A {\n  vocab = 8\n  d_model = 33\n  layers = 1\n  mixer = mamba\n}").Layers[0].Mixer);
        Assert.Equal(3, mamba.DtRank);
    }

    [Fact]
    public void Bmojo_defaults()
    {
        var bmojo = Assert.IsType<BmojoPlan>(Model("  mixer = bmojo { heads = 4 }").Layers[0].Mixer);
        Assert.Equal(new AttentionPlan(4, 4, null, 16, 10000, false), bmojo.Attention);
        Assert.Equal(new MambaPlan(16, 4, 2, 4, 0.001, 0.1, 1e-4, true, false), bmojo.Fading);
        Assert.Equal((512, 512, 256, 1.0, PredictorKind.Identity, false), (bmojo.Window, bmojo.FadingTokens, bmojo.EideticCapacity, bmojo.Threshold, bmojo.Predictor, bmojo.TiedFadingProjections));
        Assert.Null(bmojo.Retrieval);
    }

    [Fact]
    public void Bmojo_keys_and_retrieval()
    {
        var bmojo = Assert.IsType<BmojoPlan>(Model(
            "  mixer = bmojo { heads = 4, kv_heads = 2, d_state = 8, window = 0, fading_tokens = 1, eidetic_capacity = 0, threshold = -inf,\n" +
            "    predictor = learned, tied_fading = true, bias = true, retrieval = retrieval { top_k = 3, chunk_size = 16, store = \"runs/store\" } }").Layers[0].Mixer);
        Assert.Equal((0, 1, 0, double.NegativeInfinity, PredictorKind.Learned, true), (bmojo.Window, bmojo.FadingTokens, bmojo.EideticCapacity, bmojo.Threshold, bmojo.Predictor, bmojo.TiedFadingProjections));
        Assert.Equal(2, bmojo.Attention.KvHeads);
        Assert.True(bmojo.Attention.Bias);
        Assert.Equal((8, true), (bmojo.Fading!.DState, bmojo.Fading.Bias));
        Assert.Equal(new RetrievalPlan(3, 16, "runs/store"), bmojo.Retrieval);
        var inProcess = Assert.IsType<BmojoPlan>(Model("  mixer = bmojo { heads = 4, threshold = inf, retrieval = retrieval }").Layers[0].Mixer);
        Assert.Equal(new RetrievalPlan(2, 64, null), inProcess.Retrieval);
        Assert.Equal(double.PositiveInfinity, inProcess.Threshold);
    }

    [Fact]
    public void Bmojo_without_ssm_has_no_fading_path()
    {
        var bmojo = Assert.IsType<BmojoPlan>(Model("  mixer = bmojo { heads = 4, ssm = false, window = 64, eidetic_capacity = 0 }").Layers[0].Mixer);
        Assert.Null(bmojo.Fading);
        Assert.Equal((64, 0), (bmojo.Window, bmojo.FadingTokens));
    }

    [Fact]
    public void Bmojo_f_fixes_the_eidetic_capacity_to_zero()
    {
        var bmojo = Assert.IsType<BmojoPlan>(Model("  mixer = bmojo_f { heads = 4, window = 16 }").Layers[0].Mixer);
        Assert.Equal((16, 16, 0), (bmojo.Window, bmojo.FadingTokens, bmojo.EideticCapacity));
        Assert.Null(bmojo.Retrieval);
        Assert.StartsWith("bmojo-f", bmojo.Describe());
    }

    [Fact]
    public void Mlp_and_moe_defaults()
    {
        ModelPlan model = Model("  mixer = mamba\n  mlp = mlp\n  mlp at [1] = moe { experts = 8 }");
        Assert.Equal(new MlpPlan(Hidden: 256, Activation.Silu, Gated: true, Bias: false), model.Layers[0].FeedForward);
        Assert.Equal(new MoePlan(8, TopK: 2, new MlpPlan(256, Activation.Silu, true, false), AuxLossWeight: 0.01), model.Layers[1].FeedForward);
        ModelPlan stated = Model("  mixer = mamba\n  mlp = moe { experts = 4, top_k = 1, hidden = 32, activation = relu, gated = false, bias = true, aux_loss_weight = 0 }");
        Assert.Equal(new MoePlan(4, 1, new MlpPlan(32, Activation.Relu, false, true), 0), stated.Layers[0].FeedForward);
    }

    [Fact]
    public void Model_keys()
    {
        ModelPlan model = Model("  norm = layernorm\n  norm_eps = 1e-6\n  tied_embeddings = false\n  mixer = mamba");
        Assert.Equal(new ModelSizes(64, 64, 2, NormKind.LayerNorm, 1e-6, false), model.Sizes);
    }
}
