using System;
using System.Linq;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>Resolved components -> plans: finds the kind in <see cref="ComponentKindRegistry"/>, lets it read its
    /// keys (types, ranges, defaults: Kinds/), then reports the keys it did not know.</summary>
    internal sealed class ComponentBinder
    {
        private readonly BindingReporter _reporter;
        private readonly ComponentResolver _resolver;

        /// <param name="dModelValid">False when d_model itself is in error: checks against it are then skipped.</param>
        public ComponentBinder(BindingReporter reporter, ComponentResolver resolver, int dModel, bool dModelValid)
        {
            _reporter = reporter;
            _resolver = resolver;
            DModel = dModel;
            DModelValid = dModelValid;
        }

        /// <summary>The model's width, which some defaults and checks depend on.</summary>
        public int DModel { get; }

        public bool DModelValid { get; }

        /// <summary>The mixer a slot value names, or null after reporting (none is not a mixer).</summary>
        public MixerPlan? BindMixer(Located<ValueSyntax> value)
        {
            ResolvedComponent? component = _resolver.Resolve(value, ModelScope.MixerSlot);
            if (component == null) return null;
            if (component.Kind == ResolvedComponent.None)
            {
                _reporter.Report(value, DiagnosticCatalogue.NoneMixer, value.Node.Span);
                return null;
            }
            SlotKind<MixerPlan>? kind = ComponentKindRegistry.Mixers.FirstOrDefault(k => k.Name == component.Kind);
            if (kind != null) return Checked(component, kind, r => kind.Bind(r, this));
            WrongKind(value, ModelScope.MixerSlot, "a mixer (" + Names(ComponentKindRegistry.Mixers) + ")", component.Kind);
            return null;
        }

        /// <summary>The feed-forward a slot value names; null for none, or after reporting an error.</summary>
        public FeedForwardPlan? BindFeedForward(Located<ValueSyntax> value)
        {
            ResolvedComponent? component = _resolver.Resolve(value, ModelScope.FeedForwardSlot);
            if (component == null) return null;
            if (component.Kind == ResolvedComponent.None) return Checked<FeedForwardPlan?>(component, null, r => null);
            SlotKind<FeedForwardPlan>? kind = ComponentKindRegistry.FeedForwards.FirstOrDefault(k => k.Name == component.Kind);
            if (kind != null) return Checked(component, kind, r => kind.Bind(r, this));
            WrongKind(value, ModelScope.FeedForwardSlot, "a feed-forward (" + Names(ComponentKindRegistry.FeedForwards) + " or none)", component.Kind);
            return null;
        }

        /// <summary>The part a key's value names (<c>retrieval = retrieval { ... }</c>); null when absent, none, or
        /// after reporting an error.</summary>
        public TPlan? BindPart<TPlan>(Located<ValueSyntax>? value, string key, PartKind<TPlan> kind) where TPlan : class
        {
            if (value == null) return null;
            ResolvedComponent? component = _resolver.Resolve(value, key);
            if (component == null || component.Kind == ResolvedComponent.None) return null;
            if (component.Kind != kind.Name)
            {
                WrongKind(value, key, $"a {kind.Name} component or none", component.Kind);
                return null;
            }
            return Checked(component, kind, r => kind.Read(r, this));
        }

        /// <summary>Reports a cross-key check at a key's value (nothing when the key is not stated).</summary>
        public void Report(Located<ValueSyntax>? at, DiagnosticDescriptor descriptor, params object[] args)
        {
            if (at != null) _reporter.Report(at, descriptor, at.Node.Span, args);
        }

        /// <summary>Reads a component with <paramref name="bind"/>, then reports the keys <paramref name="kind"/>
        /// does not know (every key, for none).</summary>
        private T Checked<T>(ResolvedComponent component, ComponentKind? kind, Func<ArgumentReader, T> bind)
        {
            var site = new Located<NameSyntax>(new NameSyntax(component.Kind, KindSpan(component.Site.Node)), component.Site.Owner);
            var reader = new ArgumentReader(component.Arguments, site, component.Kind, _reporter);
            T plan = bind(reader);
            reader.ReportUnknownKeys(kind?.KeyNames ?? new string[0]);
            return plan;
        }

        private void WrongKind(Located<ValueSyntax> value, string key, string expected, string kind) =>
            _reporter.Report(value, DiagnosticCatalogue.WrongComponentKind, KindSpan(value.Node), key, expected, kind);

        private static string Names(System.Collections.Generic.IEnumerable<ComponentKind> kinds) => string.Join(", ", kinds.Select(k => k.Name));

        private static TextSpan KindSpan(ValueSyntax value) => value is ComponentSyntax component ? component.Kind.Span : value.Span;
    }
}
