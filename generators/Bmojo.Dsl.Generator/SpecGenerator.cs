using System;
using System.Collections.Immutable;
using System.Threading;
using Bmojo.Dsl.Language;
using Bmojo.Dsl.Language.Plan;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using SpecDiagnostic = Bmojo.Dsl.Language.Diagnostics.Diagnostic;

namespace Bmojo.Dsl.Generator
{
    /// <summary>
    /// Compiles every <c>*.arch</c> AdditionalFile into one model class per model:
    /// parse (per file) -> bind (all files) -> emit (per model) -> <c>&lt;Model&gt;.g.cs</c>, plus the registry of
    /// the models, <c>BmojoModels.g.cs</c>.
    /// Diagnostics go out on their own, located in the spec files. The generator never throws: an unexpected
    /// failure is reported as BMJ9998.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class SpecGenerator : IIncrementalGenerator
    {
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<ParsedFile> files = context.AdditionalTextsProvider
                .Where(static file => file.Path.EndsWith(".arch", StringComparison.OrdinalIgnoreCase))
                .Select(static (file, cancellationToken) => Parse(file, cancellationToken))
                .WithTrackingName(TrackingNames.Parse);

            IncrementalValueProvider<CompileOptions> compileOptions = context.AnalyzerConfigOptionsProvider
                .Select(static (options, _) => new CompileOptions(ModelNamespace(options.GlobalOptions),
                                                                  FusedKernels(options.GlobalOptions),
                                                                  LibraryDirectory(options.GlobalOptions)))
                .WithTrackingName(TrackingNames.Options);

            IncrementalValueProvider<BoundSpecs> bound = files.Collect()
                .Combine(compileOptions)
                .Select(static (input, _) => SpecCompiler.Bind(input.Left, input.Right))
                .WithTrackingName(TrackingNames.Bind);

            IncrementalValuesProvider<EmittedModel> models = bound
                .SelectMany(static (specs, _) => specs.Models)
                .WithTrackingName(TrackingNames.Models)
                .Select(static (model, _) => SpecCompiler.Emit(model))
                .WithTrackingName(TrackingNames.Emit);

            IncrementalValueProvider<GeneratedSource?> registry = models
                .Where(static model => model.Source is not null)
                .Select(static (model, _) => model.Name)
                .Collect()
                .Combine(compileOptions)
                .Select(static (input, _) => SpecCompiler.EmitRegistry(input.Right.Namespace, input.Left));

            context.RegisterSourceOutput(files, static (output, file) => Report(output, file.Diagnostics));
            context.RegisterSourceOutput(bound, static (output, specs) => Report(output, specs.Diagnostics));
            context.RegisterSourceOutput(models, static (output, model) =>
            {
                Report(output, model.Diagnostics);
                if (model.Source is GeneratedSource source) AddSource(output, model, source);
            });
            context.RegisterSourceOutput(registry, static (output, source) =>
            {
                if (source is not null) output.AddSource(source.HintName, source.Text);
            });
        }

        private static ParsedFile Parse(AdditionalText file, CancellationToken cancellationToken)
        {
            try
            {
                SourceText? text = file.GetText(cancellationToken);
                if (text is null)
                {
                    SpecDiagnostic unreadable = SpecCompiler.InternalError(file.Path, "the spec file could not be read");
                    return new ParsedFile(file.Path, null, new[] { unreadable }.ToEquatableArray());
                }
                return SpecCompiler.Parse(new SpecSource(file.Path, text.ToString()));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                SpecDiagnostic failure = SpecCompiler.InternalError(file.Path, $"internal error while reading the spec: {e.Message}");
                return new ParsedFile(file.Path, null, new[] { failure }.ToEquatableArray());
            }
        }

        /// <summary><c>BmojoNamespace</c>, else the project's <c>RootNamespace</c>, else <c>Bmojo.Models</c>.</summary>
        private static string ModelNamespace(AnalyzerConfigOptions options)
        {
            foreach (string property in new[] { "build_property.BmojoNamespace", "build_property.RootNamespace" })
            {
                if (options.TryGetValue(property, out string? value) && !string.IsNullOrWhiteSpace(value))
                    return value.Trim();
            }
            return SpecCompiler.DefaultNamespace;
        }

        /// <summary><c>BmojoFusedKernels</c>: anything but <c>false</c> (the default, unset, is true).</summary>
        private static bool FusedKernels(AnalyzerConfigOptions options) =>
            !(options.TryGetValue("build_property.BmojoFusedKernels", out string? value) &&
              string.Equals(value?.Trim(), "false", StringComparison.OrdinalIgnoreCase));

        /// <summary><c>BmojoStandardLibraryDirectory</c>: the folder of the package's canonical specs (set by its
        /// build props when <c>BmojoStandardLibrary</c> is true), whose models only resolve <c>extends</c>.</summary>
        private static string? LibraryDirectory(AnalyzerConfigOptions options) =>
            options.TryGetValue("build_property.BmojoStandardLibraryDirectory", out string? value) &&
            !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

        private static void AddSource(SourceProductionContext output, EmittedModel model, GeneratedSource source)
        {
            try
            {
                output.AddSource(source.HintName, source.Text);
            }
            catch (ArgumentException e)
            {
                // Two models of one name: the binder reports it; this keeps a missed case from becoming a crash.
                string path = model.Diagnostics.Count > 0 ? model.Diagnostics[0].Path : "";
                Report(output, new[] { SpecCompiler.InternalError(path, $"could not add '{source.HintName}': {e.Message}") }
                    .ToEquatableArray());
            }
        }

        private static void Report(SourceProductionContext output, EquatableArray<SpecDiagnostic> diagnostics)
        {
            foreach (SpecDiagnostic diagnostic in diagnostics)
            {
                Diagnostic reported;
                try
                {
                    reported = RoslynDiagnostics.From(diagnostic);
                }
                catch (Exception e)
                {
                    // A diagnostic Roslyn cannot place (a span out of range): still say what it was.
                    reported = RoslynDiagnostics.From(SpecCompiler.InternalError(
                        "", $"internal error while reporting '{diagnostic}': {e.Message}"));
                }
                output.ReportDiagnostic(reported);
            }
        }
    }
}
