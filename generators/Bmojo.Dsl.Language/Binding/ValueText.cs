using System.Linq;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>How messages quote values and rules.</summary>
    internal static class ValueText
    {
        public static string Describe(ValueSyntax value) => value switch
        {
            NumberSyntax number => number.Text,
            StringSyntax text => $"\"{text.Value}\"",
            IdentifierSyntax identifier => identifier.Name,
            ComponentSyntax component => component.Kind.Text + " { ... }",
            ListSyntax _ => "[...]",
            _ => "?",
        };

        /// <summary>"every 8 offset 4", "at [0, 5]", "pattern", or "=" for a plain fill rule.</summary>
        public static string Describe(SelectorSyntax? selector) => selector switch
        {
            EverySelectorSyntax every => every.Offset == null ? $"every {every.Every.Text}" : $"every {every.Every.Text} offset {every.Offset.Text}",
            AtSelectorSyntax at => "at [" + string.Join(", ", at.Layers.Select(l => l.Text)) + "]",
            PatternSelectorSyntax _ => "pattern",
            _ => "=",
        };
    }
}
