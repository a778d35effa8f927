using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>Model plans built by hand, so the emitter is tested apart from the parser and binder. Between them
/// they use every mixer, feed-forward and option the plan model has. Parameter counts are arbitrary: the emitter
/// prints what the plan says.</summary>
public static class HandBuiltPlans
{
    private static readonly AttentionPlan FullAttention = new(Heads: 4, KvHeads: 2, Window: null, RotaryDim: 16, RopeBase: 10000, Bias: false);
    private static readonly MlpPlan GatedMlp = new(Hidden: 128, Activation.Silu, Gated: true, Bias: false);
    private static readonly MambaPlan Mamba = new(DState: 16, DConv: 4, Expand: 2, DtRank: 4, DtMin: 0.001, DtMax: 0.1,
                                                  DtInitFloor: 1e-4, ConvBias: true, Bias: false);

    /// <summary>Two attention layers with a gated MLP, tied embeddings, RMSNorm.</summary>
    public static ModelPlan Transformer { get; } = new(
        "HandTransformer", "/any/where/hand-transformer.arch", "Bmojo.Models", Extends: null,
        new[] { "A two-layer Transformer built by hand.", "", "Used to test the emitter <without> the parser & binder." }.ToEquatableArray(),
        new ModelSizes(Vocab: 256, DModel: 64, LayerCount: 2, NormKind.RmsNorm, NormEps: 1e-5, TiedEmbeddings: true),
        new[] { new LayerPlan(0, FullAttention, GatedMlp), new LayerPlan(1, FullAttention, GatedMlp) }.ToEquatableArray(),
        ParameterCount: 98_816);

    /// <summary>Mamba, sliding-window attention and MoE layers in a Jamba-like mix, LayerNorm, a separate lm_head,
    /// mixer-only blocks, and two different attention settings.</summary>
    public static ModelPlan Hybrid { get; } = new(
        "HandHybrid", "specs/hand-hybrid.arch", "Hand.Made", Extends: "HandTransformer",
        EquatableArray<string>.Empty,
        new ModelSizes(Vocab: 512, DModel: 64, LayerCount: 4, NormKind.LayerNorm, NormEps: 1e-6, TiedEmbeddings: false),
        new[]
        {
            new LayerPlan(0, Mamba, null),
            new LayerPlan(1, FullAttention with { Window = 32 }, new MoePlan(Experts: 4, TopK: 2, GatedMlp with { Activation = Activation.Gelu }, AuxLossWeight: 0.01)),
            new LayerPlan(2, Mamba, new MlpPlan(Hidden: 256, Activation.Relu, Gated: false, Bias: true)),
            new LayerPlan(3, FullAttention, null),
        }.ToEquatableArray(),
        ParameterCount: 1_234_567);

    /// <summary>B'MOJO layers: one with every memory (fading SSM, eidetic memory, learned predictor, retrieval to a
    /// store whose path needs escaping), one B'MOJO-F with +inf threshold and no SSM path.</summary>
    public static ModelPlan Bmojo { get; } = new(
        "HandBmojo", @"C:\specs\hand-bmojo.arch", "Bmojo.Models", Extends: null,
        new[] { "B'MOJO by hand: fading, eidetic & in-storage memory." }.ToEquatableArray(),
        new ModelSizes(Vocab: 100, DModel: 32, LayerCount: 2, NormKind.RmsNorm, NormEps: 1e-5, TiedEmbeddings: true),
        new[]
        {
            new LayerPlan(0, new BmojoPlan(FullAttention with { RotaryDim = 0, Bias = true }, Mamba with { DState = 8 }, Window: 16, FadingTokens: 16,
                                           EideticCapacity: 8, Threshold: 0.5, PredictorKind.Learned, TiedFadingProjections: false,
                                           new RetrievalPlan(TopK: 2, ChunkSize: 8, StorePath: "runs/\"store\"\\chunks")), GatedMlp),
            new LayerPlan(1, new BmojoPlan(FullAttention, Fading: null, Window: 8, FadingTokens: 0, EideticCapacity: 0,
                                           Threshold: double.PositiveInfinity, PredictorKind.Identity, TiedFadingProjections: true,
                                           Retrieval: null), GatedMlp),
        }.ToEquatableArray(),
        ParameterCount: 54_321);

    public static IEnumerable<ModelPlan> All => new[] { Transformer, Hybrid, Bmojo };
}
