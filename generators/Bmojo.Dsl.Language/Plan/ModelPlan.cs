using Bmojo.Dsl.Language.Kinds;

namespace Bmojo.Dsl.Language.Plan
{
    // The resolved, validated model of one spec: every default filled, the layer mix expanded to one entry per
    // layer. Records of strings, numbers and EquatableArray only, so the incremental pipeline can cache on it.
    // The emitter turns it into C#; the runtime options records (Bmojo.Runtime) mirror these one to one.
    // Each component kind's record lives in its kind's file (Kinds/).

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

    /// <summary>A token mixer; its kind (Kinds/, e.g. <c>AttentionKind</c>) declares the record beside its keys.</summary>
    public abstract record MixerPlan
    {
        /// <summary>The short text of the generated class's layer table ("attention(window 16)", "mamba(d_state 16)" ...).</summary>
        public string Describe() => ComponentKindRegistry.Of(this).Describe(this);

        /// <summary>The full text of <c>bmojo inspect</c>'s layer table (heads, state sizes ...).</summary>
        public string Detail() => ComponentKindRegistry.Of(this).Detail(this);
    }

    /// <summary>The feed-forward half of a block; its kind (Kinds/) declares the record.</summary>
    public abstract record FeedForwardPlan
    {
        public string Describe() => ComponentKindRegistry.Of(this).Describe(this);

        public string Detail() => ComponentKindRegistry.Of(this).Detail(this);
    }

    /// <summary>What one layer keeps per sequence at inference, in floats (Bmojo.Runtime <c>InferenceMemory</c>).</summary>
    /// <param name="FixedFloats">State of a fixed size: an SSM's state and conv state.</param>
    /// <param name="KvFloatsPerToken">Keys and values kept per token, <c>2·Hkv·Dh</c>.</param>
    /// <param name="KvTokenCap">The most tokens kept (a window, w + m_f + m_e); null: every token of the sequence.</param>
    /// <param name="RetrievalFloats">Retrieved tokens attended per chunk; the store itself is outside.</param>
    public sealed record MemoryPlan(long FixedFloats, long KvFloatsPerToken, int? KvTokenCap, long RetrievalFloats)
    {
        public static MemoryPlan None { get; } = new MemoryPlan(0, 0, 0, 0);
    }
}
