using Microsoft.CodeAnalysis;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>The package's standard library (its build/specs/, named by <c>BmojoStandardLibraryDirectory</c>): the
/// canonical specs resolve a project's <c>extends</c>, but only the project's own specs generate classes.</summary>
public sealed class StandardLibraryTests
{
    private const string Library = "/pkg/bmojo.dsl/build/specs/";

    private static GeneratorRunResult Run(string? libraryDirectory, params SpecFile[] own)
    {
        var properties = new Dictionary<string, string> { ["build_property.RootNamespace"] = "MyApp" };
        if (libraryDirectory is not null) properties["build_property.BmojoStandardLibraryDirectory"] = libraryDirectory;
        IEnumerable<SpecFile> library = GeneratorHarness.CanonicalSpecs.Select(spec => spec with { Path = Library + spec.Name });
        return GeneratorHarness.CreateDriver(own.Concat(library).Select(spec => spec.ToAdditionalText()), properties)
            .RunGenerators(GeneratorHarness.EmptyCompilation())
            .GetRunResult().Results.Single();
    }

    [Fact]
    public void A_project_model_extends_a_library_model_and_only_it_is_generated()
    {
        var own = new SpecFile("/app/my.arch", "model MyMamba extends MambaTiny { layers = 3 }\nmodel MyJamba extends Jamba { d_model = 64 }");
        GeneratorRunResult result = Run(Library, own);

        Assert.Null(result.Exception);
        Assert.Empty(result.Diagnostics.Select(d => d.ToString()));
        Assert.Equal(new[] { "BmojoModels.g.cs", "MyJamba.g.cs", "MyMamba.g.cs" },
                     result.GeneratedSources.Select(s => s.HintName).Order(StringComparer.Ordinal));
        Assert.Contains("namespace MyApp", result.GeneratedSources.Single(s => s.HintName == "MyMamba.g.cs").SourceText.ToString());
    }

    [Fact]
    public void A_project_model_of_a_library_name_wins_without_a_duplicate_error()
    {
        var own = new SpecFile("/app/mamba.arch", "model Mamba { vocab = 32\n d_model = 16\n layers = 1\n mixer = mamba { d_state = 4 }\n mlp = none }\nmodel Child extends Mamba { layers = 2 }");
        GeneratorRunResult result = Run(Library, own);

        Assert.Empty(result.Diagnostics.Select(d => d.ToString()));
        Assert.Equal(new[] { "BmojoModels.g.cs", "Child.g.cs", "Mamba.g.cs" },
                     result.GeneratedSources.Select(s => s.HintName).Order(StringComparer.Ordinal));
        Assert.Contains("Generated from <c>mamba.arch</c>", result.GeneratedSources.Single(s => s.HintName == "Mamba.g.cs").SourceText.ToString());
    }

    [Fact]
    public void Without_the_library_directory_every_file_is_the_projects_own()
    {
        var own = new SpecFile("/app/my.arch", "model MyMamba extends MambaTiny { layers = 3 }");
        GeneratorRunResult result = Run(null, own);

        Assert.Empty(result.Diagnostics.Select(d => d.ToString()));
        Assert.Contains(result.GeneratedSources, s => s.HintName == "TransformerTiny.g.cs");
        Assert.Contains(result.GeneratedSources, s => s.HintName == "MyMamba.g.cs");
    }

    [Fact]
    public void Without_the_library_an_unknown_parent_is_BMJ0400()
    {
        var own = new SpecFile("/app/my.arch", "model MyMamba extends MambaTiny { layers = 3 }");
        GeneratorRunResult result = GeneratorHarness.CreateDriver(new[] { own.ToAdditionalText() },
                new Dictionary<string, string> { ["build_property.RootNamespace"] = "MyApp" })
            .RunGenerators(GeneratorHarness.EmptyCompilation()).GetRunResult().Results.Single();

        Diagnostic diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("BMJ0400", diagnostic.Id);
    }
}
