using System.Reflection;
using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Models.Tests;

/// <summary>The model classes the generator made from specs/*.arch, found by their shape: a public sealed
/// module of Bmojo.Models with the generated <c>Settings</c> and <c>ParameterCount</c>.</summary>
public static class GeneratedModels
{
    public static IReadOnlyList<Type> All { get; } = typeof(TransformerTiny).Assembly.GetTypes()
        .Where(type => type.IsPublic && type.IsSealed && typeof(nn.Module<Tensor, Tensor>).IsAssignableFrom(type))
        .Where(type => type.GetField("ParameterCount") is { IsLiteral: true })
        .OrderBy(type => type.Name, StringComparer.Ordinal)
        .ToList();

    public static Type Named(string name) => All.Single(type => type.Name == name);

    public static nn.Module<Tensor, Tensor> Create(Type model) => (nn.Module<Tensor, Tensor>)Activator.CreateInstance(model, new object?[] { null })!;

    public static long ParameterCount(Type model) => (long)model.GetField("ParameterCount")!.GetRawConstantValue()!;

    public static ModelSettings Settings(Type model) =>
        (ModelSettings)model.GetProperty("Settings", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
}
