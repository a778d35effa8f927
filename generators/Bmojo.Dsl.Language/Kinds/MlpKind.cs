using System;
using System.Collections.Generic;
using Bmojo.Dsl.Language.Binding;
using Bmojo.Dsl.Language.Emit;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;
using static Bmojo.Dsl.Language.Emit.Literals;

namespace Bmojo.Dsl.Language.Plan
{
    /// <summary>An MLP: plain (fc1 -> act -> fc2) or gated (fc1 to 2*hidden, y * act(gate), fc2).</summary>
    public sealed record MlpPlan(int Hidden, Activation Activation, bool Gated, bool Bias) : FeedForwardPlan;
}

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary><c>mlp</c>: the feed-forward of a block, gated or plain (Runtime <c>Mlp</c>).</summary>
    internal sealed class MlpKind : SlotKind<FeedForwardPlan, MlpPlan>
    {
        // The Bmojo.Runtime types the generated code builds.
        private const string Options = "global::Bmojo.Runtime.Blocks.MlpOptions";
        private const string Module = "global::Bmojo.Runtime.Blocks.Mlp";
        private const string ActivationType = "global::Bmojo.Runtime.Blocks.Activation";

        private static readonly Key Hidden = Key.Integer("hidden", "`4 * d_model`", 1, Limits.MaxWidth, "hidden width H");
        private static readonly Key ActivationKey = new Key("activation", "`gelu` \\| `silu` \\| `relu`", "`silu`", "", "activation");
        private static readonly Key Gated = Key.Flag("gated", true, "gated (fc1 to 2H, `y * act(gate)`, fc2) or plain (fc1, act, fc2)");
        private static readonly Key Bias = Key.Flag("bias", false, "biases on `fc1` and `fc2`");

        // After its keys: static fields initialise in the order they are written.
        public static readonly MlpKind Instance = new MlpKind();

        private MlpKind() { }

        public override string Name => "mlp";

        public override string FieldStem => "Mlp";

        public override IReadOnlyList<Key> Keys { get; } = new[] { Hidden, ActivationKey, Gated, Bias };

        public override MlpPlan Read(ArgumentReader r, ComponentBinder binder) => new MlpPlan(
            r.Int(Hidden, Math.Min(4 * binder.DModel, Limits.MaxWidth)),
            r.Enum(ActivationKey.Name, Activation.Silu, ("gelu", Activation.Gelu), ("silu", Activation.Silu), ("relu", Activation.Relu)),
            r.Bool(Gated),
            r.Bool(Bias));

        /// <summary>fc1 (to 2 x hidden when gated) and fc2.</summary>
        public override long Parameters(MlpPlan mlp, long d)
        {
            long up = mlp.Gated ? 2L * mlp.Hidden : mlp.Hidden;
            return d * up + (mlp.Bias ? up : 0) + mlp.Hidden * d + (mlp.Bias ? d : 0);
        }

        public override string Describe(MlpPlan m) => m.Gated ? $"gated-mlp({m.Hidden})" : $"mlp({m.Hidden})";

        public override string Detail(MlpPlan m) =>
            $"{(m.Gated ? "gated mlp" : "mlp")}({m.Hidden}, {m.Activation.ToString().ToLowerInvariant()})";

        public override OptionsCode Emit(MlpPlan m, ModelPlan model) =>
            new OptionsCode(Options, new[] { Expression(m) }, Module);

        public static string Expression(MlpPlan m) =>
            $"new(Hidden: {Int(m.Hidden)}, Activation: {ActivationType}.{m.Activation}, " +
            $"Gated: {Bool(m.Gated)}, Bias: {Bool(m.Bias)})";
    }
}
