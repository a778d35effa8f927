using System.Collections.Generic;

namespace Bmojo.Dsl.Language.Plan
{
    /// <summary>The exact number of trainable scalars of the module a plan builds (docs/architecture.md,
    /// "Parameter count"); the runtime builds modules with exactly these tensors.</summary>
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

        public static long Mixer(MixerPlan mixer, long d) => mixer switch
        {
            AttentionPlan attention => Attention(attention, d),
            MambaPlan mamba => Mamba(mamba, d),
            BmojoPlan bmojo => Bmojo(bmojo, d),
            _ => throw new System.ArgumentOutOfRangeException(nameof(mixer), mixer.GetType().Name, "unknown mixer plan"),
        };

        public static long FeedForward(FeedForwardPlan feedForward, long d) => feedForward switch
        {
            MlpPlan mlp => Mlp(mlp, d),
            MoePlan moe => d * moe.Experts + moe.Experts * Mlp(moe.Expert, d), // router + experts
            _ => throw new System.ArgumentOutOfRangeException(nameof(feedForward), feedForward.GetType().Name, "unknown feed-forward plan"),
        };

        /// <summary>in_proj (fused q, k, v) and out_proj.</summary>
        public static long Attention(AttentionPlan attention, long d)
        {
            long headSize = d / attention.Heads;
            long qkv = headSize * (attention.Heads + 2L * attention.KvHeads);
            long inProj = d * qkv + (attention.Bias ? qkv : 0);
            long outProj = attention.Heads * headSize * d + (attention.Bias ? d : 0);
            return inProj + outProj;
        }

        /// <summary>in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj (state-spaces/mamba <c>Mamba</c>).</summary>
        public static long Mamba(MambaPlan mamba, long d)
        {
            long inner = mamba.Expand * d, rank = mamba.DtRank, state = mamba.DState;
            long inProj = d * 2 * inner + (mamba.Bias ? 2 * inner : 0);
            long conv = inner * mamba.DConv + (mamba.ConvBias ? inner : 0);
            long xProj = inner * (rank + 2 * state);
            long dtProj = rank * inner + inner;
            long aLog = inner * state;
            long skip = inner;
            long outProj = inner * d + (mamba.Bias ? d : 0);
            return inProj + conv + xProj + dtProj + aLog + skip + outProj;
        }

        /// <summary>ssm (when on), in_proj and out_proj as attention, fading_proj unless tied, predictor when learned.</summary>
        public static long Bmojo(BmojoPlan bmojo, long d)
        {
            AttentionPlan attention = bmojo.Attention;
            long headSize = d / attention.Heads;
            long total = Attention(attention, d);
            if (bmojo.Fading != null)
            {
                total += Mamba(bmojo.Fading, d);
                if (!bmojo.TiedFadingProjections)
                {
                    long kv = 2L * attention.KvHeads * headSize;
                    total += d * kv + (attention.Bias ? kv : 0);
                }
            }
            if (bmojo.Predictor == PredictorKind.Learned) total += d * d;
            return total;
        }

        /// <summary>fc1 (to 2 x hidden when gated) and fc2.</summary>
        public static long Mlp(MlpPlan mlp, long d)
        {
            long up = mlp.Gated ? 2L * mlp.Hidden : mlp.Hidden;
            return d * up + (mlp.Bias ? up : 0) + mlp.Hidden * d + (mlp.Bias ? d : 0);
        }
    }
}
