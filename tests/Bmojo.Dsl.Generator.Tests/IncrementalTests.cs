using Bmojo.Dsl.Language;
using Microsoft.CodeAnalysis;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>The pipeline caches: a re-run with nothing changed does no work, and an edit to one spec regenerates
/// only the model it changes (after andrewlock/NetEscapades.EnumGenerators' TestHelpers).</summary>
public sealed class IncrementalTests
{
    private static readonly string[] AllSteps =
    {
        TrackingNames.Parse, TrackingNames.Options, TrackingNames.Bind, TrackingNames.Models, TrackingNames.Emit,
    };

    private const string EditedFile = "transformer-tiny.arch";
    private const string EditedModel = "TransformerTiny";

    [Fact]
    public void A_rerun_with_no_change_is_entirely_cached()
    {
        List<AdditionalText> specs = GeneratorHarness.CanonicalSpecs.Select(spec => spec.ToAdditionalText()).ToList();
        Compilation compilation = GeneratorHarness.EmptyCompilation();
        GeneratorDriver driver = GeneratorHarness.CreateDriver(specs).RunGenerators(compilation);
        GeneratorRunResult first = driver.GetRunResult().Results.Single();

        GeneratorRunResult second = driver.RunGenerators(compilation.Clone()).GetRunResult().Results.Single();

        AssertStepsRan(first);
        AssertEquatableOutputs(first);
        foreach (string step in AllSteps)
        {
            Assert.All(second.TrackedSteps[step].SelectMany(run => run.Outputs), output =>
                Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                            $"step {step} re-ran: {output.Reason}"));
        }
        Assert.All(second.TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(run => run.Outputs), output =>
            Assert.Equal(IncrementalStepRunReason.Cached, output.Reason));
    }

    [Fact]
    public void Editing_one_spec_regenerates_only_the_model_it_changes()
    {
        List<AdditionalText> specs = GeneratorHarness.CanonicalSpecs.Select(spec => spec.ToAdditionalText()).ToList();
        Compilation compilation = GeneratorHarness.EmptyCompilation();
        GeneratorDriver driver = GeneratorHarness.CreateDriver(specs).RunGenerators(compilation);
        int modelCount = driver.GetRunResult().GeneratedTrees.Length;

        SpecFile original = GeneratorHarness.CanonicalSpecs.Single(spec => spec.Name == EditedFile);
        Assert.Contains("hidden = 256", original.Text);
        SpecFile edited = original with { Text = original.Text.Replace("hidden = 256", "hidden = 384") };
        AdditionalText before = specs.Single(text => text.Path == original.Path);
        GeneratorRunResult result = driver.ReplaceAdditionalText(before, edited.ToAdditionalText())
            .RunGenerators(compilation.Clone()).GetRunResult().Results.Single();

        Assert.Empty(result.Diagnostics);
        Assert.Equal(modelCount, result.GeneratedSources.Length);
        IncrementalStepRunReason[] parses = result.TrackedSteps[TrackingNames.Parse].SelectMany(run => run.Outputs).Select(o => o.Reason).ToArray();
        Assert.Single(parses, reason => reason == IncrementalStepRunReason.Modified);
        Assert.All(parses.Where(reason => reason != IncrementalStepRunReason.Modified), reason =>
            Assert.Equal(IncrementalStepRunReason.Cached, reason));

        var emitted = result.TrackedSteps[TrackingNames.Emit].SelectMany(run => run.Outputs).ToList();
        var reEmitted = emitted.Where(o => o.Reason is IncrementalStepRunReason.New or IncrementalStepRunReason.Modified).ToList();
        Assert.Equal(EditedModel, Assert.IsType<EmittedModel>(Assert.Single(reEmitted).Value).Name);
        Assert.All(emitted.Except(reEmitted), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));

        // Source outputs: the edited file's and the binder's diagnostics re-run and come out Unchanged (none);
        // the one model's source is the only output that changes.
        var sourceOutputs = result.TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(run => run.Outputs).ToList();
        Assert.Single(sourceOutputs, o => o.Reason is IncrementalStepRunReason.New or IncrementalStepRunReason.Modified);
        Assert.Contains("Hidden: 384", result.GeneratedSources.Single(s => s.HintName == EditedModel + ".g.cs").SourceText.ToString());
    }

    private static void AssertStepsRan(GeneratorRunResult result)
    {
        foreach (string step in AllSteps) Assert.True(result.TrackedSteps.ContainsKey(step), $"step {step} never ran");
    }

    /// <summary>Past the first step only the Language's equatable records (and strings) flow: no Roslyn object
    /// (AdditionalText, SourceText, ISymbol, Compilation) that would defeat caching or keep memory alive.</summary>
    private static void AssertEquatableOutputs(GeneratorRunResult result)
    {
        foreach (string step in AllSteps)
        {
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object value, _) in run.Outputs)
                {
                    Type type = value.GetType();
                    Assert.True(type == typeof(string) || type.Namespace!.StartsWith("Bmojo.Dsl.Language", StringComparison.Ordinal),
                                $"step {step} outputs a {type.FullName}");
                }
            }
        }
    }
}
