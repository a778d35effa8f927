using System.Globalization;
using Bmojo.Dsl.Language.Binding;

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary>One row of a kind's key table, as docs/spec-language.md shows it (markdown text: <c>`none` \| integer</c>),
    /// and, for a number or a flag, the default and range the binder reads it with (<see cref="ArgumentReader"/>).</summary>
    /// <param name="Default">The default as the doc writes it: <c>`16`</c>, <c>required</c>, <c>`heads`</c>.</param>
    internal sealed record Key(string Name, string Type, string Default, string Range, string Meaning)
    {
        /// <summary>The paper's symbol for the key (w, m_f ...), or empty.</summary>
        public string Paper { get; init; } = "";

        public int Min { get; private init; }

        public int Max { get; private init; }

        public int IntDefault { get; private init; }

        public double RealDefault { get; private init; }

        public Bounds Bounds { get; private init; }

        public bool FlagDefault { get; private init; }

        /// <summary>An integer in <paramref name="min"/>..<paramref name="max"/>, <paramref name="fallback"/> when absent.</summary>
        public static Key Integer(string name, int fallback, int min, int max, string meaning) =>
            Integer(name, Code(fallback.ToString(CultureInfo.InvariantCulture)), min, max, meaning) with { IntDefault = fallback };

        /// <summary>An integer whose default depends on other values (the binder gives it), or that is required.</summary>
        /// <param name="range">The range as the doc words it, when a check beyond min..max applies ("1.., divides `heads`").</param>
        public static Key Integer(string name, string defaultText, int min, int max, string meaning, string? range = null, string type = "integer") =>
            new Key(name, type, defaultText, range ?? $"{min}..{max}", meaning) { Min = min, Max = max };

        /// <param name="defaultText">The default as the doc writes it, when not the shortest form (<c>`1e-4`</c>).</param>
        public static Key Real(string name, double fallback, Bounds bounds, string meaning, string? defaultText = null, string? range = null) =>
            new Key(name, "real", defaultText ?? Code(fallback.ToString("R", CultureInfo.InvariantCulture)), range ?? bounds.ToString(), meaning)
            { RealDefault = fallback, Bounds = bounds };

        public static Key Flag(string name, bool fallback, string meaning) =>
            new Key(name, "bool", Code(fallback ? "true" : "false"), "", meaning) { FlagDefault = fallback };

        /// <summary>The row of the doc's table: <c>| `name` | [paper |] type | default | range | meaning |</c>.</summary>
        public string Row(bool withPaper) =>
            $"| `{Name}` |{(withPaper ? Cell(Paper) : "")}{Cell(Type)}{Cell(Default)}{Cell(Range)}{Cell(Meaning)}";

        private static string Cell(string text) => text.Length == 0 ? " |" : $" {text} |";

        private static string Code(string text) => $"`{text}`";
    }

    /// <summary>The largest token counts and widths a key may state.</summary>
    internal static class Limits
    {
        public const int MaxTokens = 16_777_216;
        public const int MaxWidth = 1_048_576;
    }
}
