using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;
using static Bmojo.Dsl.Language.Emit.Literals;

namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>Model-level plan records as the C# expressions that build their Bmojo.Runtime records: a target-typed
    /// <c>new(...)</c> with every argument named and given, so the generated text states the whole resolved setting
    /// and no runtime default. Each kind writes its own options (Kinds/, <c>Emit</c>).</summary>
    internal static class OptionsExpressions
    {
        public static string Norm(ModelSizes sizes) =>
            $"new({RuntimeNames.NormKind}.{sizes.Norm}, Eps: {Double(sizes.NormEps)})";

        /// <summary>The <c>InferenceMemory</c> of a layer with <paramref name="mixer"/>, as its kind computes it.</summary>
        public static string Memory(MixerPlan mixer, int dModel) => Memory(ComponentKindRegistry.Of(mixer).Memory(mixer, dModel));

        private static string Memory(MemoryPlan m) =>
            $"new(FixedFloats: {Long(m.FixedFloats)}, KvFloatsPerToken: {Long(m.KvFloatsPerToken)}, " +
            $"KvTokenCap: {NullableInt(m.KvTokenCap)}, RetrievalFloats: {Long(m.RetrievalFloats)})";
    }
}
