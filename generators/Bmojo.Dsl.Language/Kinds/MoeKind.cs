using System;
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
    /// <summary>Mixture of experts: a linear router, top-k softmax routing, load-balancing auxiliary loss.</summary>
    public sealed record MoePlan(int Experts, int TopK, MlpPlan Expert, double AuxLossWeight) : FeedForwardPlan;
}

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary><c>moe</c>: mixture of experts, each an <c>mlp</c> (Runtime <c>MixtureOfExperts</c>).</summary>
    internal sealed class MoeKind : SlotKind<FeedForwardPlan, MoePlan>
    {
        // The Bmojo.Runtime types the generated code builds.
        private const string Options = "global::Bmojo.Runtime.Blocks.MoeOptions";
        private const string Module = "global::Bmojo.Runtime.Blocks.MixtureOfExperts";

        private static readonly Key Experts = Key.Integer("experts", "required", 1, 1024, "number of experts E");
        private static readonly Key TopK = Key.Integer("top_k", "`min(2, experts)`", 1, 1024,
            "experts per token (softmax routing over the top k)", range: "1..`experts`");
        private static readonly Key AuxLossWeight = Key.Real("aux_loss_weight", 0.01, Bounds.NonNegative, "weight of the load-balancing auxiliary loss");

        // After its keys: static fields initialise in the order they are written.
        public static readonly MoeKind Instance = new MoeKind();

        private MoeKind() { }

        public override string Name => "moe";

        public override string FieldStem => "Moe";

        /// <summary>Its own keys; the expert's (<c>hidden</c>, <c>activation</c>, <c>gated</c>, <c>bias</c>) are mlp's.</summary>
        public override IReadOnlyList<Key> Keys { get; } = new[] { Experts, TopK, AuxLossWeight };

        public override IReadOnlyList<string> KeyNames { get; } =
            new[] { Experts.Name, TopK.Name }.Concat(MlpKind.Instance.KeyNames).Concat(new[] { AuxLossWeight.Name }).ToArray();

        public override MoePlan Read(ArgumentReader r, ComponentBinder binder)
        {
            int experts = r.RequiredInt(Experts, "the number of experts");
            int topK = r.Int(TopK, Math.Min(2, experts));
            if (topK > experts) binder.Report(r.ValueOf(TopK.Name), DiagnosticCatalogue.TopKExceedsExperts, topK, experts);
            MlpPlan expert = MlpKind.Instance.Read(r, binder);
            double auxLossWeight = r.Real(AuxLossWeight);
            return new MoePlan(experts, topK, expert, auxLossWeight);
        }

        /// <summary>The router and the experts.</summary>
        public override long Parameters(MoePlan moe, long d) => d * moe.Experts + moe.Experts * MlpKind.Instance.Parameters(moe.Expert, d);

        public override string Describe(MoePlan m) => $"moe({m.Experts} x {MlpKind.Instance.Describe(m.Expert)}, top {m.TopK})";

        public override string Detail(MoePlan m) => $"moe({m.Experts} x {m.Expert.Hidden}, top {m.TopK})";

        public override OptionsCode Emit(MoePlan m, ModelPlan model) =>
            new OptionsCode(Options, new[] { Expression(m) }, Module);

        private static string Expression(MoePlan m) =>
            $"new(Experts: {Int(m.Experts)}, TopK: {Int(m.TopK)}, Expert: {MlpKind.Expression(m.Expert)}, " +
            $"AuxLossWeight: {Double(m.AuxLossWeight)})";
    }
}
