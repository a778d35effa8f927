namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary>One row of a kind's key table, as docs/spec-language.md shows it (markdown text: <c>`none` \| integer</c>).</summary>
    /// <param name="Paper">The paper's symbol for the key (w, m_f ...), or empty.</param>
    internal sealed record Key(string Name, string Type, string Default, string Range, string Meaning, string Paper = "")
    {
        /// <summary>The row of the doc's table: <c>| `name` | [paper |] type | default | range | meaning |</c>.</summary>
        public string Row(bool withPaper) =>
            $"| `{Name}` |{(withPaper ? Cell(Paper) : "")}{Cell(Type)}{Cell(Default)}{Cell(Range)}{Cell(Meaning)}";

        private static string Cell(string text) => text.Length == 0 ? " |" : $" {text} |";
    }

    /// <summary>The largest token counts and widths a key may state.</summary>
    internal static class Limits
    {
        public const int MaxTokens = 16_777_216;
        public const int MaxWidth = 1_048_576;
    }
}
