using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Tests;

public sealed class LexerTests
{
    private static (IReadOnlyList<Token> Tokens, IReadOnlyList<Comment> Comments, IReadOnlyList<Diagnostic> Diagnostics) Lex(string text)
    {
        var bag = new DiagnosticBag();
        var (tokens, comments) = Lexer.Lex(text, new SourceFile("t.arch", LineMap.LineStarts(text)), bag);
        return (tokens, comments, bag.Items);
    }

    [Fact]
    public void Splits_punctuation_words_numbers_strings_and_newlines()
    {
        var (tokens, _, diagnostics) = Lex("mixer every 8 offset 4 = attention { heads = 16, store = \"a b\" }\n[0, 5]");
        Assert.Empty(diagnostics);
        Assert.Equal(
            new[]
            {
                TokenKind.Identifier, TokenKind.Identifier, TokenKind.Number, TokenKind.Identifier, TokenKind.Number, TokenKind.Equals,
                TokenKind.Identifier, TokenKind.OpenBrace, TokenKind.Identifier, TokenKind.Equals, TokenKind.Number, TokenKind.Comma,
                TokenKind.Identifier, TokenKind.Equals, TokenKind.String, TokenKind.CloseBrace, TokenKind.Newline,
                TokenKind.OpenBracket, TokenKind.Number, TokenKind.Comma, TokenKind.Number, TokenKind.CloseBracket, TokenKind.EndOfFile,
            },
            tokens.Select(t => t.Kind));
        Assert.Equal("a b", tokens[14].Text);
        Assert.Equal(new TextSpan(57, 5), tokens[14].Span);
    }

    [Theory]
    [InlineData("1024", 1024.0, true)]
    [InlineData("50_280", 50280.0, true)]
    [InlineData("-3", -3.0, true)]
    [InlineData("1e-5", 1e-5, false)]
    [InlineData("2.5E3", 2500.0, false)]
    [InlineData("0.001", 0.001, false)]
    [InlineData(".5", 0.5, false)]
    [InlineData("-0.25", -0.25, false)]
    [InlineData("inf", double.PositiveInfinity, false)]
    [InlineData("-inf", double.NegativeInfinity, false)]
    public void Reads_numbers(string text, double value, bool isInteger)
    {
        var (tokens, _, diagnostics) = Lex(text);
        Assert.Empty(diagnostics);
        Token number = tokens[0];
        Assert.Equal(TokenKind.Number, number.Kind);
        Assert.Equal(value, number.Number);
        Assert.Equal(isInteger, number.IsInteger);
        Assert.Equal(text.Length, number.Span.Length);
    }

    [Theory]
    [InlineData("12abc")]
    [InlineData("1e")]
    [InlineData("1.2.3")]
    [InlineData("1__0")]
    [InlineData("1_")]
    [InlineData("1_.5")]
    [InlineData("1e_5")]
    [InlineData("1e999")]
    public void Reports_a_malformed_number_as_one_token(string text)
    {
        var (tokens, _, diagnostics) = Lex(text);
        Assert.Equal(TokenKind.Bad, tokens[0].Kind);
        Assert.Equal(new TextSpan(0, text.Length), tokens[0].Span);
        Diagnostic diagnostic = Assert.Single(diagnostics);
        Assert.Equal($"invalid number '{text}'", diagnostic.Message);
    }

    [Fact]
    public void Keeps_comments_aside_and_marks_full_line_comments()
    {
        var (tokens, comments, _) = Lex("# title\nvocab = 64   # trailing\n");
        Assert.DoesNotContain(tokens, t => t.Text.Contains('#'));
        Assert.Equal(new[] { new Comment(0, true, " title"), new Comment(1, false, " trailing") }, comments);
    }

    [Fact]
    public void Reports_every_bad_character_in_one_pass_and_goes_on()
    {
        var (tokens, _, diagnostics) = Lex("a $ b ; c");
        Assert.Equal(new[] { "unexpected character '$'", "unexpected character ';'" }, diagnostics.Select(d => d.Message));
        Assert.Equal(new[] { "a", "b", "c" }, tokens.Where(t => t.Kind == TokenKind.Identifier).Select(t => t.Text));
    }

    [Fact]
    public void Collapses_blank_lines_and_handles_crlf()
    {
        var (tokens, _, _) = Lex("a\r\n\r\n\nb\rc");
        Assert.Equal(
            new[] { TokenKind.Identifier, TokenKind.Newline, TokenKind.Identifier, TokenKind.Newline, TokenKind.Identifier, TokenKind.EndOfFile },
            tokens.Select(t => t.Kind));
        Assert.Equal(new[] { 0, 3, 5, 6, 8 }, LineMap.LineStarts("a\r\n\r\n\nb\rc"));
    }

    [Fact]
    public void Resolves_string_escapes()
    {
        var (tokens, _, diagnostics) = Lex("\"a\\\"b\\\\c\"");
        Assert.Empty(diagnostics);
        Assert.Equal("a\"b\\c", tokens[0].Text);
    }
}
