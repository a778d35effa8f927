using System.Collections.Generic;
using System.Linq;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>The component kinds of the language and the keys each one takes (docs/spec-language.md).</summary>
    internal static class ComponentKinds
    {
        public const string Attention = "attention";
        public const string Mamba = "mamba";
        public const string Bmojo = "bmojo";
        public const string BmojoF = "bmojo_f";
        public const string Mlp = "mlp";
        public const string Moe = "moe";
        public const string Retrieval = "retrieval";

        public static readonly string[] Mixers = { Attention, Mamba, Bmojo, BmojoF };
        public static readonly string[] FeedForwards = { Mlp, Moe };
        public static readonly string[] All = Mixers.Concat(FeedForwards).Concat(new[] { Retrieval }).ToArray();

        public static readonly string[] AttentionKeys = { "heads", "kv_heads", "window", "rope", "rotary_dim", "rope_base", "bias" };
        public static readonly string[] MambaKeys = { "d_state", "d_conv", "expand", "dt_rank", "dt_min", "dt_max", "dt_init_floor", "conv_bias", "bias" };

        /// <summary>The SSM keys of a B'MOJO layer: Mamba's, except 'bias', which B'MOJO shares with its attention.</summary>
        public static readonly string[] FadingKeys = MambaKeys.Where(k => k != "bias").ToArray();

        public static readonly string[] BmojoKeys = AttentionKeys.Where(k => k != "window").Concat(FadingKeys).Concat(new[]
        {
            "window", "fading_tokens", "eidetic_capacity", "threshold", "predictor", "tied_fading", "ssm", "retrieval",
        }).ToArray();

        /// <summary>B'MOJO-F has no eidetic memory: these keys of B'MOJO do not apply to it.</summary>
        public static readonly string[] EideticKeys = { "eidetic_capacity", "threshold", "predictor", "retrieval" };

        public static readonly string[] BmojoFKeys = BmojoKeys.Except(EideticKeys).ToArray();
        public static readonly string[] MlpKeys = { "hidden", "activation", "gated", "bias" };
        public static readonly string[] MoeKeys = { "experts", "top_k", "hidden", "activation", "gated", "bias", "aux_loss_weight" };
        public static readonly string[] RetrievalKeys = { "top_k", "chunk_size", "store" };

        public static bool IsKind(string name) => All.Contains(name);

        public static IReadOnlyList<string> Keys(string kind) => kind switch
        {
            Attention => AttentionKeys,
            Mamba => MambaKeys,
            Bmojo => BmojoKeys,
            BmojoF => BmojoFKeys,
            Mlp => MlpKeys,
            Moe => MoeKeys,
            Retrieval => RetrievalKeys,
            _ => new string[0],
        };
    }
}
