using System;
using System.Collections.Generic;
using Bmojo.Dsl.Language.Binding;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Plan;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language
{
    /// <summary>One spec file's text and the path it is reported under.</summary>
    public sealed record SpecSource(string Path, string Text);

    /// <summary>The parse of one spec file: its syntax tree (equatable) and its syntax diagnostics.</summary>
    public sealed record ParsedSpec(string Path, Syntax.SpecSyntax Syntax, EquatableArray<Diagnostic> Diagnostics);

    /// <summary>The models every spec file declares, resolved, and every diagnostic of binding.</summary>
    public sealed record BoundSpecs(EquatableArray<ModelPlan> Models, EquatableArray<Diagnostic> Diagnostics);

    /// <summary>The front end: text -> syntax tree -> bound, validated plans. Pure; never throws on any input.</summary>
    public static class SpecFrontEnd
    {
        /// <summary>The syntax diagnostics kept per file; the rest are counted in one BMJ0010 ("and N more errors in
        /// FILE"), so a file that is no spec at all (a binary, a 5 MB log) says so in a screenful.</summary>
        public const int MaxDiagnosticsPerFile = 100;

        /// <summary>Lexes and parses one file. Cheap and per file, so the generator caches it per file.</summary>
        public static ParsedSpec Parse(SpecSource source)
        {
            string path = source.Path ?? string.Empty, text = source.Text ?? string.Empty;
            var file = new SourceFile(path, LineMap.LineStarts(text));
            var diagnostics = new DiagnosticBag();
            try
            {
                SpecSyntax syntax = Parser.Parse(text, file, diagnostics);
                return new ParsedSpec(path, syntax, Capped(diagnostics.Items, file).ToEquatableArray());
            }
            catch (Exception exception)
            {
                diagnostics.Add(InternalError(file, exception));
                return new ParsedSpec(path, new SpecSyntax(EquatableArray<ModelSyntax>.Empty, file.LineStarts), diagnostics.Items.ToEquatableArray());
            }
        }

        /// <summary>Binds all files together (`extends` may cross files): validation, defaults, the layer plan.
        /// A model with errors is left out of <see cref="BoundSpecs.Models"/>; its diagnostics are reported.</summary>
        public static BoundSpecs Bind(IReadOnlyList<ParsedSpec> files, string defaultNamespace) =>
            Bind(files, defaultNamespace, null);

        /// <summary>As <see cref="Bind(IReadOnlyList{ParsedSpec}, string)"/>; the files <paramref name="isLibrary"/>
        /// picks are a library: their models resolve <c>extends</c> (a project's own model of the same name wins) but
        /// are neither bound nor reported on their own.</summary>
        public static BoundSpecs Bind(IReadOnlyList<ParsedSpec> files, string defaultNamespace, Func<string, bool>? isLibrary)
        {
            try
            {
                return Binder.Bind(files, defaultNamespace, isLibrary);
            }
            catch (Exception exception)
            {
                string path = files.Count > 0 ? files[0].Path : string.Empty;
                var file = new SourceFile(path, LineMap.LineStarts(string.Empty));
                return new BoundSpecs(EquatableArray<ModelPlan>.Empty, new[] { InternalError(file, exception) }.ToEquatableArray());
            }
        }

        private static IReadOnlyList<Diagnostic> Capped(IReadOnlyList<Diagnostic> items, SourceFile file)
        {
            if (items.Count <= MaxDiagnosticsPerFile) return items;
            var kept = new List<Diagnostic>(MaxDiagnosticsPerFile + 1);
            for (int i = 0; i < MaxDiagnosticsPerFile; i++) kept.Add(items[i]);
            int hidden = items.Count - MaxDiagnosticsPerFile;
            kept.Add(file.Create(DiagnosticCatalogue.TooManyErrors, items[MaxDiagnosticsPerFile].Span, hidden, file.Path) with { Hidden = hidden });
            return kept;
        }

        private static Diagnostic InternalError(SourceFile file, Exception exception) =>
            file.Create(DiagnosticCatalogue.InternalError, new TextSpan(0, 0), $"{exception.GetType().Name}: {exception.Message}");
    }
}
