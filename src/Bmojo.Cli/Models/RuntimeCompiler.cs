using System.Reflection;
using System.Runtime.Loader;
using Bmojo.Dsl.Language;
using Bmojo.Runtime;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using TorchSharp;

namespace Bmojo.Cli.Models;

/// <summary>Compiles generated model sources with Roslyn into an in-memory assembly against this process's
/// Bmojo.Runtime and TorchSharp, loads it, and returns its models from the registry its generated
/// <c>BmojoModels</c> fills (<see cref="ModelRegistry.Of"/>).</summary>
public static class RuntimeCompiler
{
    private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat([typeof(Backbone).Assembly.Location, typeof(torch).Assembly.Location])
            .Distinct()
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToList());

    private static int counter;

    /// <summary>The models of the compiled <paramref name="sources"/> (the models' and their registry's).</summary>
    /// <param name="origin">The spec file, named in the error if the generated code does not compile.</param>
    public static IReadOnlyList<ModelEntry> Compile(IReadOnlyList<GeneratedSource> sources, string origin)
    {
        var options = new CSharpParseOptions(LanguageVersion.Latest);
        var compilation = CSharpCompilation.Create(
            $"Bmojo.Specs.Runtime{Interlocked.Increment(ref counter)}",
            sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, options, path: s.HintName)),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
                                         optimizationLevel: OptimizationLevel.Release));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        if (!result.Success)
        {
            IEnumerable<string> errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(5).Select(d => d.ToString());
            throw new UserError($"the code generated from '{origin}' does not compile (a bug in Bmojo.Dsl, please report it):" +
                                Environment.NewLine + string.Join(Environment.NewLine, errors));
        }
        image.Position = 0;
        Assembly assembly = AssemblyLoadContext.Default.LoadFromStream(image);
        return ModelRegistry.Of(assembly);
    }
}
