using Bmojo.Runtime;

namespace Bmojo.Models.Tests;

/// <summary>The model classes the generator made from specs/*.arch, as the registry of their assembly lists them
/// (no reflection: the generated <see cref="BmojoModels"/> registers them with <see cref="ModelRegistry"/>).</summary>
public static class GeneratedModels
{
    public static IReadOnlyList<ModelEntry> All => ModelRegistry.Of(typeof(BmojoModels).Assembly);

    public static ModelEntry Named(string name) => All.Single(model => model.Name == name);
}
