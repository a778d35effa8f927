using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>Follows lets: <c>ssm { d_state = 8 }</c> is the let <c>ssm</c> with d_state replaced. A let's own name
    /// inside its body means the parent model's let of that name (or the kind), so a child can write
    /// <c>let ssm = ssm { d_state = 8 }</c>.</summary>
    internal sealed class ComponentResolver
    {
        /// <summary>How many lets deep a definition may go; bounds the resolver's recursion.</summary>
        public const int MaxLetDepth = 64;

        private readonly ModelScope _scope;
        private readonly BindingReporter _reporter;
        private readonly List<(string Name, int Level)> _inProgress = new List<(string, int)>();

        public ComponentResolver(ModelScope scope, BindingReporter reporter)
        {
            _scope = scope;
            _reporter = reporter;
        }

        /// <summary>The component a value names (kind <see cref="ResolvedComponent.None"/> for <c>none</c>), or null
        /// after reporting why it names none.</summary>
        /// <param name="key">The key the value is assigned to, for messages.</param>
        public ResolvedComponent? Resolve(Located<ValueSyntax> value, string key) => Resolve(value, key, null);

        private ResolvedComponent? Resolve(Located<ValueSyntax> value, string key, (string Name, int MaxLevel)? shadow)
        {
            switch (value.Node)
            {
                case IdentifierSyntax { Name: ResolvedComponent.None }:
                    return new ResolvedComponent(ResolvedComponent.None, value, new Dictionary<string, Located<AssignmentSyntax>>());
                case IdentifierSyntax identifier:
                    return ResolveHead(new NameSyntax(identifier.Name, identifier.Span), value, new AssignmentSyntax[0], shadow);
                case ComponentSyntax component:
                    return ResolveHead(component.Kind, value, component.Arguments, shadow);
                default:
                    _reporter.Report(value, DiagnosticCatalogue.WrongType, value.Node.Span, key, "a component",
                        ValueText.Describe(value.Node), string.Empty);
                    return null;
            }
        }

        private ResolvedComponent? ResolveHead(
            NameSyntax head, Located<ValueSyntax> site, IEnumerable<AssignmentSyntax> arguments, (string Name, int MaxLevel)? shadow)
        {
            int maxLevel = shadow is { } s && s.Name == head.Text ? s.MaxLevel : _scope.TopLevel;
            Located<LetSyntax>? let = _scope.FindLet(head.Text, maxLevel, out int level);
            ResolvedComponent? basis;
            if (let != null)
            {
                if (_inProgress.Count == MaxLetDepth)
                {
                    _reporter.Report(site, DiagnosticCatalogue.LetTooDeep, head.Span, head.Text, MaxLetDepth);
                    return null;
                }
                if (_inProgress.Contains((head.Text, level)))
                {
                    string cycle = string.Join(" -> ", _inProgress.SkipWhile(p => p != (head.Text, level)).Select(p => p.Name)) + " -> " + head.Text;
                    _reporter.Report(site, DiagnosticCatalogue.LetCycle, head.Span, head.Text, cycle);
                    return null;
                }
                _inProgress.Add((head.Text, level));
                basis = Resolve(new Located<ValueSyntax>(let.Node.Value, let.Owner), head.Text, (head.Text, level - 1));
                _inProgress.RemoveAt(_inProgress.Count - 1);
                if (basis == null) return null;
            }
            else if (head.Text == ResolvedComponent.None || ComponentKindRegistry.IsKind(head.Text))
            {
                basis = new ResolvedComponent(head.Text, site, new Dictionary<string, Located<AssignmentSyntax>>());
            }
            else
            {
                _reporter.Report(site, DiagnosticCatalogue.UnknownComponent, head.Span, head.Text,
                    Suggestions.DidYouMean(head.Text, ComponentKindRegistry.All.Select(kind => kind.Name).Concat(_scope.LetNames())));
                return null;
            }

            var merged = new Dictionary<string, Located<AssignmentSyntax>>(basis.Arguments.ToDictionary(p => p.Key, p => p.Value));
            var stated = new Dictionary<string, AssignmentSyntax>();
            foreach (AssignmentSyntax argument in arguments)
            {
                if (stated.TryGetValue(argument.Key.Text, out AssignmentSyntax? first))
                {
                    _reporter.Report(site, DiagnosticCatalogue.DuplicateKey, argument.Key.Span, argument.Key.Text,
                        site.Owner.File.LineNumber(first.Span.Start));
                    continue;
                }
                stated.Add(argument.Key.Text, argument);
                merged[argument.Key.Text] = new Located<AssignmentSyntax>(argument, site.Owner);
            }
            return new ResolvedComponent(basis.Kind, site, merged);
        }
    }
}
