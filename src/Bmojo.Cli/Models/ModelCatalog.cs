using Bmojo.Models;

namespace Bmojo.Cli.Models;

/// <summary>The models compiled into this build: src/Bmojo.Models's registry (<see cref="BmojoModels"/>, one
/// generated class per specs/*.arch model), as CLI definitions.</summary>
public static class ModelCatalog
{
    public const string CompiledIn = "compiled-in";

    public static IReadOnlyList<ModelDefinition> All { get; } =
        BmojoModels.All.Select(model => ModelDefinition.Of(model, CompiledIn)).ToList();

    /// <summary>The compiled-in model of that name (case-insensitive), or null.</summary>
    public static ModelDefinition? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
}
