using Bmojo.Dsl.Language;

namespace Bmojo.Cli.Models;

/// <summary>The canonical specs/*.arch texts, embedded in the CLI, under the paths the build compiled them from.</summary>
public static class SpecLibrary
{
    public static IReadOnlyList<SpecSource> Sources { get; } = Load();

    private static IReadOnlyList<SpecSource> Load()
    {
        var assembly = typeof(SpecLibrary).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith("specs/", StringComparison.Ordinal) && name.EndsWith(".arch", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(name =>
            {
                using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
                return new SpecSource(name, reader.ReadToEnd());
            })
            .ToList();
    }
}
