using Bmojo.Dsl.Language.Plan;
using static Bmojo.Dsl.Language.Emit.Literals;

namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>A plan record as the C# expression that builds the matching Bmojo.Runtime options record: a
    /// target-typed <c>new(...)</c> with every argument named and given, so the generated text states the whole
    /// resolved setting and no runtime default.</summary>
    internal static class OptionsExpressions
    {
        public static string Norm(ModelSizes sizes) =>
            $"new({RuntimeNames.NormKind}.{sizes.Norm}, Eps: {Double(sizes.NormEps)})";

        public static string Attention(AttentionPlan a) =>
            $"new(Heads: {Int(a.Heads)}, KvHeads: {Int(a.KvHeads)}, Window: {NullableInt(a.Window)}, " +
            $"RotaryDim: {Int(a.RotaryDim)}, RopeBase: {Double(a.RopeBase)}, Bias: {Bool(a.Bias)})";

        public static string Mamba(MambaPlan m) =>
            $"new(DState: {Int(m.DState)}, DConv: {Int(m.DConv)}, Expand: {Int(m.Expand)}, DtRank: {Int(m.DtRank)}, " +
            $"DtMin: {Double(m.DtMin)}, DtMax: {Double(m.DtMax)}, DtInitFloor: {Double(m.DtInitFloor)}, " +
            $"ConvBias: {Bool(m.ConvBias)}, Bias: {Bool(m.Bias)})";

        /// <summary>The B'MOJO options, one argument per line (they do not fit on one).</summary>
        public static string[] BmojoLines(BmojoPlan b, bool fusedKernels) => new[]
        {
            "new(",
            $"Attention: {Attention(b.Attention)},",
            $"Fading: {(b.Fading is null ? "null" : Mamba(b.Fading))},",
            $"Window: {Int(b.Window)},",
            $"FadingTokens: {Int(b.FadingTokens)},",
            $"EideticCapacity: {Int(b.EideticCapacity)},",
            $"Threshold: {Double(b.Threshold)},",
            $"Predictor: {RuntimeNames.Predictor}.{b.Predictor},",
            $"TiedFadingProjections: {Bool(b.TiedFadingProjections)},",
            $"Retrieval: {(b.Retrieval is null ? "null" : Retrieval(b.Retrieval))})" +
                (fusedKernels ? "" : $" {{ Path = {RuntimeNames.BmojoPath}.Blockwise }}"),
        };

        public static string Mlp(MlpPlan m) =>
            $"new(Hidden: {Int(m.Hidden)}, Activation: {RuntimeNames.Activation}.{m.Activation}, " +
            $"Gated: {Bool(m.Gated)}, Bias: {Bool(m.Bias)})";

        public static string Moe(MoePlan m) =>
            $"new(Experts: {Int(m.Experts)}, TopK: {Int(m.TopK)}, Expert: {Mlp(m.Expert)}, " +
            $"AuxLossWeight: {Double(m.AuxLossWeight)})";

        private static string Retrieval(RetrievalPlan r) =>
            $"new(TopK: {Int(r.TopK)}, ChunkSize: {Int(r.ChunkSize)}, StorePath: {String(r.StorePath)})";
    }
}
