using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Plan;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>All files together: model names, <c>extends</c> chains (across files), then each model.</summary>
    internal static class Binder
    {
        public static BoundSpecs Bind(IReadOnlyList<ParsedSpec> files, string ns, System.Func<string, bool>? isLibrary = null)
        {
            var diagnostics = new DiagnosticBag();
            var declarations = new List<ModelDeclaration>();
            // The standard library's models (isLibrary): there for `extends`, after the project's own, which win.
            var library = new List<ModelDeclaration>();
            foreach (ParsedSpec file in files)
            {
                var source = new SourceFile(file.Path, file.Syntax.LineStarts);
                if (isLibrary != null && isLibrary(file.Path))
                {
                    library.AddRange(file.Syntax.Models.Where(m => m.Name.Text.Length > 0).Select(m => new ModelDeclaration(m, source)));
                    continue;
                }
                if (file.Syntax.Models.Count == 0 && file.Diagnostics.Count == 0)
                    diagnostics.Add(source.Create(DiagnosticCatalogue.EmptySpec, new TextSpan(0, 0)));
                declarations.AddRange(file.Syntax.Models.Where(m => m.Name.Text.Length > 0).Select(m => new ModelDeclaration(m, source)));
            }

            var byName = new Dictionary<string, ModelDeclaration>();
            var unnamable = new HashSet<ModelDeclaration>();
            foreach (ModelDeclaration declaration in declarations)
            {
                if (!CheckName(declaration, diagnostics)) unnamable.Add(declaration);
                if (byName.TryGetValue(declaration.Name, out ModelDeclaration? first))
                {
                    LinePosition at = LineMap.Position(first.File.LineStarts, first.Syntax.Name.Span.Start);
                    diagnostics.Add(declaration.File.Create(DiagnosticCatalogue.DuplicateModel, declaration.Syntax.Name.Span,
                        declaration.Name, $"{first.File.Path}({at.Line + 1},{at.Character + 1})"));
                    continue;
                }
                byName.Add(declaration.Name, declaration);
            }
            var own = byName.Values.ToList();
            foreach (ModelDeclaration declaration in library)
            {
                if (byName.ContainsKey(declaration.Name)) continue;
                byName.Add(declaration.Name, declaration);
                declarations.Add(declaration);
            }

            var models = new List<ModelPlan>();
            var found = new List<(BindingDiagnostic Diagnostic, string Model)>();
            foreach (ModelDeclaration declaration in own)
            {
                List<ModelDeclaration>? chain = Chain(declaration, byName, declarations, diagnostics);
                if (chain == null) continue;
                var reporter = new BindingReporter(declaration);
                ModelPlan? plan = ModelBinder.Bind(chain, ns, reporter);
                found.AddRange(reporter.Items.Select(d => (d, declaration.Name)));
                if (plan != null && !unnamable.Contains(declaration)) models.Add(plan);
            }

            // A problem at an ancestor's token that the ancestor reports itself is said once; one that only shows in
            // the child (a parent's heads no longer divide the child's d_model) names the child.
            var ownDiagnostics = new HashSet<Diagnostic>(found.Where(f => !f.Diagnostic.InAncestor).Select(f => f.Diagnostic.Diagnostic));
            foreach (var (item, model) in found)
            {
                Diagnostic diagnostic = item.Diagnostic;
                if (!item.InAncestor) diagnostics.Add(diagnostic);
                else if (!ownDiagnostics.Contains(diagnostic))
                    diagnostics.Add(diagnostic with { Message = $"{diagnostic.Message} (in model '{model}')" });
            }
            return new BoundSpecs(models.ToEquatableArray(), diagnostics.Items.ToEquatableArray());
        }

        /// <summary>False when the name cannot be a C# class name (reported).</summary>
        private static bool CheckName(ModelDeclaration declaration, DiagnosticBag diagnostics)
        {
            NameSyntax name = declaration.Syntax.Name;
            if (CSharpNames.IsKeyword(name.Text))
            {
                diagnostics.Add(declaration.File.Create(DiagnosticCatalogue.KeywordModelName, name.Span, name.Text));
                return false;
            }
            if (name.Text == CSharpNames.ReservedName)
            {
                diagnostics.Add(declaration.File.Create(DiagnosticCatalogue.ReservedModelName, name.Span, name.Text, "BMojo"));
                return false;
            }
            if (Emit.ModelEmitter.IsReservedModelName(name.Text))
            {
                // A class cannot declare a member of its own name (CS0542): say so here, at the name.
                diagnostics.Add(declaration.File.Create(DiagnosticCatalogue.MemberNameClash, name.Span, name.Text));
                return false;
            }
            if (CSharpNames.IsAllLowerCase(name.Text))
                diagnostics.Add(declaration.File.Create(DiagnosticCatalogue.LowercaseModelName, name.Span, name.Text,
                    CSharpNames.Capitalized(name.Text)));
            return true;
        }

        /// <summary>The root ancestor first, <paramref name="model"/> last; null when the chain is broken (reported
        /// at the model whose <c>extends</c> breaks it).</summary>
        private static List<ModelDeclaration>? Chain(
            ModelDeclaration model, Dictionary<string, ModelDeclaration> byName, List<ModelDeclaration> declarationOrder,
            DiagnosticBag diagnostics)
        {
            var chain = new List<ModelDeclaration> { model };
            for (ModelDeclaration current = model; current.Syntax.Extends is NameSyntax parentName;)
            {
                if (!byName.TryGetValue(parentName.Text, out ModelDeclaration? parent))
                {
                    if (current == model)
                        diagnostics.Add(model.File.Create(DiagnosticCatalogue.UnknownParent, parentName.Span, model.Name, parentName.Text,
                            Suggestions.DidYouMean(parentName.Text, byName.Keys)));
                    return null;
                }
                if (chain.Contains(parent))
                {
                    // A cycle is reported once, at the first of its models in declaration order.
                    if (parent == model && chain.All(m => declarationOrder.IndexOf(model) <= declarationOrder.IndexOf(m)))
                        diagnostics.Add(model.File.Create(DiagnosticCatalogue.ExtendsCycle, model.Syntax.Extends!.Span,
                            string.Join(" -> ", chain.Select(m => m.Name)) + " -> " + model.Name));
                    return null;
                }
                chain.Add(parent);
                current = parent;
            }
            chain.Reverse();
            return chain;
        }
    }
}
