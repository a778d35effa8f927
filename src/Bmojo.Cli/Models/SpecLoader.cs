using Bmojo.Dsl.Language;
using Bmojo.Dsl.Language.Emit;
using Bmojo.Dsl.Language.Plan;
using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using SpecDiagnostic = Bmojo.Dsl.Language.Diagnostics.Diagnostic;
using SpecSeverity = Bmojo.Dsl.Language.Diagnostics.Severity;

namespace Bmojo.Cli.Models;

/// <summary>
/// Turns a SPEC argument into models: a compiled-in model name (<c>BMojoTiny</c>), a spec file (<c>my.arch</c>: all
/// its models) or one model of a file (<c>my.arch#Mine</c>). A file goes through the same <see cref="SpecCompiler"/>
/// as the build, together with the canonical specs (so it may extend them), then through Roslyn into an in-memory
/// assembly. Spec errors become a <see cref="UserError"/> listing every diagnostic as <c>file(line,col): error BMJxxxx: message</c>.
/// </summary>
public static class SpecLoader
{
    /// <summary>The namespace the build generates the canonical models into; run-time compiles use it too, so a spec
    /// gives the same text both ways.</summary>
    public const string Namespace = "Bmojo.Models";

    /// <summary>The models SPEC names. Warnings of the spec go to <paramref name="warnings"/>.</summary>
    public static IReadOnlyList<ModelDefinition> Load(string spec, TextWriter warnings)
    {
        if (ModelCatalog.Find(spec) is ModelDefinition compiledIn) return [compiledIn];
        SpecCompilationResult compiled = Compile(spec, warnings);
        IReadOnlyList<ModelEntry> registered = RuntimeCompiler.Compile(compiled.Sources, compiled.Path);
        return compiled.Models                                     // in the file's order (the registry's is by name)
            .Select(plan => ModelDefinition.Of(registered.Single(model => model.Name == plan.Name), compiled.Path))
            .ToList();
    }

    /// <summary>The one model SPEC names; a file with several models must say which (<c>file.arch#Name</c>).</summary>
    public static ModelDefinition LoadOne(string spec, TextWriter warnings)
    {
        IReadOnlyList<ModelDefinition> models = Load(spec, warnings);
        if (models.Count != 1)
            throw new UserError($"'{spec}' declares {models.Count} models ({string.Join(", ", models.Select(m => m.Name))}); " +
                                $"name one as {spec}#{models[0].Name}");
        return models[0];
    }

    /// <summary>The resolved plan of <paramref name="model"/>, one of SPEC's models (from <see cref="LoadOne"/>, which
    /// has already written the spec's warnings).</summary>
    public static ModelPlan Plan(string spec, ModelDefinition model) =>
        Compile(spec, TextWriter.Null).Models.Single(plan => plan.Name == model.Name);

    /// <summary>The C# the generator makes for SPEC's models, one text per model (without the registry).</summary>
    public static IReadOnlyList<GeneratedSource> GenerateCode(string spec, TextWriter warnings) =>
        Compile(spec, warnings).Sources.Where(source => source.HintName != RegistryEmitter.HintName).ToList();

    private sealed record SpecCompilationResult(string Path, IReadOnlyList<ModelPlan> Models, IReadOnlyList<GeneratedSource> Sources);

    private static SpecCompilationResult Compile(string spec, TextWriter warnings)
    {
        (string path, string? modelName) = Split(spec);
        IReadOnlyList<SpecSource> sources;
        string selectedPath;
        if (ModelCatalog.Find(spec) is ModelDefinition compiledIn)
        {
            sources = SpecLibrary.Sources;
            modelName = compiledIn.Name;
            selectedPath = "";
        }
        else
        {
            SpecSource user = ReadFile(spec, path);
            sources = WithLibrary(user);
            selectedPath = user.Path;
        }

        List<ParsedFile> parsed = sources.Select(SpecCompiler.Parse).ToList();
        BoundSpecs bound = SpecCompiler.Bind(parsed, Namespace);
        List<ModelPlan> models = bound.Models
            .Where(m => modelName is null ? m.SourcePath == selectedPath : m.Name == modelName && (selectedPath == "" || m.SourcePath == selectedPath))
            .ToList();
        List<EmittedModel> emitted = models.Select(SpecCompiler.Emit).ToList();
        List<SpecDiagnostic> diagnostics = parsed.SelectMany(f => f.Diagnostics).Concat(bound.Diagnostics)
            .Concat(emitted.SelectMany(e => e.Diagnostics)).ToList();
        List<SpecDiagnostic> errors = diagnostics.Where(d => d.Severity == SpecSeverity.Error).ToList();
        if (errors.Count > 0) throw new UserError(string.Join(Environment.NewLine, Capped(diagnostics)));
        foreach (SpecDiagnostic warning in diagnostics) warnings.WriteLine(warning);
        if (models.Count == 0)
            throw new UserError(modelName is null ? $"'{path}' declares no model" : $"'{path}' declares no model named '{modelName}'");
        List<GeneratedSource> generated = emitted.Select(e => e.Source!).ToList();
        generated.Add(SpecCompiler.EmitRegistry(Namespace, models.Select(m => m.Name).ToList())!);   // models.Count > 0
        return new SpecCompilationResult(selectedPath, models, generated);
    }

    /// <summary>The diagnostics as printed: per file at most <see cref="SpecFrontEnd.MaxDiagnosticsPerFile"/> lines,
    /// then one line <c>and N more errors in FILE</c> (the front end's own BMJ0010 count included), as compilers do.</summary>
    public static IEnumerable<string> Capped(IReadOnlyList<SpecDiagnostic> diagnostics)
    {
        string tooMany = Bmojo.Dsl.Language.Diagnostics.DiagnosticCatalogue.TooManyErrors.Id;
        int limit = SpecFrontEnd.MaxDiagnosticsPerFile;
        foreach (IGrouping<string, SpecDiagnostic> file in diagnostics.GroupBy(d => d.Path))
        {
            List<SpecDiagnostic> shown = file.Where(d => d.Id != tooMany).ToList();
            long hidden = Math.Max(0, shown.Count - limit) + file.Where(d => d.Id == tooMany).Sum(d => (long)d.Hidden);
            foreach (SpecDiagnostic diagnostic in shown.Take(limit)) yield return diagnostic.ToString();
            if (hidden > 0) yield return $"and {hidden} more errors in {file.Key}";
        }
    }

    private static (string Path, string? Model) Split(string spec)
    {
        int hash = spec.LastIndexOf('#');
        return hash > 0 && hash < spec.Length - 1 ? (spec[..hash], spec[(hash + 1)..]) : (spec, null);
    }

    private static SpecSource ReadFile(string spec, string path)
    {
        if (Directory.Exists(path)) throw new UserError($"'{path}' is a directory; give a .arch file");
        if (!File.Exists(path))
        {
            bool looksLikeFile = path.Contains('/') || path.Contains('\\') || path.EndsWith(".arch", StringComparison.OrdinalIgnoreCase);
            throw new UserError(looksLikeFile
                ? $"spec file '{path}' does not exist"
                : $"unknown spec '{spec}': not a compiled-in model ({string.Join(", ", ModelCatalog.All.Select(m => m.Name))}) nor a .arch file");
        }
        try
        {
            return new SpecSource(path, File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"spec file '{path}' cannot be read: {e.Message}");
        }
    }

    /// <summary>The user's file plus the canonical specs that declare none of its model names (a file that redefines
    /// a canonical model, or is a copy of one, replaces it).</summary>
    private static IReadOnlyList<SpecSource> WithLibrary(SpecSource user)
    {
        HashSet<string> declared = ModelNames(user);
        return SpecLibrary.Sources.Where(source => !ModelNames(source).Overlaps(declared)).Prepend(user).ToList();
    }

    private static HashSet<string> ModelNames(SpecSource source) =>
        SpecCompiler.Parse(source).Spec?.Syntax.Models.Select(m => m.Name.Text).ToHashSet() ?? [];
}
