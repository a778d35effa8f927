using System;
using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>One static readonly field per distinct mixer or feed-forward setting of a model, in order of first
    /// use, so a 48-layer model names its two or three settings once and each layer line refers to them by name.
    /// A kind used with one setting gets a plain name (<c>MambaOptions</c>); several are numbered from 1.</summary>
    internal sealed class OptionFields
    {
        private const string Suffix = "Options";

        private readonly Dictionary<MixerPlan, OptionField> _mixers;
        private readonly Dictionary<FeedForwardPlan, OptionField> _feedForwards;

        public OptionFields(ModelPlan plan)
        {
            List<(MixerPlan Plan, OptionField Field)> mixers =
                Name(plan.Layers.Select(layer => layer.Mixer).Distinct().ToList(),
                     (mixer, name) => MixerField(mixer, name, plan.FusedKernels));
            List<(FeedForwardPlan Plan, OptionField Field)> feedForwards = Name(
                plan.Layers.Where(layer => layer.FeedForward is not null).Select(layer => layer.FeedForward!).Distinct().ToList(),
                FeedForwardField);
            _mixers = mixers.ToDictionary(entry => entry.Plan, entry => entry.Field);
            _feedForwards = feedForwards.ToDictionary(entry => entry.Plan, entry => entry.Field);
            All = mixers.Select(entry => entry.Field).Concat(feedForwards.Select(entry => entry.Field)).ToList();
        }

        /// <summary>Every field: mixers, then feed-forwards, grouped by kind in order of first use.</summary>
        public IReadOnlyList<OptionField> All { get; }

        public OptionField For(MixerPlan mixer) => _mixers[mixer];

        public OptionField For(FeedForwardPlan feedForward) => _feedForwards[feedForward];

        private static List<(TPlan Plan, OptionField Field)> Name<TPlan>(
            IReadOnlyList<TPlan> distinct, Func<TPlan, string, OptionField> field) where TPlan : class
        {
            var fields = new List<(TPlan, OptionField)>();
            foreach (IGrouping<string, TPlan> kind in distinct.GroupBy(Kind))
            {
                int ordinal = 0;
                foreach (TPlan plan in kind)
                {
                    string name = kind.Count() == 1 ? kind.Key + Suffix : kind.Key + Suffix + ++ordinal;
                    fields.Add((plan, field(plan, name)));
                }
            }
            return fields;
        }

        /// <summary>Whether <paramref name="name"/> is, or may be, the name of an options field.</summary>
        public static bool IsFieldName(string name) =>
            new[] { "Attention", "Mamba", "Bmojo", "Mlp", "Moe" }.Any(kind =>
                name.StartsWith(kind + Suffix, StringComparison.Ordinal) &&
                name.Substring(kind.Length + Suffix.Length).All(char.IsDigit));

        private static string Kind<TPlan>(TPlan plan) => plan switch
        {
            AttentionPlan => "Attention",
            MambaPlan => "Mamba",
            BmojoPlan => "Bmojo",
            MlpPlan => "Mlp",
            MoePlan => "Moe",
            _ => throw new ArgumentOutOfRangeException(nameof(plan), plan, "unknown layer kind"),
        };

        private static OptionField MixerField(MixerPlan mixer, string name, bool fusedKernels) => mixer switch
        {
            AttentionPlan a => new OptionField(name, RuntimeNames.AttentionOptions, new[] { OptionsExpressions.Attention(a) },
                                               RuntimeNames.AttentionMixer),
            MambaPlan m => new OptionField(name, RuntimeNames.MambaOptions, new[] { OptionsExpressions.Mamba(m) },
                                           RuntimeNames.MambaMixer),
            BmojoPlan b => new OptionField(name, RuntimeNames.BmojoOptions, OptionsExpressions.BmojoLines(b, fusedKernels),
                                           RuntimeNames.BmojoMixer),
            _ => throw new ArgumentOutOfRangeException(nameof(mixer), mixer, "unknown mixer"),
        };

        private static OptionField FeedForwardField(FeedForwardPlan feedForward, string name) => feedForward switch
        {
            MlpPlan m => new OptionField(name, RuntimeNames.MlpOptions, new[] { OptionsExpressions.Mlp(m) },
                                         RuntimeNames.Mlp),
            MoePlan m => new OptionField(name, RuntimeNames.MoeOptions, new[] { OptionsExpressions.Moe(m) },
                                         RuntimeNames.MixtureOfExperts),
            _ => throw new ArgumentOutOfRangeException(nameof(feedForward), feedForward, "unknown feed-forward"),
        };
    }

    /// <param name="Name">The field's name.</param>
    /// <param name="OptionsType">The Bmojo.Runtime options record it holds.</param>
    /// <param name="Initializer">Its initializer: one line, or several when long.</param>
    /// <param name="ModuleType">The Bmojo.Runtime module built from it.</param>
    internal sealed record OptionField(string Name, string OptionsType, string[] Initializer, string ModuleType);
}
