using Bmojo.Dsl.Language;
using Bmojo.Dsl.Language.Emit;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Generator.Tests;

public sealed class ModelEmitterTests
{
    public static TheoryData<string> PlanNames => new(HandBuiltPlans.All.Select(plan => plan.Name));

    private static ModelPlan Plan(string name) => HandBuiltPlans.All.Single(plan => plan.Name == name);

    [Theory]
    [MemberData(nameof(PlanNames))]
    public void Emitted_source_matches_its_snapshot(string name) =>
        Snapshot.Verify(ModelEmitter.Emit(Plan(name)), name);

    [Fact]
    public void Emitted_sources_compile_against_the_runtime_without_warnings()
    {
        string[] sources = HandBuiltPlans.All.Select(ModelEmitter.Emit).ToArray();
        string[] problems = CompilationHelper.Problems(CompilationHelper.Create(sources));
        Assert.True(problems.Length == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Emitting_is_deterministic()
    {
        foreach (ModelPlan plan in HandBuiltPlans.All)
            Assert.Equal(ModelEmitter.Emit(plan), ModelEmitter.Emit(plan with { Layers = plan.Layers.ToArray().ToEquatableArray() }));
    }

    [Fact]
    public void Equal_settings_share_one_options_field_and_distinct_ones_are_numbered()
    {
        string transformer = ModelEmitter.Emit(HandBuiltPlans.Transformer);
        Assert.Single(Occurrences(transformer, "AttentionOptions AttentionOptions ="));
        Assert.Equal(2, Occurrences(transformer, "new global::Bmojo.Runtime.Mixers.AttentionMixer(DModel, ").Count);

        string hybrid = ModelEmitter.Emit(HandBuiltPlans.Hybrid);
        Assert.Single(Occurrences(hybrid, "AttentionOptions AttentionOptions1 ="));
        Assert.Single(Occurrences(hybrid, "AttentionOptions AttentionOptions2 ="));
        Assert.Single(Occurrences(hybrid, "MambaOptions MambaOptions ="));
    }

    [Fact]
    public void Tied_embeddings_are_a_setting_the_base_class_reads()
    {
        // LanguageModel builds lm_head only for untied embeddings (tests/Bmojo.Models.Tests checks the built modules).
        Assert.Contains("TiedEmbeddings: true,", ModelEmitter.Emit(HandBuiltPlans.Transformer));
        Assert.Contains("TiedEmbeddings: false,", ModelEmitter.Emit(HandBuiltPlans.Hybrid));
        Assert.All(HandBuiltPlans.All, plan => Assert.DoesNotContain("Linear(", ModelEmitter.Emit(plan)));
    }

    [Fact]
    public void The_generated_code_attribute_carries_the_assembly_version()
    {
        Assert.Matches(@"^\d+\.\d+\.\d+$", ModelEmitter.Version);
        Assert.Contains($"GeneratedCode(\"Bmojo.Dsl.Generator\", \"{ModelEmitter.Version}\")", ModelEmitter.Emit(HandBuiltPlans.Bmojo));
    }

    [Fact]
    public void SpecCompiler_names_each_source_after_its_model()
    {
        EmittedModel emitted = SpecCompiler.Emit(HandBuiltPlans.Bmojo);
        Assert.Empty(emitted.Diagnostics);
        Assert.Equal("HandBmojo.g.cs", emitted.Source!.HintName);
    }

    private static List<int> Occurrences(string text, string value)
    {
        var found = new List<int>();
        for (int i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
            found.Add(i);
        return found;
    }
}

public sealed class ReservedModelNameTests
{
    [Theory]
    [InlineData("SpecSettings")]
    [InlineData("ParameterCount")]
    [InlineData("Layers")]
    [InlineData("NormOptions")]
    [InlineData("AttentionOptions")]
    [InlineData("AttentionOptions2")]
    public void A_model_named_like_a_generated_member_is_reserved_because_it_would_not_compile(string name)
    {
        Assert.True(ModelEmitter.IsReservedModelName(name));
        Assert.Contains(HandBuiltPlans.All, plan =>
            CompilationHelper.Problems(CompilationHelper.Create(ModelEmitter.Emit(plan with { Name = name })))
                             .Any(problem => problem.Contains("CS0542")));
    }

    [Theory]
    [InlineData("Settings")]
    [InlineData("Kernels")]
    [InlineData("AllocateCache")]
    [InlineData("AuxLoss")]
    public void A_model_named_like_a_member_of_the_base_class_is_reserved(string name)
    {
        // It would compile, but inside the class (and through the registry's `new X(...)`) the name would mean the
        // inherited member, not the type.
        Assert.True(ModelEmitter.IsReservedModelName(name));
        Assert.Contains(name, ModelEmitter.InheritedMemberNames);
    }

    [Fact]
    public void A_model_named_like_the_registry_class_is_reserved_because_the_two_would_clash()
    {
        Assert.True(ModelEmitter.IsReservedModelName(RegistryEmitter.ClassName));
        ModelPlan plan = HandBuiltPlans.Transformer with { Name = RegistryEmitter.ClassName };
        string[] problems = CompilationHelper.Problems(CompilationHelper.Create(
            ModelEmitter.Emit(plan), RegistryEmitter.Emit(plan.Namespace, new[] { plan.Name })));
        Assert.Contains(problems, problem => problem.Contains($"error CS0260: Missing partial modifier on declaration of type '{RegistryEmitter.ClassName}'"));
    }

    [Theory]
    [InlineData("Hybrid")]
    [InlineData("AttentionOptionsLarge")]
    [InlineData("Option")]
    [InlineData("Logits")]
    public void Other_names_are_free(string name) => Assert.False(ModelEmitter.IsReservedModelName(name));
}
