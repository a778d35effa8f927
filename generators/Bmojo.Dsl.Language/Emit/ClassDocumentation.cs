using System.Globalization;
using Bmojo.Dsl.Language.Plan;
using static Bmojo.Dsl.Language.Emit.Literals;

namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>The XML doc of a generated model class: the spec's summary, then its sizes and the resolved layer
    /// plan as a table (layer | mixer | feed-forward).</summary>
    internal static class ClassDocumentation
    {
        public static void Write(SourceWriter w, ModelPlan plan)
        {
            w.WriteLine("/// <summary>");
            if (plan.Summary.Count == 0) w.WriteLine($"/// The {Xml(plan.Name)} architecture.");
            foreach (string line in plan.Summary)
                w.WriteLine(line.Trim().Length == 0 ? "///" : "/// " + Xml(line.TrimEnd()));
            w.WriteLine("/// </summary>");
            w.WriteLine("/// <remarks>");
            w.WriteLine($"/// <para>Generated from <c>{Xml(FileName(plan.SourcePath))}</c>{Extends(plan)}: {Sizes(plan)}.</para>");
            w.WriteLine("/// <list type=\"table\">");
            w.WriteLine("/// <listheader><term>layer</term><term>mixer</term><term>feed-forward</term></listheader>");
            foreach (LayerPlan layer in plan.Layers)
            {
                string feedForward = layer.FeedForward?.Describe() ?? "none";
                w.WriteLine($"/// <item><term>{Int(layer.Index)}</term><term>{Xml(layer.Mixer.Describe())}</term><term>{Xml(feedForward)}</term></item>");
            }
            w.WriteLine("/// </list>");
            w.WriteLine("/// </remarks>");
        }

        /// <summary>The file name alone, whatever the separator, so the text is the same on every machine.</summary>
        private static string FileName(string path) => path.Substring(path.LastIndexOfAny(new[] { '/', '\\' }) + 1);

        private static string Extends(ModelPlan plan) =>
            plan.Extends is null ? "" : $" (extends <c>{Xml(plan.Extends)}</c>)";

        private static string Sizes(ModelPlan plan)
        {
            ModelSizes s = plan.Sizes;
            string norm = s.Norm == NormKind.RmsNorm ? "RMSNorm" : "LayerNorm";
            string head = s.TiedEmbeddings ? "tied embeddings" : "separate lm_head";
            return $"{Int(s.LayerCount)} layers, d_model {Int(s.DModel)}, vocab {Int(s.Vocab)}, {norm} (eps {Double(s.NormEps)}), " +
                   $"{head}, {plan.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters";
        }
    }
}
