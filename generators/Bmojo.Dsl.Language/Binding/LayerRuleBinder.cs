using System;
using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>What a slot's rules give each layer: <see cref="Plans"/>[i] for layer i, and whether a rule claims
    /// layer i at all (<see cref="Assigned"/>[i]; a rule may assign none, e.g. <c>mlp = none</c>, and a rule whose
    /// value has an error still claims its layers, so no second error follows).</summary>
    internal sealed record LayerAssignment<T>(T?[] Plans, bool[] Assigned) where T : class;

    /// <summary>A slot's rules -> one plan per layer. At most one fill rule (<c>slot = v</c> or
    /// <c>slot pattern = [...]</c>); override rules (<c>every N offset M</c>, <c>at [...]</c>) replace it on the layers
    /// they claim, and no two override rules may claim the same layer.</summary>
    internal sealed class LayerRuleBinder
    {
        private readonly BindingReporter _reporter;
        private readonly int _layers;

        public LayerRuleBinder(BindingReporter reporter, int layers)
        {
            _reporter = reporter;
            _layers = layers;
        }

        /// <param name="bind">Binds one value (null for none, or after reporting an error).</param>
        public LayerAssignment<T> Bind<T>(string slot, IReadOnlyList<Located<AssignmentSyntax>> rules, Func<Located<ValueSyntax>, T?> bind)
            where T : class
        {
            var plans = new T?[_layers];
            var assigned = new bool[_layers];
            Located<AssignmentSyntax>? fill = null;
            var overrides = new List<(Located<AssignmentSyntax> Rule, SortedSet<int> Layers)>();
            foreach (Located<AssignmentSyntax> rule in rules)
            {
                if (rule.Node.Selector is null || rule.Node.Selector is PatternSelectorSyntax)
                {
                    if (fill != null)
                    {
                        _reporter.Report(rule, DiagnosticCatalogue.DuplicateFillRule, rule.Node.Key.Span, slot,
                            Line(fill), Line(rule));
                        continue;
                    }
                    fill = rule;
                    Fill(slot, rule, bind, plans, assigned);
                }
                else
                {
                    overrides.Add((rule, Claims(rule)));
                }
            }

            for (int j = 0; j < overrides.Count; j++)
            {
                var (rule, layers) = overrides[j];
                for (int k = 0; k < j; k++)
                {
                    var (earlier, earlierLayers) = overrides[k];
                    int? shared = layers.Where(earlierLayers.Contains).Cast<int?>().FirstOrDefault();
                    if (shared is int layer)
                        _reporter.Report(rule, DiagnosticCatalogue.RulesCollide, rule.Node.Selector!.Span, slot, layer,
                            ValueText.Describe(earlier.Node.Selector), Line(earlier), ValueText.Describe(rule.Node.Selector), Line(rule));
                }
                T? plan = bind(new Located<ValueSyntax>(rule.Node.Value, rule.Owner));
                foreach (int layer in layers) (plans[layer], assigned[layer]) = (plan, true);
            }
            return new LayerAssignment<T>(plans, assigned);
        }

        private void Fill<T>(string slot, Located<AssignmentSyntax> rule, Func<Located<ValueSyntax>, T?> bind, T?[] plans, bool[] assigned)
            where T : class
        {
            if (rule.Node.Selector is null)
            {
                T? plan = bind(new Located<ValueSyntax>(rule.Node.Value, rule.Owner));
                for (int i = 0; i < _layers; i++) (plans[i], assigned[i]) = (plan, true);
                return;
            }
            if (!(rule.Node.Value is ListSyntax list))
            {
                _reporter.Report(rule, DiagnosticCatalogue.WrongType, rule.Node.Value.Span, slot + " pattern",
                    "a list such as [ssm, ssm, attn]", ValueText.Describe(rule.Node.Value), string.Empty);
                for (int i = 0; i < _layers; i++) assigned[i] = true;
                return;
            }
            if (list.Items.Count == 0 || list.Items.Count > _layers)
            {
                _reporter.Report(rule, DiagnosticCatalogue.InvalidPattern, list.Span, list.Items.Count, _layers);
                for (int i = 0; i < _layers; i++) assigned[i] = true;
                return;
            }
            var entries = list.Items.Select(item => bind(new Located<ValueSyntax>(item, rule.Owner))).ToArray();
            for (int i = 0; i < _layers; i++) (plans[i], assigned[i]) = (entries[i % entries.Length], true);
        }

        /// <summary>The layers an override rule claims, each checked against the layer count.</summary>
        private SortedSet<int> Claims(Located<AssignmentSyntax> rule)
        {
            var claimed = new SortedSet<int>();
            switch (rule.Node.Selector)
            {
                case EverySelectorSyntax every:
                {
                    double period = every.Every.Value, offset = every.Offset?.Value ?? 0;
                    if (period < 1)
                    {
                        _reporter.Report(rule, DiagnosticCatalogue.InvalidEvery, every.Every.Span, "every", "at least 1", every.Every.Text);
                        return claimed;
                    }
                    if (offset < 0 || offset >= period)
                    {
                        _reporter.Report(rule, DiagnosticCatalogue.InvalidEvery, every.Offset!.Span, "offset",
                            $"at least 0 and less than 'every' ({every.Every.Text})", every.Offset.Text);
                        return claimed;
                    }
                    for (double i = offset; i < _layers; i += period) claimed.Add((int)i);
                    break;
                }
                case AtSelectorSyntax at:
                    foreach (NumberSyntax layer in at.Layers)
                    {
                        if (layer.Value < 0 || layer.Value >= _layers)
                            _reporter.Report(rule, DiagnosticCatalogue.LayerOutOfRange, layer.Span, layer.Text, _layers, _layers - 1);
                        else if (!claimed.Add((int)layer.Value))
                            _reporter.Report(rule, DiagnosticCatalogue.DuplicateLayerInAt, layer.Span, layer.Text);
                    }
                    if (at.Layers.Count > 0) return claimed;
                    break;
            }
            if (claimed.Count == 0)
                _reporter.Report(rule, DiagnosticCatalogue.RuleMatchesNothing, rule.Node.Selector!.Span,
                    ValueText.Describe(rule.Node.Selector), _layers == 1 ? "1 layer" : $"{_layers} layers");
            return claimed;
        }

        private static int Line(Located<AssignmentSyntax> rule) => rule.Owner.File.LineNumber(rule.Node.Span.Start);
    }
}
