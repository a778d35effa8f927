using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>Runs the real <see cref="SpecGenerator"/> through <see cref="CSharpGeneratorDriver"/>, with step
/// tracking on, over spec texts given as AdditionalFiles.</summary>
public static class GeneratorHarness
{
    /// <summary>The canonical specs (specs/*.arch, copied beside the test assembly), by file name.</summary>
    public static IReadOnlyList<SpecFile> CanonicalSpecs { get; } =
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.arch")
            .OrderBy(path => path, StringComparer.Ordinal)
            .Select(path => new SpecFile("/repo/specs/" + Path.GetFileName(path), File.ReadAllText(path)))
            .ToList();

    /// <param name="properties">MSBuild properties as the generator sees them (<c>build_property.X</c>); by default
    /// <c>BmojoNamespace</c> = Bmojo.Models, as in src/Bmojo.Models.</param>
    public static GeneratorDriver CreateDriver(IEnumerable<AdditionalText> specs, IReadOnlyDictionary<string, string>? properties = null) =>
        CSharpGeneratorDriver.Create(
            new[] { new SpecGenerator().AsSourceGenerator() },
            specs,
            CompilationHelper.ParseOptions,
            new BuildProperties((properties ?? new Dictionary<string, string> { ["build_property.BmojoNamespace"] = "Bmojo.Models" })
                .ToImmutableDictionary()),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>An empty compilation the generated sources are added to (the generator reads no C#).</summary>
    public static CSharpCompilation EmptyCompilation() => CompilationHelper.Create();

    public static GeneratorRunResult Run(params SpecFile[] specs) => Run(specs, out _);

    public static GeneratorRunResult Run(IEnumerable<SpecFile> specs, out Compilation output)
    {
        GeneratorDriver driver = CreateDriver(specs.Select(spec => spec.ToAdditionalText()))
            .RunGeneratorsAndUpdateCompilation(EmptyCompilation(), out output, out _);
        return driver.GetRunResult().Results.Single();
    }

    private sealed class BuildProperties(ImmutableDictionary<string, string> values) : AnalyzerConfigOptionsProvider
    {
        private readonly Options _global = new(values);
        private static readonly Options None = new(ImmutableDictionary<string, string>.Empty);

        public override AnalyzerConfigOptions GlobalOptions => _global;

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => None;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => None;

        private sealed class Options(ImmutableDictionary<string, string> values) : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
        }
    }
}

/// <summary>A spec file given to the generator: its path and text.</summary>
public sealed record SpecFile(string Path, string Text)
{
    public string Name => System.IO.Path.GetFileName(Path);

    public AdditionalText ToAdditionalText() => new InMemoryText(Path, Text);

    private sealed class InMemoryText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text);

        public override string Path => path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }
}
