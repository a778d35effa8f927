using System.Runtime.CompilerServices;
using Bmojo.Dsl.Language;
using Microsoft.CodeAnalysis;

namespace Bmojo.Dsl.Generator.Tests;

public sealed class GeneratorTests
{
    private static readonly Lazy<(GeneratorRunResult Result, Compilation Output)> Canonical = new(() =>
    {
        GeneratorRunResult result = GeneratorHarness.Run(GeneratorHarness.CanonicalSpecs, out Compilation output);
        return (result, output);
    });

    public static TheoryData<string> GeneratedModels =>
        new(Canonical.Value.Result.GeneratedSources.Select(source => ModelName(source.HintName)));

    [Theory]
    [MemberData(nameof(GeneratedModels))]
    public void Every_canonical_model_matches_its_snapshot(string model)
    {
        GeneratedSourceResult source = Canonical.Value.Result.GeneratedSources.Single(s => ModelName(s.HintName) == model);
        Snapshot.Verify(source.SourceText.ToString(), model);
    }

    [Fact]
    public void Every_verified_snapshot_belongs_to_a_model_that_still_exists()
    {
        IEnumerable<string> models = Canonical.Value.Result.GeneratedSources.Select(source => ModelName(source.HintName))
            .Concat(HandBuiltPlans.All.Select(plan => plan.Name));
        string[] orphans = Directory.GetFiles(SnapshotDirectory(), "*.verified.cs")
            .Select(path => Path.GetFileName(path)[..^".verified.cs".Length])
            .Except(models)
            .ToArray();
        Assert.True(orphans.Length == 0, $"snapshots of models that no longer exist: {string.Join(", ", orphans)}");
    }

    [Fact]
    public void Every_canonical_spec_compiles_to_at_least_one_model_without_diagnostics()
    {
        (GeneratorRunResult result, _) = Canonical.Value;
        Assert.Null(result.Exception);
        Assert.Empty(result.Diagnostics.Select(d => d.ToString()));
        foreach (SpecFile spec in GeneratorHarness.CanonicalSpecs)
        {
            Assert.True(result.GeneratedSources.Any(s => s.SourceText.ToString().Contains($"Generated from <c>{spec.Name}</c>")),
                        $"{spec.Name} generated no model");
        }
    }

    [Fact]
    public void The_generated_code_of_every_canonical_spec_compiles_against_the_runtime_without_warnings()
    {
        string[] problems = CompilationHelper.Problems(Canonical.Value.Output);
        Assert.True(problems.Length == 0, string.Join("\n", problems));
    }

    [Fact]
    public void A_typo_is_reported_as_a_located_diagnostic_in_the_spec_file()
    {
        var spec = new SpecFile("/repo/specs/broken.arch", BrokenSpec.Text);
        GeneratorRunResult result = GeneratorHarness.Run(spec);

        Assert.Null(result.Exception);
        Assert.Empty(result.GeneratedSources);
        Diagnostic diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(BrokenSpec.Id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Contains(BrokenSpec.Key, diagnostic.GetMessage());
        Assert.Equal(LocationKind.ExternalFile, diagnostic.Location.Kind);
        FileLinePositionSpan where = diagnostic.Location.GetLineSpan();
        Assert.Equal(spec.Path, where.Path);
        Assert.Equal(BrokenSpec.Line - 1, where.StartLinePosition.Line);
        Assert.Equal(BrokenSpec.Column - 1, where.StartLinePosition.Character);
        Assert.Equal(BrokenSpec.Key, spec.Text.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
        Assert.StartsWith($"{spec.Path}({BrokenSpec.Line},{BrokenSpec.Column}): error {BrokenSpec.Id}: ", diagnostic.ToString());
    }

    [Theory]
    [InlineData("My.Models", null, "My.Models")]
    [InlineData(null, "Root.Space", "Root.Space")]
    [InlineData("  ", "Root.Space", "Root.Space")]
    [InlineData(null, null, SpecCompiler.DefaultNamespace)]
    public void The_namespace_is_BmojoNamespace_else_RootNamespace_else_the_default(
        string? bmojoNamespace, string? rootNamespace, string expected)
    {
        var properties = new Dictionary<string, string>();
        if (bmojoNamespace is not null) properties["build_property.BmojoNamespace"] = bmojoNamespace;
        if (rootNamespace is not null) properties["build_property.RootNamespace"] = rootNamespace;
        GeneratorDriver driver = GeneratorHarness.CreateDriver(
            GeneratorHarness.CanonicalSpecs.Select(spec => spec.ToAdditionalText()), properties);

        GeneratorRunResult result = driver.RunGenerators(GeneratorHarness.EmptyCompilation()).GetRunResult().Results.Single();

        Assert.NotEmpty(result.GeneratedSources);
        Assert.All(result.GeneratedSources, source =>
            Assert.Contains($"\nnamespace {expected}\n{{\n", source.SourceText.ToString()));
    }

    [Fact]
    public void BmojoFusedKernels_false_makes_every_models_default_policy_unfused_and_still_compiles()
    {
        var properties = new Dictionary<string, string>
        {
            ["build_property.BmojoNamespace"] = "Bmojo.Models",
            ["build_property.BmojoFusedKernels"] = "False",
        };
        GeneratorDriver driver = GeneratorHarness.CreateDriver(
            GeneratorHarness.CanonicalSpecs.Select(spec => spec.ToAdditionalText()), properties);

        driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.EmptyCompilation(), out Compilation output, out _);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        string[] problems = CompilationHelper.Problems(output);
        Assert.True(problems.Length == 0, string.Join("\n", problems));
        string Source(string model) =>
            result.GeneratedSources.Single(source => source.HintName == model + ".g.cs").SourceText.ToString();
        const string unfused = "Kernels: global::Bmojo.Runtime.KernelPolicy.Unfused);";
        foreach (string model in new[] { "Mamba", "BMojo", "Transformer", "JambaTiny" })
        {
            Assert.Contains(unfused, Source(model));
            Assert.DoesNotContain("KernelPolicy.Auto", Source(model));
        }
        // The default (true) leaves the choice to the runtime's Auto paths.
        Assert.All(GeneratorHarness.Run(GeneratorHarness.CanonicalSpecs, out _).GeneratedSources
                .Where(source => source.HintName != RegistryEmitterHintName),
            source => Assert.Contains("Kernels: global::Bmojo.Runtime.KernelPolicy.Auto);", source.SourceText.ToString()));
    }

    private static string SnapshotDirectory([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "Snapshots");

    private const string RegistryEmitterHintName = Bmojo.Dsl.Language.Emit.RegistryEmitter.HintName;

    private static string ModelName(string hintName) => hintName.Substring(0, hintName.Length - ".g.cs".Length);
}
