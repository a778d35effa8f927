using System;

namespace Bmojo.Dsl.Language.Plan
{
    // The resolved, validated model of one spec: every default filled, the layer mix expanded to one entry per
    // layer. Records of strings, numbers and EquatableArray only, so the incremental pipeline can cache on it.
    // The emitter turns it into C#; the runtime options records (Bmojo.Runtime) mirror these one to one.

    public enum NormKind { RmsNorm, LayerNorm }

    public enum Activation { Gelu, Silu, Relu }

    /// <summary>Which reading of the innovation test's prediction <c>P y_{t-1}</c> a B'MOJO layer uses.</summary>
    public enum PredictorKind { Identity, Learned }

    /// <summary>One architecture, resolved.</summary>
    /// <param name="Name">The C# class name (the spec's model name).</param>
    /// <param name="SourcePath">The spec file the model came from, as given to the compiler.</param>
    /// <param name="Namespace">The namespace the class is emitted into.</param>
    /// <param name="Summary">The spec's leading comment, one entry per line, without the comment marker.</param>
    /// <param name="ParameterCount">The exact number of trainable scalars of the built module.</param>
    /// <param name="FusedKernels">The build's <c>BmojoFusedKernels</c>: false keeps the generated model off the
    /// fused ILGPU kernels (scan path Unfused, blockwise B'MOJO attention).</param>
    public sealed record ModelPlan(
        string Name,
        string SourcePath,
        string Namespace,
        string? Extends,
        EquatableArray<string> Summary,
        ModelSizes Sizes,
        EquatableArray<LayerPlan> Layers,
        long ParameterCount,
        bool FusedKernels = true);

    /// <param name="NormEps">Epsilon of every norm.</param>
    public sealed record ModelSizes(
        int Vocab,
        int DModel,
        int LayerCount,
        NormKind Norm,
        double NormEps,
        bool TiedEmbeddings);

    /// <summary>Layer <paramref name="Index"/>: pre-norm residual block of a mixer and an optional feed-forward.</summary>
    public sealed record LayerPlan(int Index, MixerPlan Mixer, FeedForwardPlan? FeedForward);

    /// <summary>A token mixer: attention, Mamba or B'MOJO.</summary>
    public abstract record MixerPlan
    {
        /// <summary>A short human-readable name used in the layer table ("attention", "mamba", "bmojo" ...).</summary>
        public abstract string Describe();
    }

    /// <summary>Multi-head (or grouped-query) causal attention; <paramref name="Window"/> null is full attention.</summary>
    /// <param name="RotaryDim">Dimensions per head that RoPE rotates; 0 disables RoPE.</param>
    public sealed record AttentionPlan(int Heads, int KvHeads, int? Window, int RotaryDim, double RopeBase, bool Bias)
        : MixerPlan
    {
        public override string Describe() => Window is int w ? $"attention(window {w})" : "attention";
    }

    /// <summary>The Mamba selective SSM (state-spaces/mamba <c>mamba_simple.Mamba</c>).</summary>
    /// <param name="DtRank">Resolved rank of the dt projection ("auto" = ceil(d_model / 16)).</param>
    public sealed record MambaPlan(
        int DState,
        int DConv,
        int Expand,
        int DtRank,
        double DtMin,
        double DtMax,
        double DtInitFloor,
        bool ConvBias,
        bool Bias) : MixerPlan
    {
        public override string Describe() => $"mamba(d_state {DState})";
    }

    /// <summary>Long-term eidetic memory ("in storage"), read by top-k chunk retrieval.</summary>
    /// <param name="StorePath">null: the in-process store; else a persistent store at that path.</param>
    public sealed record RetrievalPlan(int TopK, int ChunkSize, string? StorePath);

    /// <summary>The B'MOJO mixer (../shared/docs/bmojo-layer.md).</summary>
    /// <param name="Attention">Heads, key/value heads, RoPE of the one softmax; its Window is null.</param>
    /// <param name="Fading">The fading-memory SSM; null when the layer has no SSM path.</param>
    /// <param name="Window">Eidetic window w (0 .. ): the last w tokens, attended exactly.</param>
    /// <param name="FadingTokens">m_f: fading tokens kf/vf at positions t-w-m_f &lt; j &lt;= t-w.</param>
    /// <param name="EideticCapacity">m_e: most recent selected tokens kept (FIFO); 0 is B'MOJO-F.</param>
    /// <param name="Threshold">tau of the innovation test; +inf stores nothing, negative stores everything.</param>
    /// <param name="TiedFadingProjections">kf/vf use the k/v projections instead of their own.</param>
    public sealed record BmojoPlan(
        AttentionPlan Attention,
        MambaPlan? Fading,
        int Window,
        int FadingTokens,
        int EideticCapacity,
        double Threshold,
        PredictorKind Predictor,
        bool TiedFadingProjections,
        RetrievalPlan? Retrieval) : MixerPlan
    {
        public override string Describe() =>
            EideticCapacity == 0 ? $"bmojo-f(w {Window}, m_f {FadingTokens})"
                                 : $"bmojo(w {Window}, m_f {FadingTokens}, m_e {EideticCapacity})";
    }

    /// <summary>The feed-forward half of a block.</summary>
    public abstract record FeedForwardPlan
    {
        public abstract string Describe();
    }

    /// <summary>An MLP: plain (fc1 -> act -> fc2) or gated (fc1 to 2*hidden, y * act(gate), fc2).</summary>
    public sealed record MlpPlan(int Hidden, Activation Activation, bool Gated, bool Bias) : FeedForwardPlan
    {
        public override string Describe() => Gated ? $"gated-mlp({Hidden})" : $"mlp({Hidden})";
    }

    /// <summary>Mixture of experts: a linear router, top-k softmax routing, load-balancing auxiliary loss.</summary>
    public sealed record MoePlan(int Experts, int TopK, MlpPlan Expert, double AuxLossWeight) : FeedForwardPlan
    {
        public override string Describe() => $"moe({Experts} x {Expert.Describe()}, top {TopK})";
    }
}
