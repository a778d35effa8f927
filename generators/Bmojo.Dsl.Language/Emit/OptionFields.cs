using System;
using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Kinds;
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
                Name(plan.Layers.Select(layer => layer.Mixer).Distinct().ToList(), ComponentKindRegistry.Of, plan);
            List<(FeedForwardPlan Plan, OptionField Field)> feedForwards = Name(
                plan.Layers.Where(layer => layer.FeedForward is not null).Select(layer => layer.FeedForward!).Distinct().ToList(),
                ComponentKindRegistry.Of, plan);
            _mixers = mixers.ToDictionary(entry => entry.Plan, entry => entry.Field);
            _feedForwards = feedForwards.ToDictionary(entry => entry.Plan, entry => entry.Field);
            All = mixers.Select(entry => entry.Field).Concat(feedForwards.Select(entry => entry.Field)).ToList();
        }

        /// <summary>Every field: mixers, then feed-forwards, grouped by kind in order of first use.</summary>
        public IReadOnlyList<OptionField> All { get; }

        public OptionField For(MixerPlan mixer) => _mixers[mixer];

        public OptionField For(FeedForwardPlan feedForward) => _feedForwards[feedForward];

        private static List<(TPlan Plan, OptionField Field)> Name<TPlan>(
            IReadOnlyList<TPlan> distinct, Func<TPlan, SlotKind<TPlan>> kindOf, ModelPlan model) where TPlan : class
        {
            var fields = new List<(TPlan, OptionField)>();
            foreach (IGrouping<string, TPlan> kind in distinct.GroupBy(plan => kindOf(plan).FieldStem))
            {
                int ordinal = 0;
                foreach (TPlan plan in kind)
                {
                    string name = kind.Count() == 1 ? kind.Key + Suffix : kind.Key + Suffix + ++ordinal;
                    OptionsCode code = kindOf(plan).Emit(plan, model);
                    fields.Add((plan, new OptionField(name, code.OptionsType, code.Initializer, code.ModuleType)));
                }
            }
            return fields;
        }

        /// <summary>Whether <paramref name="name"/> is, or may be, the name of an options field.</summary>
        public static bool IsFieldName(string name) =>
            ComponentKindRegistry.Mixers.Select(kind => kind.FieldStem)
                .Concat(ComponentKindRegistry.FeedForwards.Select(kind => kind.FieldStem))
                .Any(stem => name.StartsWith(stem + Suffix, StringComparison.Ordinal) &&
                             name.Substring(stem.Length + Suffix.Length).All(char.IsDigit));
    }

    /// <param name="Name">The field's name.</param>
    /// <param name="OptionsType">The Bmojo.Runtime options record it holds.</param>
    /// <param name="Initializer">Its initializer: one line, or several when long.</param>
    /// <param name="ModuleType">The Bmojo.Runtime module built from it.</param>
    internal sealed record OptionField(string Name, string OptionsType, string[] Initializer, string ModuleType);
}
