using System.Collections.Generic;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>What a model states once its <c>extends</c> chain is applied: plain keys (the most derived wins),
    /// the rules of each slot (from the most derived model that states any rule of that slot) and the lets of
    /// every level (the most derived wins; a let's own name inside its body means the parent's definition).</summary>
    internal sealed class ModelScope
    {
        public const string MixerSlot = "mixer";
        public const string FeedForwardSlot = "mlp";

        public static readonly string[] ModelKeys = { "vocab", "d_model", "layers", "norm", "norm_eps", "tied_embeddings", MixerSlot, FeedForwardSlot };

        private readonly List<Dictionary<string, Located<LetSyntax>>> _lets = new List<Dictionary<string, Located<LetSyntax>>>();
        private readonly Dictionary<string, List<Located<AssignmentSyntax>>> _rules = new Dictionary<string, List<Located<AssignmentSyntax>>>();

        /// <param name="chain">The root ancestor first, the model itself last.</param>
        public ModelScope(IReadOnlyList<ModelDeclaration> chain, BindingReporter reporter)
        {
            foreach (ModelDeclaration level in chain) Apply(level, reporter);
        }

        public Dictionary<string, Located<AssignmentSyntax>> Settings { get; } = new Dictionary<string, Located<AssignmentSyntax>>();

        /// <summary>The index of the model itself in the chain: the level name lookups start from.</summary>
        public int TopLevel => _lets.Count - 1;

        public IReadOnlyList<Located<AssignmentSyntax>> Rules(string slot) =>
            _rules.TryGetValue(slot, out List<Located<AssignmentSyntax>>? rules) ? rules : new List<Located<AssignmentSyntax>>();

        /// <summary>The let named <paramref name="name"/> at <paramref name="maxLevel"/> or an ancestor level.</summary>
        public Located<LetSyntax>? FindLet(string name, int maxLevel, out int level)
        {
            for (level = maxLevel; level >= 0; level--)
                if (_lets[level].TryGetValue(name, out Located<LetSyntax>? let)) return let;
            return null;
        }

        public IEnumerable<string> LetNames()
        {
            var names = new HashSet<string>();
            foreach (Dictionary<string, Located<LetSyntax>> level in _lets) names.UnionWith(level.Keys);
            return names;
        }

        private void Apply(ModelDeclaration level, BindingReporter reporter)
        {
            var lets = new Dictionary<string, Located<LetSyntax>>();
            var keys = new Dictionary<string, AssignmentSyntax>();
            var rules = new Dictionary<string, List<Located<AssignmentSyntax>>>();
            foreach (MemberSyntax member in level.Syntax.Members)
            {
                if (member is LetSyntax let)
                {
                    if (lets.TryGetValue(let.Name.Text, out Located<LetSyntax>? first))
                        reporter.Report(level, DiagnosticCatalogue.DuplicateLet, let.Name.Span, let.Name.Text,
                            level.File.LineNumber(first.Node.Span.Start));
                    else
                        lets.Add(let.Name.Text, new Located<LetSyntax>(let, level));
                    continue;
                }
                var assignment = (AssignmentSyntax)member;
                string key = assignment.Key.Text;
                if (key == MixerSlot || key == FeedForwardSlot)
                {
                    if (!rules.TryGetValue(key, out List<Located<AssignmentSyntax>>? list)) rules.Add(key, list = new List<Located<AssignmentSyntax>>());
                    list.Add(new Located<AssignmentSyntax>(assignment, level));
                    continue;
                }
                if (System.Array.IndexOf(ModelKeys, key) < 0)
                {
                    reporter.Report(level, DiagnosticCatalogue.UnknownModelKey, assignment.Key.Span, key,
                        Suggestions.DidYouMean(key, ModelKeys));
                    continue;
                }
                if (assignment.Selector != null)
                    reporter.Report(level, DiagnosticCatalogue.SelectorOnPlainKey, assignment.Selector.Span, key);
                if (keys.TryGetValue(key, out AssignmentSyntax? earlier))
                {
                    reporter.Report(level, DiagnosticCatalogue.DuplicateKey, assignment.Key.Span, key,
                        level.File.LineNumber(earlier.Span.Start));
                    continue;
                }
                keys.Add(key, assignment);
                Settings[key] = new Located<AssignmentSyntax>(assignment, level);
            }
            _lets.Add(lets);
            // A model that states any rule of a slot replaces all the rules its parent gave that slot.
            foreach (KeyValuePair<string, List<Located<AssignmentSyntax>>> slot in rules) _rules[slot.Key] = slot.Value;
        }
    }
}
