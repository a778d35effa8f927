using System.Reflection;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Bmojo.Runtime;

/// <summary>One generated model class, as the registry of its compilation lists it.</summary>
/// <param name="Name">The class name (the spec's model name).</param>
/// <param name="Settings">Its resolved settings (the build's kernel policy in <see cref="ModelSettings.Kernels"/>).</param>
/// <param name="Factory">Its constructor: <c>(device, kernels) =&gt; new Model(device, kernels)</c>.</param>
public sealed record ModelEntry(string Name, ModelSettings Settings, Func<Device?, KernelPolicy?, LanguageModel> Factory)
{
    /// <summary>A fresh instance (weights drawn from torch's global generator).</summary>
    /// <param name="device">Where the weights live; null: the CPU.</param>
    /// <param name="kernels">The kernel policy; null: the build's default.</param>
    public LanguageModel Create(Device? device = null, KernelPolicy? kernels = null) => Factory(device, kernels);

    public long ParameterCount => Settings.ParameterCount;
}

/// <summary>
/// The generated models of every loaded compilation. The generator writes a <c>BmojoModels</c> class into each
/// compilation with specs, listing its models, and a module initializer that registers that list here under its
/// assembly; <see cref="Of"/> runs that initializer first, so an assembly just loaded (a spec compiled at run time)
/// is found too.
/// </summary>
public static class ModelRegistry
{
    private static readonly object Gate = new();
    private static readonly Dictionary<Assembly, IReadOnlyList<ModelEntry>> ByAssembly = new();
    private static readonly List<Assembly> Order = new();

    /// <summary>Called by the generated module initializer: the models of <paramref name="assembly"/>.</summary>
    public static void Register(Assembly assembly, IReadOnlyList<ModelEntry> models)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentNullException.ThrowIfNull(models);
        lock (Gate)
        {
            if (!ByAssembly.ContainsKey(assembly)) Order.Add(assembly);
            ByAssembly[assembly] = models.ToArray();
        }
    }

    /// <summary>The models generated into <paramref name="assembly"/>, in the order the generator lists them; empty
    /// when it has none.</summary>
    public static IReadOnlyList<ModelEntry> Of(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);   // its initializer registers it
        lock (Gate) return ByAssembly.TryGetValue(assembly, out IReadOnlyList<ModelEntry>? models) ? models : [];
    }

    /// <summary>The model of that name (case-insensitive) in <paramref name="assembly"/>, or null.</summary>
    public static ModelEntry? Find(Assembly assembly, string name) =>
        Of(assembly).FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Every model registered so far, assembly by assembly in the order they registered.</summary>
    public static IReadOnlyList<ModelEntry> All
    {
        get
        {
            lock (Gate) return Order.SelectMany(assembly => ByAssembly[assembly]).ToArray();
        }
    }
}
