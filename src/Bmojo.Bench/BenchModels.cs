using Bmojo.Models;
using Bmojo.Runtime;

namespace Bmojo.Bench;

/// <summary>The models the training-step benchmark can build: src/Bmojo.Models's registry (<see cref="BmojoModels"/>,
/// one generated class per specs/*.arch model).</summary>
public static class BenchModels
{
    public static IReadOnlyList<ModelEntry> All => BmojoModels.All;

    /// <summary>The model of that name (case-insensitive), or null.</summary>
    public static ModelEntry? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The known names, for error messages.</summary>
    public static string Names => string.Join(", ", All.Select(m => m.Name));
}
