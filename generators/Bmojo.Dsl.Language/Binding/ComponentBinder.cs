using System;
using System.Linq;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Plan;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>Resolved components -> plans: every key's type, range and default (docs/spec-language.md).</summary>
    internal sealed class ComponentBinder
    {
        private const int MaxTokens = 16_777_216;
        private const int MaxWidth = 1_048_576;

        private readonly BindingReporter _reporter;
        private readonly ComponentResolver _resolver;
        private readonly int _dModel;
        private readonly bool _dModelValid;

        /// <param name="dModelValid">False when d_model itself is in error: checks against it are then skipped.</param>
        public ComponentBinder(BindingReporter reporter, ComponentResolver resolver, int dModel, bool dModelValid)
        {
            _reporter = reporter;
            _resolver = resolver;
            _dModel = dModel;
            _dModelValid = dModelValid;
        }

        /// <summary>The mixer a slot value names, or null after reporting (none is not a mixer).</summary>
        public MixerPlan? BindMixer(Located<ValueSyntax> value)
        {
            ResolvedComponent? component = _resolver.Resolve(value, ModelScope.MixerSlot);
            if (component == null) return null;
            switch (component.Kind)
            {
                case ResolvedComponent.None:
                    _reporter.Report(value, DiagnosticCatalogue.NoneMixer, value.Node.Span);
                    return null;
                case ComponentKinds.Attention:
                    return Checked(component, r => BindAttention(r, slidingWindow: true));
                case ComponentKinds.Mamba:
                    return Checked(component, r => BindMamba(r, r.Bool("bias", false)));
                case ComponentKinds.Bmojo:
                    return Checked(component, r => BindBmojo(r, fadingOnly: false));
                case ComponentKinds.BmojoF:
                    return Checked(component, r => BindBmojo(r, fadingOnly: true));
                default:
                    WrongKind(value, ModelScope.MixerSlot, "a mixer (" + string.Join(", ", ComponentKinds.Mixers) + ")", component.Kind);
                    return null;
            }
        }

        /// <summary>The feed-forward a slot value names; null for none, or after reporting an error.</summary>
        public FeedForwardPlan? BindFeedForward(Located<ValueSyntax> value)
        {
            ResolvedComponent? component = _resolver.Resolve(value, ModelScope.FeedForwardSlot);
            if (component == null) return null;
            switch (component.Kind)
            {
                case ResolvedComponent.None:
                    return Checked<FeedForwardPlan?>(component, r => null);
                case ComponentKinds.Mlp:
                    return Checked(component, BindMlp);
                case ComponentKinds.Moe:
                    return Checked(component, BindMoe);
                default:
                    WrongKind(value, ModelScope.FeedForwardSlot, "a feed-forward (mlp, moe or none)", component.Kind);
                    return null;
            }
        }

        private AttentionPlan BindAttention(ArgumentReader r, bool slidingWindow)
        {
            int heads = r.RequiredInt("heads", 1, MaxWidth, "the number of query heads");
            int kvHeads = r.Int("kv_heads", heads, 1, MaxWidth);
            int? window = slidingWindow ? r.IntOrWord("window", "none", 1, MaxTokens) : null;
            bool rope = r.Bool("rope", true);
            double ropeBase = r.Real("rope_base", 10000, Bounds.Positive);
            bool bias = r.Bool("bias", false);

            int headSize = _dModel / heads;
            if (_dModelValid && _dModel % heads != 0)
                Report(r.ValueOf("heads"), DiagnosticCatalogue.HeadsDivideModel, heads, _dModel);
            if (heads % kvHeads != 0)
                Report(r.ValueOf("kv_heads"), DiagnosticCatalogue.KvHeadsDivideHeads, kvHeads, heads);

            int rotaryDim = 0;
            if (!rope)
            {
                if (r.IsStated("rotary_dim")) Report(r.ValueOf("rotary_dim"), DiagnosticCatalogue.RotaryWithoutRope);
                r.Read("rotary_dim");
            }
            else
            {
                rotaryDim = r.Int("rotary_dim", headSize, 2, MaxWidth);
                if (_dModelValid && r.IsStated("rotary_dim") && (rotaryDim % 2 != 0 || rotaryDim > headSize))
                    Report(r.ValueOf("rotary_dim"), DiagnosticCatalogue.RotaryDim, rotaryDim, headSize);
            }
            return new AttentionPlan(heads, kvHeads, window, rotaryDim, ropeBase, bias);
        }

        private MambaPlan BindMamba(ArgumentReader r, bool bias)
        {
            int dState = r.Int("d_state", 16, 1, 256);
            int dConv = r.Int("d_conv", 4, 1, 64);
            int expand = r.Int("expand", 2, 1, 16);
            int dtRank = r.IntOrWord("dt_rank", "auto", 1, MaxWidth) ?? (_dModel + 15) / 16;
            double dtMin = r.Real("dt_min", 0.001, Bounds.Positive);
            double dtMax = r.Real("dt_max", 0.1, Bounds.Positive);
            double dtInitFloor = r.Real("dt_init_floor", 1e-4, Bounds.Positive);
            bool convBias = r.Bool("conv_bias", true);
            if (dtMin >= dtMax)
                Report(r.ValueOf("dt_min") ?? r.ValueOf("dt_max"), DiagnosticCatalogue.DtRange, Number(dtMin), Number(dtMax));
            return new MambaPlan(dState, dConv, expand, dtRank, dtMin, dtMax, dtInitFloor, convBias, bias);
        }

        private BmojoPlan BindBmojo(ArgumentReader r, bool fadingOnly)
        {
            string kind = fadingOnly ? ComponentKinds.BmojoF : ComponentKinds.Bmojo;
            AttentionPlan attention = BindAttention(r, slidingWindow: false);
            bool ssm = r.Bool("ssm", true);
            MambaPlan? fading = null;
            if (ssm)
                fading = BindMamba(r, attention.Bias);
            else
                foreach (string key in ComponentKinds.FadingKeys.Concat(new[] { "tied_fading" }))
                    r.NotApplicable(key, "the layer has no SSM path (ssm = false)");

            int window = r.Int("window", 512, 0, MaxTokens);
            int fadingTokens = r.Int("fading_tokens", ssm ? window : 0, 0, MaxTokens);
            if (!ssm && fadingTokens != 0) r.NotApplicable("fading_tokens", "the layer has no SSM path (ssm = false)");
            bool tiedFading = ssm && r.Bool("tied_fading", false);

            int eideticCapacity = 0;
            double threshold = 1.0;
            PredictorKind predictor = PredictorKind.Identity;
            RetrievalPlan? retrieval = null;
            if (fadingOnly)
            {
                foreach (string key in ComponentKinds.EideticKeys)
                    r.NotApplicable(key, "B'MOJO-F has no eidetic memory (use bmojo for it)");
            }
            else
            {
                eideticCapacity = r.Int("eidetic_capacity", 256, 0, MaxTokens);
                threshold = r.Real("threshold", 1.0, Bounds.Any);
                predictor = r.Enum("predictor", PredictorKind.Identity, ("identity", PredictorKind.Identity), ("learned", PredictorKind.Learned));
                retrieval = BindRetrieval(r.Read("retrieval"));
            }
            if (window == 0 && fadingTokens == 0)
                Report(r.ValueOf("window") ?? r.ValueOf("fading_tokens"), DiagnosticCatalogue.EmptyAttention, kind);
            return new BmojoPlan(attention, fading, window, fadingTokens, eideticCapacity, threshold, predictor, tiedFading, retrieval);
        }

        private RetrievalPlan? BindRetrieval(Located<ValueSyntax>? value)
        {
            if (value == null) return null;
            ResolvedComponent? component = _resolver.Resolve(value, "retrieval");
            if (component == null || component.Kind == ResolvedComponent.None) return null;
            if (component.Kind != ComponentKinds.Retrieval)
            {
                WrongKind(value, "retrieval", "a retrieval component or none", component.Kind);
                return null;
            }
            return Checked(component, r => new RetrievalPlan(
                r.Int("top_k", 2, 1, 1024),
                r.Int("chunk_size", 64, 1, 65536),
                r.String("store")));
        }

        private MlpPlan BindMlp(ArgumentReader r) => new MlpPlan(
            r.Int("hidden", Math.Min(4 * _dModel, MaxWidth), 1, MaxWidth),
            r.Enum("activation", Activation.Silu, ("gelu", Activation.Gelu), ("silu", Activation.Silu), ("relu", Activation.Relu)),
            r.Bool("gated", true),
            r.Bool("bias", false));

        private MoePlan BindMoe(ArgumentReader r)
        {
            int experts = r.RequiredInt("experts", 1, 1024, "the number of experts");
            int topK = r.Int("top_k", Math.Min(2, experts), 1, 1024);
            if (topK > experts) Report(r.ValueOf("top_k"), DiagnosticCatalogue.TopKExceedsExperts, topK, experts);
            MlpPlan expert = BindMlp(r);
            double auxLossWeight = r.Real("aux_loss_weight", 0.01, Bounds.NonNegative);
            return new MoePlan(experts, topK, expert, auxLossWeight);
        }

        /// <summary>Reads a component with <paramref name="bind"/>, then reports the keys it did not know.</summary>
        private T Checked<T>(ResolvedComponent component, Func<ArgumentReader, T> bind)
        {
            var site = new Located<NameSyntax>(new NameSyntax(component.Kind, KindSpan(component.Site.Node)), component.Site.Owner);
            var reader = new ArgumentReader(component.Arguments, site, component.Kind, _reporter);
            T plan = bind(reader);
            reader.ReportUnknownKeys(ComponentKinds.Keys(component.Kind));
            return plan;
        }

        private void WrongKind(Located<ValueSyntax> value, string key, string expected, string kind) =>
            _reporter.Report(value, DiagnosticCatalogue.WrongComponentKind, KindSpan(value.Node), key, expected, kind);

        private void Report(Located<ValueSyntax>? at, DiagnosticDescriptor descriptor, params object[] args)
        {
            if (at != null) _reporter.Report(at, descriptor, at.Node.Span, args);
        }

        private static TextSpan KindSpan(ValueSyntax value) => value is ComponentSyntax component ? component.Kind.Span : value.Span;

        private static string Number(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
    }
}
