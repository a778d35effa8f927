using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary>Every component kind of the language, in one list: the binder, the parameter counter, the memory
    /// budget, the descriptions and the emitter find a kind here, by its name or by its plan's type. A new kind is
    /// its file under Kinds/ and one line below.</summary>
    internal static class ComponentKindRegistry
    {
        /// <summary>In the order the messages list them: mixers, feed-forwards, parts.</summary>
        public static readonly IReadOnlyList<ComponentKind> All = new ComponentKind[]
        {
            AttentionKind.Instance,
            MambaKind.Instance,
            BmojoKind.Bmojo,
            BmojoKind.BmojoF,
            SsdKind.Instance,
            MlpKind.Instance,
            MoeKind.Instance,
            RetrievalKind.Instance,
        };

        public static readonly IReadOnlyList<SlotKind<MixerPlan>> Mixers = All.OfType<SlotKind<MixerPlan>>().ToArray();

        public static readonly IReadOnlyList<SlotKind<FeedForwardPlan>> FeedForwards = All.OfType<SlotKind<FeedForwardPlan>>().ToArray();

        public static bool IsKind(string name) => All.Any(kind => kind.Name == name);

        public static SlotKind<MixerPlan> Of(MixerPlan plan) => Mixers.First(kind => kind.PlanType == plan.GetType());

        public static SlotKind<FeedForwardPlan> Of(FeedForwardPlan plan) => FeedForwards.First(kind => kind.PlanType == plan.GetType());
    }
}
