using Spectre.Console.Cli;

namespace Bmojo.Cli;

/// <summary>The smallest container Spectre.Console.Cli needs: instances, types and factories; a service resolves to
/// its last registration, <c>IEnumerable&lt;T&gt;</c> to all of them; an unregistered concrete type is built through
/// its public constructor with the most parameters, each resolved the same way.</summary>
internal sealed class TypeRegistrar : ITypeRegistrar
{
    private readonly Dictionary<Type, List<Func<object>>> registrations = [];

    public void Register(Type service, Type implementation) => Add(service, () => Build(implementation));

    public void RegisterInstance(Type service, object implementation) => Add(service, () => implementation);

    public void RegisterLazy(Type service, Func<object> factory)
    {
        var lazy = new Lazy<object>(factory);
        Add(service, () => lazy.Value);
    }

    public ITypeResolver Build() => new Resolver(this);

    private void Add(Type service, Func<object> factory)
    {
        if (!registrations.TryGetValue(service, out List<Func<object>>? list)) registrations[service] = list = [];
        list.Add(factory);
    }

    private object Build(Type type)
    {
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
        return constructor.Invoke(constructor.GetParameters().Select(p => Resolve(p.ParameterType)).ToArray());
    }

    private object? Resolve(Type? type)
    {
        if (type is null) return null;
        if (registrations.TryGetValue(type, out List<Func<object>>? list)) return list[^1]();
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>))
        {
            Type element = type.GetGenericArguments()[0];
            List<Func<object>> all = registrations.GetValueOrDefault(element) ?? [];
            var array = Array.CreateInstance(element, all.Count);
            for (int i = 0; i < all.Count; i++) array.SetValue(all[i](), i);
            return array;
        }
        return type.IsAbstract || type.IsInterface ? null : Build(type);
    }

    private sealed class Resolver(TypeRegistrar registrar) : ITypeResolver
    {
        public object? Resolve(Type? type) => registrar.Resolve(type);
    }
}
