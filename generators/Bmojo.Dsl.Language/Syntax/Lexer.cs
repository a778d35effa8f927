using System.Collections.Generic;
using System.Globalization;
using System.Text;
using Bmojo.Dsl.Language.Diagnostics;

namespace Bmojo.Dsl.Language.Syntax
{
    /// <summary>Spec text -> tokens. Reports bad characters, strings and numbers and carries on, so one pass finds
    /// every lexical error. Comments are kept aside (a model's leading comment block is its doc summary).</summary>
    internal sealed class Lexer
    {
        private readonly string _text;
        private readonly SourceFile _file;
        private readonly DiagnosticBag _diagnostics;
        private readonly List<Token> _tokens = new List<Token>();
        private readonly List<Comment> _comments = new List<Comment>();
        private int _position;
        private int _line;
        private bool _lineHasToken;

        private Lexer(string text, SourceFile file, DiagnosticBag diagnostics)
        {
            _text = text;
            _file = file;
            _diagnostics = diagnostics;
        }

        public static (IReadOnlyList<Token> Tokens, IReadOnlyList<Comment> Comments) Lex(
            string text, SourceFile file, DiagnosticBag diagnostics)
        {
            var lexer = new Lexer(text, file, diagnostics);
            lexer.Run();
            return (lexer._tokens, lexer._comments);
        }

        private void Run()
        {
            while (_position < _text.Length)
            {
                char c = _text[_position];
                if (c == '\n' || c == '\r') LexNewline();
                else if (c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\uFEFF') _position++;
                else if (c == '#') LexComment();
                else
                {
                    _lineHasToken = true;
                    LexToken(c);
                }
            }
            Add(TokenKind.EndOfFile, _position, 0);
        }

        private void LexToken(char c)
        {
            int start = _position;
            switch (c)
            {
                case '{': _position++; Add(TokenKind.OpenBrace, start, 1); return;
                case '}': _position++; Add(TokenKind.CloseBrace, start, 1); return;
                case '[': _position++; Add(TokenKind.OpenBracket, start, 1); return;
                case ']': _position++; Add(TokenKind.CloseBracket, start, 1); return;
                case '=': _position++; Add(TokenKind.Equals, start, 1); return;
                case ',': _position++; Add(TokenKind.Comma, start, 1); return;
                case '"': LexString(); return;
            }
            if (IsDigit(c) || c == '.' && IsDigit(Peek(1)) || c == '-' && (IsDigit(Peek(1)) || Peek(1) == '.' || StartsWord(1, "inf")))
                LexNumber();
            else if (IsIdentifierStart(c))
                LexIdentifier();
            else
            {
                int length = char.IsHighSurrogate(c) && char.IsLowSurrogate(Peek(1)) ? 2 : 1;
                _position += length;
                string shown = char.IsControl(c) ? $"U+{(int)c:X4}" : _text.Substring(start, length);
                _diagnostics.Add(_file.Create(DiagnosticCatalogue.UnexpectedCharacter, new TextSpan(start, length), shown));
                Add(TokenKind.Bad, start, length);
            }
        }

        private void LexNewline()
        {
            int start = _position;
            if (_text[_position] == '\r' && Peek(1) == '\n') _position++;
            _position++;
            _line++;
            _lineHasToken = false;
            if (_tokens.Count > 0 && _tokens[_tokens.Count - 1].Kind == TokenKind.Newline) return;
            Add(TokenKind.Newline, start, _position - start);
        }

        private void LexComment()
        {
            int start = ++_position;
            while (_position < _text.Length && _text[_position] != '\n' && _text[_position] != '\r') _position++;
            _comments.Add(new Comment(_line, !_lineHasToken, _text.Substring(start, _position - start)));
        }

        private void LexIdentifier()
        {
            int start = _position;
            while (_position < _text.Length && IsIdentifierPart(_text[_position])) _position++;
            string word = _text.Substring(start, _position - start);
            if (word == "inf")
                _tokens.Add(new Token(TokenKind.Number, word, new TextSpan(start, _position - start), double.PositiveInfinity, false));
            else
                Add(TokenKind.Identifier, start, _position - start);
        }

        private void LexNumber()
        {
            int start = _position;
            bool negative = _text[_position] == '-';
            if (negative) _position++;
            if (StartsWord(0, "inf"))
            {
                _position += 3;
                _tokens.Add(new Token(TokenKind.Number, "-inf", new TextSpan(start, _position - start), double.NegativeInfinity, false));
                return;
            }
            bool isInteger = true, valid = true;
            ScanDigits();
            if (Peek(0) == '.')
            {
                isInteger = false;
                _position++;
                valid &= ScanDigits() > 0 || IsDigit(_text[_position - 2]);
            }
            if (Peek(0) == 'e' || Peek(0) == 'E')
            {
                isInteger = false;
                _position++;
                if (Peek(0) == '+' || Peek(0) == '-') _position++;
                valid &= ScanDigits() > 0;
            }
            // A number glued to letters ("12abc", "1e") is one bad token, not a number and a name.
            while (_position < _text.Length && (IsIdentifierPart(_text[_position]) || _text[_position] == '.'))
            {
                _position++;
                valid = false;
            }
            var span = new TextSpan(start, _position - start);
            string text = _text.Substring(start, span.Length);
            string digits = text.Replace("_", "");
            valid &= SeparatorsBetweenDigits(text);
            if (valid && double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                && !double.IsInfinity(value))
            {
                _tokens.Add(new Token(TokenKind.Number, text, span, value, isInteger));
                return;
            }
            _diagnostics.Add(_file.Create(DiagnosticCatalogue.InvalidNumber, span, text));
            _tokens.Add(new Token(TokenKind.Bad, text, span, 0, false));
        }

        /// <summary>'_' only between two digits, as C# allows it: 50_280, not 1__0, 1_ or 1_.5.</summary>
        private static bool SeparatorsBetweenDigits(string text)
        {
            for (int i = 0; i < text.Length; i++)
                if (text[i] == '_' && (i == 0 || i + 1 == text.Length || !IsDigit(text[i - 1]) || !IsDigit(text[i + 1])))
                    return false;
            return true;
        }

        /// <summary>Digits with '_' separators (50_280); returns how many characters it took.</summary>
        private int ScanDigits()
        {
            int start = _position;
            while (_position < _text.Length && (IsDigit(_text[_position]) || _text[_position] == '_' && _position > start))
                _position++;
            return _position - start;
        }

        private void LexString()
        {
            int start = _position++;
            var value = new StringBuilder();
            while (true)
            {
                if (_position >= _text.Length || _text[_position] == '\n' || _text[_position] == '\r')
                {
                    var span = new TextSpan(start, _position - start);
                    _diagnostics.Add(_file.Create(DiagnosticCatalogue.UnterminatedString, span));
                    _tokens.Add(new Token(TokenKind.Bad, value.ToString(), span, 0, false));
                    return;
                }
                char c = _text[_position++];
                if (c == '"') break;
                if (c == '\\' && _position < _text.Length && _text[_position] != '\n' && _text[_position] != '\r')
                {
                    char escaped = _text[_position++];
                    if (escaped == '"' || escaped == '\\') value.Append(escaped);
                    else _diagnostics.Add(_file.Create(DiagnosticCatalogue.InvalidEscape, new TextSpan(_position - 2, 2), escaped));
                    continue;
                }
                value.Append(c);
            }
            _tokens.Add(new Token(TokenKind.String, value.ToString(), new TextSpan(start, _position - start), 0, false));
        }

        private void Add(TokenKind kind, int start, int length) =>
            _tokens.Add(new Token(kind, _text.Substring(start, length), new TextSpan(start, length), 0, false));

        private char Peek(int ahead) => _position + ahead < _text.Length ? _text[_position + ahead] : '\0';

        private bool StartsWord(int ahead, string word) =>
            _position + ahead + word.Length <= _text.Length
            && string.CompareOrdinal(_text, _position + ahead, word, 0, word.Length) == 0
            && !IsIdentifierPart(Peek(ahead + word.Length));

        private static bool IsDigit(char c) => c >= '0' && c <= '9';

        private static bool IsIdentifierStart(char c) => c == '_' || char.IsLetter(c);

        private static bool IsIdentifierPart(char c) => c == '_' || char.IsLetterOrDigit(c);
    }
}
