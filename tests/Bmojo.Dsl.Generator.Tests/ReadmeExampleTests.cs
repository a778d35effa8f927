using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>The README's 30-second example stays true: its spec generates its model, its C# compiles against the
/// generated class, its parameter count is the generated one, and its error line is what the generator reports.</summary>
public sealed class ReadmeExampleTests
{
    private static readonly string Example = File.ReadAllText(ExamplePath());

    /// <summary>What <c>&lt;ImplicitUsings&gt;enable&lt;/ImplicitUsings&gt;</c> gives a console project.</summary>
    private const string ImplicitUsings =
        "global using global::System;\nglobal using global::System.Collections.Generic;\nglobal using global::System.IO;\n" +
        "global using global::System.Linq;\nglobal using global::System.Threading.Tasks;\n";

    [Fact]
    public void The_example_spec_generates_a_class_the_example_code_compiles_against()
    {
        string spec = Block("```\n# ");
        string program = Block("```csharp\n");

        // The README's project is YourApp: the generated classes are in its root namespace.
        GeneratorDriver driver = GeneratorHarness.CreateDriver(new[] { new SpecFile("/repo/specs/tiny-hybrid.arch", spec).ToAdditionalText() },
                new Dictionary<string, string> { ["build_property.RootNamespace"] = "YourApp" })
            .RunGeneratorsAndUpdateCompilation(GeneratorHarness.EmptyCompilation(), out Compilation generated, out _);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Empty(result.Diagnostics);
        Compilation withProgram = generated
            .AddSyntaxTrees(
                CSharpSyntaxTree.ParseText(program, CompilationHelper.ParseOptions, path: "Program.cs"),
                CSharpSyntaxTree.ParseText(ImplicitUsings, CompilationHelper.ParseOptions, path: "GlobalUsings.g.cs"))
            .WithOptions(generated.Options.WithOutputKind(OutputKind.ConsoleApplication));

        string[] problems = CompilationHelper.Problems(withProgram);
        Assert.True(problems.Length == 0, string.Join("\n", problems));
        string count = Regex.Match(program, @"ParameterCount\);\s+// (\d+)").Groups[1].Value;
        Assert.Contains($"ParameterCount = {long.Parse(count):#,0}".Replace(",", "_"), result.GeneratedSources.Single(s => s.HintName == "TinyHybrid.g.cs").SourceText.ToString());
    }

    [Fact]
    public void The_example_error_is_the_one_the_generator_reports()
    {
        string spec = Block("```\n# ").Replace("window = 32, fading", "windw = 32, fading");
        string expected = Block("```\nspecs/").Trim();

        GeneratorRunResult result = GeneratorHarness.Run(new SpecFile("specs/tiny-hybrid.arch", spec));

        Assert.Equal(expected, Assert.Single(result.Diagnostics).ToString());
    }

    /// <summary>The first fenced block that starts with <paramref name="opening"/> (the fence and its first text).</summary>
    private static string Block(string opening)
    {
        int start = Example.IndexOf(opening, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no block starting with {opening}");
        int textStart = Example.IndexOf('\n', start) + 1;
        int end = Example.IndexOf("```", textStart, StringComparison.Ordinal);
        return Example[textStart..end];
    }

    private static string ExamplePath([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "README.md");
}
