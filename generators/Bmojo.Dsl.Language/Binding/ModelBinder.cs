using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Plan;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>One model, its <c>extends</c> chain applied -> a <see cref="ModelPlan"/> (null when it has errors).</summary>
    internal static class ModelBinder
    {
        public static ModelPlan? Bind(IReadOnlyList<ModelDeclaration> chain, string ns, BindingReporter reporter)
        {
            ModelDeclaration model = chain[chain.Count - 1];
            bool syntaxErrors = chain.Any(m => m.Syntax.HasErrors);
            reporter.SuppressMissing = syntaxErrors;
            var scope = new ModelScope(chain, reporter);
            var site = new Located<NameSyntax>(model.Syntax.Name, model);
            var settings = new ArgumentReader(scope.Settings, site, $"model '{model.Name}'", reporter);

            int vocab = settings.RequiredInt("vocab", 1, 16_777_216, "the vocabulary size");
            bool errorsBefore = reporter.HasErrors;
            int dModel = settings.RequiredInt("d_model", 1, 65_536, "the width of the residual stream");
            bool dModelValid = settings.IsStated("d_model") && reporter.HasErrors == errorsBefore;
            errorsBefore = reporter.HasErrors;
            int layerCount = settings.RequiredInt("layers", 1, 1024, "the number of layers");
            bool layersValid = settings.IsStated("layers") && reporter.HasErrors == errorsBefore;
            NormKind norm = settings.Enum("norm", NormKind.RmsNorm, ("rmsnorm", NormKind.RmsNorm), ("layernorm", NormKind.LayerNorm));
            double normEps = settings.Real("norm_eps", 1e-5, new Bounds(0, false, 1, false));
            bool tied = settings.Bool("tied_embeddings", true);

            if (!layersValid) return null;
            var components = new ComponentBinder(reporter, new ComponentResolver(scope, reporter), dModel, dModelValid);
            var rules = new LayerRuleBinder(reporter, layerCount);
            LayerAssignment<MixerPlan> mixers = rules.Bind(ModelScope.MixerSlot, scope.Rules(ModelScope.MixerSlot), components.BindMixer);
            LayerAssignment<FeedForwardPlan> feedForwards = rules.Bind(ModelScope.FeedForwardSlot, scope.Rules(ModelScope.FeedForwardSlot), components.BindFeedForward);

            int[] withoutMixer = Enumerable.Range(0, layerCount).Where(i => !mixers.Assigned[i]).ToArray();
            if (withoutMixer.Length > 0 && !reporter.SuppressMissing)
                reporter.Report(model, DiagnosticCatalogue.LayerWithoutMixer, model.Syntax.Name.Span, DescribeLayers(withoutMixer));

            if (reporter.HasErrors || syntaxErrors) return null;
            var layers = Enumerable.Range(0, layerCount)
                .Select(i => new LayerPlan(i, mixers.Plans[i]!, feedForwards.Plans[i]))
                .ToEquatableArray();
            var sizes = new ModelSizes(vocab, dModel, layerCount, norm, normEps, tied);
            return new ModelPlan(model.Name, model.File.Path, ns, model.Syntax.Extends?.Text, model.Syntax.Summary, sizes, layers,
                ParameterCounter.Count(sizes, layers));
        }

        /// <summary>"layer 3", "layers 0-2, 5".</summary>
        private static string DescribeLayers(int[] layers)
        {
            var runs = new List<string>();
            for (int i = 0; i < layers.Length;)
            {
                int j = i;
                while (j + 1 < layers.Length && layers[j + 1] == layers[j] + 1) j++;
                runs.Add(i == j ? $"{layers[i]}" : $"{layers[i]}-{layers[j]}");
                i = j + 1;
            }
            return (layers.Length == 1 ? "layer " : "layers ") + string.Join(", ", runs);
        }
    }
}
