using Bmojo.Dsl.Language;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>Whatever text a spec file holds, the generator never throws (no CS8785, no internal error) and every
/// diagnostic points into a spec file, inside its text; whatever it generates parses as C#.</summary>
public sealed class FuzzTests
{
    private const string FuzzPath = "/repo/specs/fuzz.arch";

    /// <summary>Spec-shaped fragments: the words and punctuation of the language, numbers at the edges.</summary>
    private static readonly string[] Fragments =
    {
        "model ", "extends ", "let ", "every ", "offset ", "at ", "pattern ", "{", "}", "[", "]", "=", ",", "\n", "#",
        "\"", "\\", " ", "-", "inf", "-inf", "nan", "0", "1", "-1", "2147483648", "1e309", "0.5", "none", "true",
        "Transformer", "attention", "mamba", "bmojo", "mlp", "moe", "heads", "d_model", "layers", "vocab", "window",
        "\u00e9", "\t", "\r\n",
    };

    [Property(MaxTest = 150)]
    public Property Mutated_canonical_specs_never_crash_the_generator() =>
        Prop.ForAll(Arb.From(MutatedSpecs()), mutation =>
        {
            (SpecFile original, string text) = mutation;
            CheckNeverCrashes(GeneratorHarness.CanonicalSpecs.Where(spec => spec != original)
                                              .Append(original with { Text = text }).ToList());
        });

    [Property(MaxTest = 150)]
    public Property Arbitrary_text_never_crashes_the_generator() =>
        Prop.ForAll(ArbMap.Default.ArbFor<NonNull<string>>(), text =>
            CheckNeverCrashes(new[] { new SpecFile(FuzzPath, text.Get) }));

    /// <summary>Inputs found by the properties above: a lone '\r' is a line break (as Roslyn counts lines), and a
    /// stray ']' in a component's arguments once hung the parser.</summary>
    [Theory]
    [InlineData("model A {\r  vocab = 3x\r}")]
    [InlineData("model M {\n  mixer = mamba { d_conv = 4], expand = 2 }\n}\n")]
    public void Inputs_found_by_fuzzing_are_reported_not_crashed_on(string text) =>
        CheckNeverCrashes(new[] { new SpecFile(FuzzPath, text) });

    private static Gen<(SpecFile Original, string Text)> MutatedSpecs() =>
        from original in Gen.Elements(GeneratorHarness.CanonicalSpecs.ToArray())
        from count in Gen.Choose(1, 4)
        from seeds in Gen.ArrayOf(Gen.Choose(0, int.MaxValue), count * 3)
        select (original, Mutate(original.Text, seeds));

    /// <summary>Applies one edit per three seeds: delete a span, insert a fragment, or duplicate a line.</summary>
    private static string Mutate(string text, int[] seeds)
    {
        for (int i = 0; i + 2 < seeds.Length; i += 3)
        {
            int at = text.Length == 0 ? 0 : seeds[i + 1] % (text.Length + 1);
            switch (seeds[i] % 3)
            {
                case 0:
                    text = text.Remove(at, Math.Min(seeds[i + 2] % 12, text.Length - at));
                    break;
                case 1:
                    text = text.Insert(at, Fragments[seeds[i + 2] % Fragments.Length]);
                    break;
                default:
                    int lineStart = text.LastIndexOf('\n', Math.Max(at - 1, 0)) + 1;
                    int lineEnd = text.IndexOf('\n', at);
                    string line = text.Substring(lineStart, (lineEnd < 0 ? text.Length : lineEnd + 1) - lineStart);
                    text = text.Insert(lineStart, line);
                    break;
            }
        }
        return text;
    }

    private static void CheckNeverCrashes(IReadOnlyList<SpecFile> specs)
    {
        Task<GeneratorRunResult> run = Task.Run(() => GeneratorHarness.Run(specs, out _));
        Assert.True(run.Wait(TimeSpan.FromSeconds(20)),
                    $"the generator did not finish in 20 s on:\n{string.Join("\n---\n", specs.Select(spec => spec.Text))}");
        GeneratorRunResult result = run.Result;

        Assert.Null(result.Exception);
        foreach (Diagnostic diagnostic in result.Diagnostics)
        {
            Assert.DoesNotContain(diagnostic.Id, new[] { "CS8785", SpecCompiler.InternalErrorId, "BMJ9999" });
            Assert.Equal(LocationKind.ExternalFile, diagnostic.Location.Kind);
            FileLinePositionSpan where = diagnostic.Location.GetLineSpan();
            SpecFile file = Assert.Single(specs, spec => spec.Path == where.Path);
            Assert.InRange(diagnostic.Location.SourceSpan.End, 0, file.Text.Length);
            // Line and column agree with the span as Roslyn (and so the IDE) counts lines.
            Assert.Equal(SourceText.From(file.Text).Lines.GetLinePositionSpan(diagnostic.Location.SourceSpan), where.Span);
        }
        foreach (GeneratedSourceResult source in result.GeneratedSources)
        {
            Assert.DoesNotContain(CSharpSyntaxTree.ParseText(source.SourceText, CompilationHelper.ParseOptions).GetDiagnostics(),
                                  d => d.Severity == DiagnosticSeverity.Error);
        }
    }
}
