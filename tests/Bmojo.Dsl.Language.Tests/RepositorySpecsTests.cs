using Bmojo.Dsl.Language.Plan;
using Xunit.Abstractions;

namespace Bmojo.Dsl.Language.Tests;

public sealed class RepositorySpecsTests
{
    private readonly ITestOutputHelper _output;

    public RepositorySpecsTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Every_spec_binds_without_diagnostics()
    {
        var (models, diagnostics) = TestSpecs.CompileRepositorySpecs();
        Assert.Empty(diagnostics);
        foreach (ModelPlan model in models)
            _output.WriteLine($"{model.Name}: {model.ParameterCount:N0} parameters, {model.Sizes.LayerCount} layers");
        Assert.Equal(
            new[] { "BMojo", "BMojoF", "BMojoFTiny", "BMojoTiny", "Jamba", "JambaTiny", "Mamba", "Mamba2", "Mamba2Tiny", "MambaTiny", "Transformer", "TransformerTiny" },
            models.Select(m => m.Name).OrderBy(n => n, StringComparer.Ordinal));
    }
}
