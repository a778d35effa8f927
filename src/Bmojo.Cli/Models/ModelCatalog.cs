using Bmojo.Models;
using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Models;

/// <summary>The models compiled into this build (src/Bmojo.Models, one generated class per specs/*.arch model).</summary>
public static class ModelCatalog
{
    public const string CompiledIn = "compiled-in";

    public static IReadOnlyList<ModelDefinition> All { get; } =
    [
        Define(TransformerTiny.Settings, () => new TransformerTiny(), m => m.AuxLoss),
        Define(MambaTiny.Settings, () => new MambaTiny(), m => m.AuxLoss),
        Define(JambaTiny.Settings, () => new JambaTiny(), m => m.AuxLoss),
        Define(BMojoFTiny.Settings, () => new BMojoFTiny(), m => m.AuxLoss),
        Define(BMojoTiny.Settings, () => new BMojoTiny(), m => m.AuxLoss),
        Define(Transformer.Settings, () => new Transformer(), m => m.AuxLoss),
        Define(Mamba.Settings, () => new Mamba(), m => m.AuxLoss),
        Define(Jamba.Settings, () => new Jamba(), m => m.AuxLoss),
        Define(BMojoF.Settings, () => new BMojoF(), m => m.AuxLoss),
        Define(BMojo.Settings, () => new BMojo(), m => m.AuxLoss),
        Define(TransformerSmall.Settings, () => new TransformerSmall(), m => m.AuxLoss),
        Define(MambaSmall.Settings, () => new MambaSmall(), m => m.AuxLoss),
        Define(BMojoFSmall.Settings, () => new BMojoFSmall(), m => m.AuxLoss),
        Define(BMojoSmall.Settings, () => new BMojoSmall(), m => m.AuxLoss),
    ];

    /// <summary>The compiled-in model of that name (case-insensitive), or null.</summary>
    public static ModelDefinition? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    private static ModelDefinition Define<TModel>(ModelSettings settings, Func<TModel> create, Func<TModel, Tensor?> auxLoss)
        where TModel : nn.Module<Tensor, Tensor> =>
        new(settings.Name, settings, CompiledIn, () =>
        {
            TModel model = create();
            return new TrainableModel(model, () => auxLoss(model));
        });
}
