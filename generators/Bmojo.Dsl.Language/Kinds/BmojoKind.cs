using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Binding;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Emit;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;
using static Bmojo.Dsl.Language.Emit.Literals;

namespace Bmojo.Dsl.Language.Plan
{
    /// <summary>The B'MOJO mixer (docs/bmojo-layer.md).</summary>
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
        RetrievalPlan? Retrieval) : MixerPlan;
}

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary><c>bmojo</c> and <c>bmojo_f</c> (B'MOJO without the selected eidetic memory): one softmax over the
    /// eidetic window, the fading tokens of an SSM, the eidetic memory and retrieved chunks (Runtime <c>BmojoMixer</c>).</summary>
    internal sealed class BmojoKind : SlotKind<MixerPlan, BmojoPlan>
    {
        // The Bmojo.Runtime types the generated code builds.
        private const string Options = "global::Bmojo.Runtime.Mixers.BmojoOptions";
        private const string Module = "global::Bmojo.Runtime.Mixers.BmojoMixer";
        private const string PredictorType = "global::Bmojo.Runtime.Mixers.Predictor";

        private static readonly Key Window = Key.Integer("window", 512, 0, Limits.MaxTokens,
            "eidetic window: the last w tokens, attended exactly") with { Paper = "w" };
        private static readonly Key FadingTokens = Key.Integer("fading_tokens", "`window` (`0` without SSM)", 0, Limits.MaxTokens,
            "fading tokens kf/vf at positions t-w-m_f < j <= t-w") with { Paper = "m_f" };
        private static readonly Key EideticCapacity = Key.Integer("eidetic_capacity", 256, 0, Limits.MaxTokens,
            "most recent selected tokens kept (FIFO); 0 = B'MOJO-F") with { Paper = "m_e" };
        private static readonly Key Threshold = Key.Real("threshold", 1.0, Bounds.Any,
            "innovation test: store token t iff e_t > tau; `inf` stores nothing, a negative tau everything",
            defaultText: "`1.0`", range: "any, `inf` and `-inf` included") with { Paper = "tau" };
        private static readonly Key Predictor = new Key("predictor", "`identity` \\| `learned`", "`identity`", "",
            "the prediction `P y_{t-1}` of the innovation test; `learned` adds a D x D matrix") { Paper = "P" };
        private static readonly Key TiedFading = Key.Flag("tied_fading", false, "kf/vf use the k/v projections instead of their own `fading_proj`");
        private static readonly Key Ssm = Key.Flag("ssm", true,
            "`false`: no fading path (no SSM, no fading tokens; the fading keys above are then errors)");
        private static readonly Key Retrieval = new Key("retrieval", "`none` \\| `retrieval { ... }`", "`none`", "",
            "long-term eidetic memory, \"in storage\" (below)");

        private static readonly Key[] OwnKeys = { Window, FadingTokens, EideticCapacity, Threshold, Predictor, TiedFading, Ssm, Retrieval };

        /// <summary>B'MOJO-F has no eidetic memory: these keys of B'MOJO do not apply to it.</summary>
        private static readonly string[] EideticKeys = { EideticCapacity.Name, Threshold.Name, Predictor.Name, Retrieval.Name };

        // After the tables above: static fields initialise in the order they are written.
        public static readonly BmojoKind Bmojo = new BmojoKind("bmojo", fadingOnly: false);
        public static readonly BmojoKind BmojoF = new BmojoKind("bmojo_f", fadingOnly: true);

        private readonly bool _fadingOnly;

        private BmojoKind(string name, bool fadingOnly)
        {
            Name = name;
            _fadingOnly = fadingOnly;
            // The attention keys but its window (B'MOJO's w), the fading SSM's keys, then B'MOJO's own.
            IEnumerable<string> keys = AttentionKind.Instance.KeyNames.Where(k => k != Window.Name)
                .Concat(MambaKind.Instance.FadingKeyNames)
                .Concat(OwnKeys.Select(k => k.Name));
            KeyNames = (fadingOnly ? keys.Except(EideticKeys) : keys).ToArray();
        }

        public override string Name { get; }

        public override string FieldStem => "Bmojo";

        /// <summary>bmojo's table; docs/spec-language.md describes bmojo_f in prose (all keys as bmojo but the eidetic ones).</summary>
        public override IReadOnlyList<Key> Keys => _fadingOnly ? new Key[0] : OwnKeys;

        public override IReadOnlyList<string> KeyNames { get; }

        public override BmojoPlan Read(ArgumentReader r, ComponentBinder binder)
        {
            AttentionPlan attention = AttentionKind.Instance.Read(r, binder, slidingWindow: false);
            bool ssm = r.Bool(Ssm);
            MambaPlan? fading = null;
            if (ssm)
                fading = MambaKind.Instance.Read(r, binder, attention.Bias);
            else
                foreach (string key in MambaKind.Instance.FadingKeyNames.Concat(new[] { TiedFading.Name }))
                    r.NotApplicable(key, "the layer has no SSM path (ssm = false)");

            int window = r.Int(Window);
            int fadingTokens = r.Int(FadingTokens, ssm ? window : 0);
            if (!ssm && fadingTokens != 0) r.NotApplicable(FadingTokens.Name, "the layer has no SSM path (ssm = false)");
            bool tiedFading = ssm && r.Bool(TiedFading);

            int eideticCapacity = 0;
            double threshold = 1.0;
            PredictorKind predictor = PredictorKind.Identity;
            RetrievalPlan? retrieval = null;
            if (_fadingOnly)
            {
                foreach (string key in EideticKeys)
                    r.NotApplicable(key, "B'MOJO-F has no eidetic memory (use bmojo for it)");
            }
            else
            {
                eideticCapacity = r.Int(EideticCapacity);
                threshold = r.Real(Threshold);
                predictor = r.Enum(Predictor.Name, PredictorKind.Identity, ("identity", PredictorKind.Identity), ("learned", PredictorKind.Learned));
                retrieval = binder.BindPart(r.Read(Retrieval.Name), Retrieval.Name, RetrievalKind.Instance);
            }
            if (window == 0 && fadingTokens == 0)
                binder.Report(r.ValueOf(Window.Name) ?? r.ValueOf(FadingTokens.Name), DiagnosticCatalogue.EmptyAttention, Name);
            return new BmojoPlan(attention, fading, window, fadingTokens, eideticCapacity, threshold, predictor, tiedFading, retrieval);
        }

        /// <summary>ssm (when on), in_proj and out_proj as attention, fading_proj unless tied, predictor when learned.</summary>
        public override long Parameters(BmojoPlan bmojo, long d)
        {
            AttentionPlan attention = bmojo.Attention;
            long total = AttentionKind.Instance.Parameters(attention, d);
            if (bmojo.Fading != null)
            {
                total += MambaKind.Instance.Parameters(bmojo.Fading, d);
                if (!bmojo.TiedFadingProjections)
                {
                    long kv = AttentionKind.KvFloatsPerToken(attention, d);
                    total += d * kv + (attention.Bias ? kv : 0);
                }
            }
            if (bmojo.Predictor == PredictorKind.Learned) total += d * d;
            return total;
        }

        /// <summary>The fading SSM's state; keys and values of the w + m_f + m_e tokens attended; the k retrieved
        /// chunks of c tokens (the store itself is outside).</summary>
        public override MemoryPlan Memory(BmojoPlan bmojo, long d)
        {
            long kvPerToken = AttentionKind.KvFloatsPerToken(bmojo.Attention, d);
            return new MemoryPlan(
                bmojo.Fading is MambaPlan fading ? MambaKind.StateFloats(fading, d) : 0,
                kvPerToken,
                bmojo.Window + bmojo.FadingTokens + bmojo.EideticCapacity,
                bmojo.Retrieval is RetrievalPlan r ? kvPerToken * r.TopK * r.ChunkSize : 0);
        }

        public override string Describe(BmojoPlan b) =>
            b.EideticCapacity == 0 ? $"bmojo-f(w {b.Window}, m_f {b.FadingTokens})"
                                   : $"bmojo(w {b.Window}, m_f {b.FadingTokens}, m_e {b.EideticCapacity})";

        public override string Detail(BmojoPlan b) =>
            (b.EideticCapacity == 0 ? "bmojo-f" : "bmojo") +
            $"({b.Attention.Heads} heads, w {b.Window}, m_f {b.FadingTokens}, m_e {b.EideticCapacity}" +
            (b.Fading is MambaPlan f ? $", d_state {f.DState}" : ", no SSM") +
            (b.Retrieval is RetrievalPlan r ? $", retrieval top {r.TopK} x {r.ChunkSize}" : "") + ")";

        /// <summary>The B'MOJO options, one argument per line (they do not fit on one).</summary>
        public override OptionsCode Emit(BmojoPlan b, ModelPlan model) => new OptionsCode(Options, new[]
        {
            "new(",
            $"Attention: {AttentionKind.Expression(b.Attention)},",
            $"Fading: {(b.Fading is null ? "null" : MambaKind.Expression(b.Fading))},",
            $"Window: {Int(b.Window)},",
            $"FadingTokens: {Int(b.FadingTokens)},",
            $"EideticCapacity: {Int(b.EideticCapacity)},",
            $"Threshold: {Double(b.Threshold)},",
            $"Predictor: {PredictorType}.{b.Predictor},",
            $"TiedFadingProjections: {Bool(b.TiedFadingProjections)},",
            $"Retrieval: {(b.Retrieval is null ? "null" : RetrievalKind.Expression(b.Retrieval))})",
        }, Module);
    }
}
