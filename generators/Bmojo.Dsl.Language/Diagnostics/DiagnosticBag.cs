using System.Collections.Generic;

namespace Bmojo.Dsl.Language.Diagnostics
{
    /// <summary>Collects diagnostics in report order, each once.</summary>
    internal sealed class DiagnosticBag
    {
        private readonly List<Diagnostic> _items = new List<Diagnostic>();
        private readonly HashSet<Diagnostic> _seen = new HashSet<Diagnostic>();

        public IReadOnlyList<Diagnostic> Items => _items;

        public bool HasErrors { get; private set; }

        public void Add(Diagnostic diagnostic)
        {
            if (!_seen.Add(diagnostic)) return;
            _items.Add(diagnostic);
            if (diagnostic.Severity == Severity.Error) HasErrors = true;
        }
    }
}
