using Bmojo.Models;
using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Bench;

/// <summary>A compiled-in model the training-step benchmark can build on a device.</summary>
/// <param name="Settings">The generated class's resolved settings (name, layers, parameter count).</param>
/// <param name="Create">Builds the model with fresh weights on a device (initialised on the CPU, then moved).</param>
/// <param name="AuxLoss">The model's auxiliary (MoE load-balancing) loss of its last forward, or null.</param>
public sealed record BenchModel(ModelSettings Settings, Func<Device, nn.Module<Tensor, Tensor>> Create,
                                Func<nn.Module<Tensor, Tensor>, Tensor?> AuxLoss)
{
    public string Name => Settings.Name;
}

/// <summary>The models of src/Bmojo.Models (one generated class per specs/*.arch model).</summary>
public static class BenchModels
{
    public static IReadOnlyList<BenchModel> All { get; } =
    [
        Define(BMojo.Settings, d => new BMojo(d), m => m.AuxLoss),
        Define(Transformer.Settings, d => new Transformer(d), m => m.AuxLoss),
        Define(Mamba.Settings, d => new Mamba(d), m => m.AuxLoss),
        Define(BMojoF.Settings, d => new BMojoF(d), m => m.AuxLoss),
        Define(Jamba.Settings, d => new Jamba(d), m => m.AuxLoss),
        Define(BMojoTiny.Settings, d => new BMojoTiny(d), m => m.AuxLoss),
        Define(TransformerTiny.Settings, d => new TransformerTiny(d), m => m.AuxLoss),
        Define(MambaTiny.Settings, d => new MambaTiny(d), m => m.AuxLoss),
        Define(BMojoFTiny.Settings, d => new BMojoFTiny(d), m => m.AuxLoss),
        Define(JambaTiny.Settings, d => new JambaTiny(d), m => m.AuxLoss),
    ];

    /// <summary>The model of that name (case-insensitive), or null.</summary>
    public static BenchModel? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The known names, for error messages.</summary>
    public static string Names => string.Join(", ", All.Select(m => m.Name));

    private static BenchModel Define<TModel>(ModelSettings settings, Func<Device, TModel> create, Func<TModel, Tensor?> auxLoss)
        where TModel : nn.Module<Tensor, Tensor> =>
        new(settings, device => create(device), module => auxLoss((TModel)module));
}
