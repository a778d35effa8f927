using System.Collections.Generic;
using Bmojo.Dsl.Language.Binding;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Emit;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;
using static Bmojo.Dsl.Language.Emit.Literals;

namespace Bmojo.Dsl.Language.Plan
{
    /// <summary>Multi-head (or grouped-query) causal attention; <paramref name="Window"/> null is full attention.</summary>
    /// <param name="RotaryDim">Dimensions per head that RoPE rotates; 0 disables RoPE.</param>
    public sealed record AttentionPlan(int Heads, int KvHeads, int? Window, int RotaryDim, double RopeBase, bool Bias)
        : MixerPlan;
}

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary><c>attention</c>: causal multi-head / grouped-query attention (Runtime <c>AttentionMixer</c>).</summary>
    internal sealed class AttentionKind : SlotKind<MixerPlan, AttentionPlan>
    {
        // The Bmojo.Runtime types the generated code builds.
        private const string Options = "global::Bmojo.Runtime.Mixers.AttentionOptions";
        private const string Module = "global::Bmojo.Runtime.Mixers.AttentionMixer";

        private static readonly Key Heads = Key.Integer("heads", "required", 1, Limits.MaxWidth,
            "query heads H; head size Dh = d_model / H", range: "1.., divides `d_model`");
        private static readonly Key KvHeads = Key.Integer("kv_heads", "`heads`", 1, Limits.MaxWidth,
            "key/value heads (GQA; 1 = multi-query)", range: "1.., divides `heads`");
        private static readonly Key Window = Key.Integer("window", "`none`", 1, Limits.MaxTokens,
            "`none`: full causal attention; w: each query sees the last w tokens", type: "`none` \\| integer");
        private static readonly Key Rope = Key.Flag("rope", true, "rotary position embedding on queries and keys");
        private static readonly Key RotaryDim = Key.Integer("rotary_dim", "Dh (with RoPE)", 2, Limits.MaxWidth,
            "dimensions per head that RoPE rotates; an error when `rope = false`", range: "2..Dh, even");
        private static readonly Key RopeBase = Key.Real("rope_base", 10000, Bounds.Positive, "RoPE base frequency");
        private static readonly Key Bias = Key.Flag("bias", false, "biases on `in_proj` (q, k, v) and `out_proj`");

        // After its keys: static fields initialise in the order they are written.
        public static readonly AttentionKind Instance = new AttentionKind();

        private AttentionKind() { }

        public override string Name => "attention";

        public override string FieldStem => "Attention";

        public override IReadOnlyList<Key> Keys { get; } = new[] { Heads, KvHeads, Window, Rope, RotaryDim, RopeBase, Bias };

        public override AttentionPlan Read(ArgumentReader r, ComponentBinder binder) => Read(r, binder, slidingWindow: true);

        /// <param name="slidingWindow">False inside B'MOJO, which reads <c>window</c> as its own w.</param>
        public AttentionPlan Read(ArgumentReader r, ComponentBinder binder, bool slidingWindow)
        {
            int heads = r.RequiredInt(Heads, "the number of query heads");
            int kvHeads = r.Int(KvHeads, heads);
            int? window = slidingWindow ? r.IntOrWord(Window, "none") : null;
            bool rope = r.Bool(Rope);
            double ropeBase = r.Real(RopeBase);
            bool bias = r.Bool(Bias);

            int headSize = binder.DModel / heads;
            if (binder.DModelValid && binder.DModel % heads != 0)
                binder.Report(r.ValueOf(Heads.Name), DiagnosticCatalogue.HeadsDivideModel, heads, binder.DModel);
            if (heads % kvHeads != 0)
                binder.Report(r.ValueOf(KvHeads.Name), DiagnosticCatalogue.KvHeadsDivideHeads, kvHeads, heads);

            int rotaryDim = 0;
            if (!rope)
            {
                if (r.IsStated(RotaryDim.Name)) binder.Report(r.ValueOf(RotaryDim.Name), DiagnosticCatalogue.RotaryWithoutRope);
                r.Read(RotaryDim.Name);
            }
            else
            {
                rotaryDim = r.Int(RotaryDim, headSize);
                if (binder.DModelValid && r.IsStated(RotaryDim.Name) && (rotaryDim % 2 != 0 || rotaryDim > headSize))
                    binder.Report(r.ValueOf(RotaryDim.Name), DiagnosticCatalogue.RotaryDim, rotaryDim, headSize);
            }
            return new AttentionPlan(heads, kvHeads, window, rotaryDim, ropeBase, bias);
        }

        /// <summary>in_proj (fused q, k, v) and out_proj.</summary>
        public override long Parameters(AttentionPlan attention, long d)
        {
            long headSize = d / attention.Heads;
            long qkv = headSize * (attention.Heads + 2L * attention.KvHeads);
            long inProj = d * qkv + (attention.Bias ? qkv : 0);
            long outProj = attention.Heads * headSize * d + (attention.Bias ? d : 0);
            return inProj + outProj;
        }

        /// <summary>The keys and values of every token, or of the last <c>window</c>.</summary>
        public override MemoryPlan Memory(AttentionPlan attention, long d) =>
            new MemoryPlan(0, KvFloatsPerToken(attention, d), attention.Window, 0);

        /// <summary>A key and a value per key/value head: <c>2·Hkv·Dh</c>.</summary>
        public static long KvFloatsPerToken(AttentionPlan attention, long d) => 2L * attention.KvHeads * (d / attention.Heads);

        public override string Describe(AttentionPlan a) => a.Window is int w ? $"attention(window {w})" : "attention";

        public override string Detail(AttentionPlan a) =>
            $"attention({a.Heads} heads, {a.KvHeads} kv{(a.Window is int w ? $", window {w}" : "")}{(a.RotaryDim > 0 ? $", rope {a.RotaryDim}" : "")})";

        public override OptionsCode Emit(AttentionPlan a, ModelPlan model) =>
            new OptionsCode(Options, new[] { Expression(a) }, Module);

        public static string Expression(AttentionPlan a) =>
            $"new(Heads: {Int(a.Heads)}, KvHeads: {Int(a.KvHeads)}, Window: {NullableInt(a.Window)}, " +
            $"RotaryDim: {Int(a.RotaryDim)}, RopeBase: {Double(a.RopeBase)}, Bias: {Bool(a.Bias)})";
    }
}
