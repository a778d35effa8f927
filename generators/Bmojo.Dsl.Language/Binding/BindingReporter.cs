using System.Collections.Generic;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>A diagnostic found while binding one model, and whether its token lies in an ancestor's text.</summary>
    internal readonly record struct BindingDiagnostic(Diagnostic Diagnostic, bool InAncestor);

    /// <summary>Where the binder of one model reports: each diagnostic at the token that caused it, in whichever
    /// file (an inherited value may live in the parent's file).</summary>
    internal sealed class BindingReporter
    {
        private readonly ModelDeclaration _model;
        private readonly List<BindingDiagnostic> _items = new List<BindingDiagnostic>();

        public BindingReporter(ModelDeclaration model) => _model = model;

        public IReadOnlyList<BindingDiagnostic> Items => _items;

        public bool HasErrors { get; private set; }

        /// <summary>Set when the model or an ancestor has syntax errors: a key may be missing only because its line
        /// did not parse, so "missing key" and "layer without mixer" would be noise.</summary>
        public bool SuppressMissing { get; set; }

        public void Report(ModelDeclaration owner, DiagnosticDescriptor descriptor, TextSpan span, params object[] args)
        {
            _items.Add(new BindingDiagnostic(owner.File.Create(descriptor, span, args), owner != _model));
            if (descriptor.Severity == Severity.Error) HasErrors = true;
        }

        public void Report<T>(Located<T> at, DiagnosticDescriptor descriptor, TextSpan span, params object[] args) =>
            Report(at.Owner, descriptor, span, args);
    }
}
