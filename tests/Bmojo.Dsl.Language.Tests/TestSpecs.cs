using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>Parses and binds spec texts the way the generator does, and finds the repository's specs/.</summary>
internal static class TestSpecs
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static IReadOnlyList<string> SpecPaths() =>
        Directory.GetFiles(Path.Combine(RepositoryRoot, "specs"), "*.arch").OrderBy(p => p, StringComparer.Ordinal).ToArray();

    /// <summary>Every diagnostic of parsing and binding the given files, and the bound models.</summary>
    public static (IReadOnlyList<ModelPlan> Models, IReadOnlyList<Diagnostic> Diagnostics) Compile(params (string Path, string Text)[] files)
    {
        ParsedSpec[] parsed = files.Select(f => SpecFrontEnd.Parse(new SpecSource(f.Path, f.Text))).ToArray();
        BoundSpecs bound = SpecFrontEnd.Bind(parsed, "Test.Models");
        return (bound.Models.ToArray(), parsed.SelectMany(p => p.Diagnostics).Concat(bound.Diagnostics).ToArray());
    }

    public static (IReadOnlyList<ModelPlan> Models, IReadOnlyList<Diagnostic> Diagnostics) Compile(string text) =>
        Compile(("test.arch", text));

    /// <summary>The one model of a spec that must bind cleanly.</summary>
    public static ModelPlan Model(string text)
    {
        var (models, diagnostics) = Compile(text);
        Assert.Empty(diagnostics);
        return Assert.Single(models);
    }

    /// <summary>Every spec in specs/, bound together (extends crosses files).</summary>
    public static (IReadOnlyList<ModelPlan> Models, IReadOnlyList<Diagnostic> Diagnostics) CompileRepositorySpecs() =>
        Compile(SpecPaths().Select(p => ("specs/" + Path.GetFileName(p), File.ReadAllText(p))).ToArray());

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Bmojo.Dsl.sln"))) return directory.FullName;
        throw new InvalidOperationException("Bmojo.Dsl.sln not found above " + AppContext.BaseDirectory);
    }
}
