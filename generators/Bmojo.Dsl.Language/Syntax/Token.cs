using Bmojo.Dsl.Language.Diagnostics;

namespace Bmojo.Dsl.Language.Syntax
{
    internal enum TokenKind
    {
        Identifier,
        Number,
        String,
        OpenBrace,
        CloseBrace,
        OpenBracket,
        CloseBracket,
        Equals,
        Comma,
        Newline,
        /// <summary>Text the lexer already reported; the parser skips it silently.</summary>
        Bad,
        EndOfFile,
    }

    /// <param name="Text">The source text of the token (for strings: the resolved value).</param>
    /// <param name="Number">The value of a number token.</param>
    internal readonly record struct Token(TokenKind Kind, string Text, TextSpan Span, double Number, bool IsInteger)
    {
        /// <summary>How a message quotes the token: "'heads'", "end of line", "end of file".</summary>
        public string Describe() => Kind switch
        {
            TokenKind.Newline => "end of line",
            TokenKind.EndOfFile => "end of file",
            TokenKind.String => $"\"{Text}\"",
            _ => $"'{Text}'",
        };
    }

    /// <summary>A '#' comment: its line and text (without the '#').</summary>
    internal readonly record struct Comment(int Line, bool StartsLine, string Text);
}
