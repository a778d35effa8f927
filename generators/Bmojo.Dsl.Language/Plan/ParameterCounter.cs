using System.Collections.Generic;
using Bmojo.Dsl.Language.Kinds;

namespace Bmojo.Dsl.Language.Plan
{
    /// <summary>The exact number of trainable scalars of the module a plan builds (docs/architecture.md,
    /// "Parameter count"); the runtime builds modules with exactly these tensors. Each kind counts its own.</summary>
    public static class ParameterCounter
    {
        public static long Count(ModelSizes sizes, IEnumerable<LayerPlan> layers)
        {
            long d = sizes.DModel, vocab = sizes.Vocab;
            long norm = Norm(sizes);
            long total = vocab * d + norm + (sizes.TiedEmbeddings ? 0 : vocab * d); // embedding, norm_f, lm_head
            foreach (LayerPlan layer in layers)
            {
                total += norm + Mixer(layer.Mixer, d);
                if (layer.FeedForward != null) total += norm + FeedForward(layer.FeedForward, d);
            }
            return total;
        }

        /// <summary>One norm: RMSNorm has a weight, LayerNorm a weight and a bias.</summary>
        public static long Norm(ModelSizes sizes) => sizes.Norm == NormKind.LayerNorm ? 2L * sizes.DModel : sizes.DModel;

        public static long Mixer(MixerPlan mixer, long d) => ComponentKindRegistry.Of(mixer).Parameters(mixer, d);

        public static long FeedForward(FeedForwardPlan feedForward, long d) => ComponentKindRegistry.Of(feedForward).Parameters(feedForward, d);
    }
}
