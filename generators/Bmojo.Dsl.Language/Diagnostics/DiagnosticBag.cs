using System.Collections.Generic;

namespace Bmojo.Dsl.Language.Diagnostics
{
    /// <summary>Collects diagnostics in report order, each once.</summary>
    internal sealed class DiagnosticBag
    {
        private readonly List<Diagnostic> _items = new List<Diagnostic>();
        private readonly HashSet<Diagnostic> _seen = new HashSet<Diagnostic>();

        public IReadOnlyList<Diagnostic> Items => _items;

        public void Add(Diagnostic diagnostic)
        {
            if (!_seen.Add(diagnostic)) return;
            _items.Add(diagnostic);
        }

        /// <summary>Replaces the diagnostic of id <paramref name="id"/> at the same span by a more telling one.</summary>
        public void Replace(string id, Diagnostic diagnostic)
        {
            int index = _items.FindIndex(d => d.Id == id && d.Span == diagnostic.Span);
            if (index < 0)
            {
                Add(diagnostic);
                return;
            }
            _seen.Remove(_items[index]);
            _items[index] = diagnostic;
            _seen.Add(diagnostic);
        }
    }
}
