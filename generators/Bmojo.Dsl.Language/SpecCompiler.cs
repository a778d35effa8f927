using System;
using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Emit;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language
{
    /// <summary>One generated file: <c>&lt;Model&gt;.g.cs</c> and its text.</summary>
    public sealed record GeneratedSource(string HintName, string Text);

    /// <summary>The parse of one file, or the internal error that stopped it (then <see cref="Spec"/> is null).</summary>
    public sealed record ParsedFile(string Path, ParsedSpec? Spec, EquatableArray<Diagnostic> Diagnostics);

    /// <summary>The generated source of one model, or the internal error that stopped it.</summary>
    public sealed record EmittedModel(string Name, GeneratedSource? Source, EquatableArray<Diagnostic> Diagnostics);

    /// <summary>What the build says about the generated code: the namespace of the classes, whether they may
    /// use the fused ILGPU kernels (MSBuild <c>BmojoNamespace</c>, <c>BmojoFusedKernels</c>), and the folder of the
    /// standard library of specs (<c>BmojoStandardLibraryDirectory</c>, the package's <c>build/specs/</c>): the
    /// models of spec files under it are only for <c>extends</c> to resolve; no class is generated for them.</summary>
    public sealed record CompileOptions(string Namespace, bool FusedKernels = true, string? LibraryDirectory = null)
    {
        /// <summary>Whether <paramref name="path"/> is a spec of the standard library (under <see cref="LibraryDirectory"/>).</summary>
        public bool IsLibrary(string path)
        {
            if (string.IsNullOrWhiteSpace(LibraryDirectory) || string.IsNullOrEmpty(path)) return false;
            string directory = Normalize(LibraryDirectory!.Trim());
            if (!directory.EndsWith("/", StringComparison.Ordinal)) directory += "/";
            return Normalize(path).StartsWith(directory, StringComparison.OrdinalIgnoreCase);
        }

        private static string Normalize(string path) => path.Replace('\\', '/');
    }

    /// <summary>Everything a set of spec files compiles to: one source per valid model plus the registry of them
    /// (<see cref="RegistryEmitter"/>, when there is a model), and every diagnostic.</summary>
    public sealed record SpecCompilation(EquatableArray<GeneratedSource> Sources, EquatableArray<Diagnostic> Diagnostics)
    {
        public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);
    }

    /// <summary>
    /// The one entry point from spec texts to C#, shared by the source generator (step by step, so each step can be
    /// cached) and the CLI's run-time compile (<see cref="Compile"/>), so a spec gives the same code both ways.
    /// No step throws: an unexpected failure is reported as <see cref="InternalErrorId"/> at the file it concerns.
    /// </summary>
    public static class SpecCompiler
    {
        /// <summary>The namespace used when the project names none.</summary>
        public const string DefaultNamespace = "Bmojo.Models";

        /// <summary>The id of "internal compiler error": a bug in Bmojo.Dsl, never in the spec.</summary>
        public const string InternalErrorId = "BMJ9998";

        /// <summary>Parses, binds and emits every model of <paramref name="sources"/> into <paramref name="namespace"/>.</summary>
        public static SpecCompilation Compile(IReadOnlyList<SpecSource> sources, string @namespace) =>
            Compile(sources, new CompileOptions(@namespace));

        /// <summary>Parses, binds and emits every model of <paramref name="sources"/> as <paramref name="options"/> say.</summary>
        public static SpecCompilation Compile(IReadOnlyList<SpecSource> sources, CompileOptions options)
        {
            List<ParsedFile> parsed = sources.Select(Parse).ToList();
            BoundSpecs bound = Bind(parsed, options);
            List<EmittedModel> emitted = bound.Models.Select(Emit).ToList();
            IEnumerable<Diagnostic> diagnostics = parsed.SelectMany(file => file.Diagnostics)
                .Concat(bound.Diagnostics)
                .Concat(emitted.SelectMany(model => model.Diagnostics));
            List<EmittedModel> valid = emitted.Where(model => model.Source is not null).ToList();
            IEnumerable<GeneratedSource> generated = valid.Select(model => model.Source!);
            if (EmitRegistry(options.Namespace, valid.Select(model => model.Name).ToList()) is GeneratedSource registry)
                generated = generated.Append(registry);
            return new SpecCompilation(generated.ToEquatableArray(), diagnostics.ToEquatableArray());
        }

        /// <summary>The registry class of <paramref name="models"/> (the emitted ones), listed by name in ordinal order
        /// whatever the order of the spec files; null for none.</summary>
        public static GeneratedSource? EmitRegistry(string @namespace, IReadOnlyList<string> models) =>
            models.Count == 0 ? null : new GeneratedSource(RegistryEmitter.HintName,
                RegistryEmitter.Emit(@namespace, models.Distinct().OrderBy(name => name, StringComparer.Ordinal).ToList()));

        public static ParsedFile Parse(SpecSource source)
        {
            try
            {
                ParsedSpec spec = SpecFrontEnd.Parse(source);
                return new ParsedFile(source.Path, spec, spec.Diagnostics);
            }
            catch (Exception e)
            {
                return new ParsedFile(source.Path, null, Failure(source.Path, "parsing", e));
            }
        }

        /// <summary>Binds the files that parsed (with or without syntax errors) into model plans.</summary>
        public static BoundSpecs Bind(IReadOnlyList<ParsedFile> files, string @namespace) =>
            Bind(files, new CompileOptions(@namespace));

        /// <summary>Binds the files that parsed into model plans carrying <paramref name="options"/>.</summary>
        public static BoundSpecs Bind(IReadOnlyList<ParsedFile> files, CompileOptions options)
        {
            List<ParsedSpec> specs = files.Where(file => file.Spec is not null).Select(file => file.Spec!).ToList();
            try
            {
                BoundSpecs bound = SpecFrontEnd.Bind(specs, options.Namespace, options.IsLibrary);
                return options.FusedKernels ? bound : bound with
                {
                    Models = bound.Models.Select(model => model with { FusedKernels = false }).ToEquatableArray(),
                };
            }
            catch (Exception e)
            {
                string path = specs.Count == 0 ? "" : specs[0].Path;
                return new BoundSpecs(EquatableArray<ModelPlan>.Empty, Failure(path, "binding", e));
            }
        }

        public static EmittedModel Emit(ModelPlan model)
        {
            try
            {
                var source = new GeneratedSource(model.Name + ".g.cs", ModelEmitter.Emit(model));
                return new EmittedModel(model.Name, source, EquatableArray<Diagnostic>.Empty);
            }
            catch (Exception e)
            {
                return new EmittedModel(model.Name, null, Failure(model.SourcePath, $"emitting model '{model.Name}'", e));
            }
        }

        /// <summary>An internal error reported at the start of <paramref name="path"/>.</summary>
        public static Diagnostic InternalError(string path, string message) =>
            new Diagnostic(InternalErrorId, Severity.Error, message, path, new TextSpan(0, 0),
                           new LinePosition(0, 0), new LinePosition(0, 0));

        private static EquatableArray<Diagnostic> Failure(string path, string stage, Exception e) =>
            new[]
            {
                InternalError(path, $"internal error while {stage}: {e.GetType().Name}: {e.Message} " +
                                    "(this is a bug in Bmojo.Dsl, not in the spec; please report it)"),
            }.ToEquatableArray();
    }
}
