using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>Compiles C# against what the test process itself runs on: the framework, TorchSharp and the real
/// Bmojo.Runtime, with nullable checks and XML doc checks on.</summary>
public static class CompilationHelper
{
    public static readonly CSharpParseOptions ParseOptions =
        new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly Lazy<MetadataReference[]> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToArray());

    public static CSharpCompilation Create(params string[] sources) =>
        CSharpCompilation.Create(
            "Generated",
            sources.Select((text, i) => CSharpSyntaxTree.ParseText(text, ParseOptions, path: $"source{i}.cs")),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary,
                                         nullableContextOptions: NullableContextOptions.Enable,
                                         warningLevel: 9999));

    /// <summary>Every warning and error of compiling <paramref name="compilation"/> to IL, as text.</summary>
    public static string[] Problems(Compilation compilation)
    {
        using var stream = new MemoryStream();
        return compilation.Emit(stream).Diagnostics
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .Select(d => d.ToString())
            .ToArray();
    }
}
