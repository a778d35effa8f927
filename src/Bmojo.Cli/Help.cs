using System.ComponentModel;
using System.Reflection;
using Spectre.Console.Cli;
using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;

namespace Bmojo.Cli;

/// <summary>The default <c>--help</c> shows in its DEFAULT column for an option whose default is not a constant
/// (a nullable option resolved later: <c>--steps</c> is 600 for train and 200 for compare). Spectre shows
/// <see cref="DefaultValueAttribute"/>, which it also assigns to the property, so it can only hold a real value;
/// this one is for the help text alone.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ShownDefaultAttribute(string text) : Attribute
{
    public string Text { get; } = text;
}

/// <summary>Spectre's help, with <see cref="ShownDefaultAttribute"/> in the DEFAULT column where an option has no
/// <see cref="DefaultValueAttribute"/>. Spectre's help model does not name an option's property, so the settings
/// type of each command (its path, "bench train-step") is registered here.</summary>
internal sealed class BmojoHelpProvider(ICommandAppSettings settings, IReadOnlyDictionary<string, Type> settingsTypes)
    : HelpProvider(settings)
{
    public override IEnumerable<IRenderable> GetOptions(ICommandModel model, ICommandInfo? command)
    {
        if (command is null || !settingsTypes.TryGetValue(CommandPath(command), out Type? type)) return base.GetOptions(model, command);
        return base.GetOptions(model, new WithShownDefaults(command, type));
    }

    public static string CommandPath(ICommandInfo command) =>
        command.Parent is null ? command.Name : CommandPath(command.Parent) + " " + command.Name;

    /// <summary>What the DEFAULT column shows for the option of <paramref name="settingsType"/> whose long name is
    /// <paramref name="longName"/>: its DefaultValue, else its ShownDefault, else null.</summary>
    public static object? ShownDefault(Type settingsType, string longName)
    {
        PropertyInfo? property = OptionProperty(settingsType, longName);
        if (property is null) return null;
        if (property.GetCustomAttribute<DefaultValueAttribute>() is { } value) return value.Value;
        return property.GetCustomAttribute<ShownDefaultAttribute>()?.Text;
    }

    public static PropertyInfo? OptionProperty(Type settingsType, string longName) =>
        settingsType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .FirstOrDefault(p => p.GetCustomAttribute<CommandOptionAttribute>() is { } option && option.LongNames.Contains(longName));

    /// <summary>The settings type of a command class (its <c>Command&lt;TSettings&gt;</c>).</summary>
    public static Type? SettingsTypeOf(Type command)
    {
        for (Type? t = command; t is not null; t = t.BaseType)
            if (t.IsGenericType && t.GetGenericArguments() is [Type settings] && typeof(CommandSettings).IsAssignableFrom(settings))
                return settings;
        return null;
    }

    private sealed class WithShownDefaults(ICommandInfo inner, Type settingsType) : ICommandInfo
    {
        public string Name => inner.Name;
        public string? Description => inner.Description;
        public bool IsBranch => inner.IsBranch;
        public bool IsDefaultCommand => inner.IsDefaultCommand;
        public bool IsHidden => inner.IsHidden;
        public ICommandInfo? Parent => inner.Parent;
        public IReadOnlyList<string[]> Examples => inner.Examples;
        public IReadOnlyList<ICommandInfo> Commands => inner.Commands;
        public ICommandInfo? DefaultCommand => inner.DefaultCommand;

        public IReadOnlyList<ICommandParameter> Parameters => inner.Parameters
            .Select(p => p is ICommandOption { DefaultValue: null, IsFlag: false } option &&
                         option.LongNames.Count > 0 && ShownDefault(settingsType, option.LongNames[0]) is string shown
                ? new Shown(option, new DefaultValueAttribute(shown))
                : p)
            .ToList();
    }

    private sealed class Shown(ICommandOption inner, DefaultValueAttribute shown) : ICommandOption
    {
        public IReadOnlyList<string> LongNames => inner.LongNames;
        public IReadOnlyList<string> ShortNames => inner.ShortNames;
        public string? ValueName => inner.ValueName;
        public bool ValueIsOptional => inner.ValueIsOptional;
        public bool IsFlag => inner.IsFlag;
        public bool IsRequired => inner.IsRequired;
        public string? Description => inner.Description;
        public DefaultValueAttribute? DefaultValue => shown;
        public bool IsHidden => inner.IsHidden;
    }
}
