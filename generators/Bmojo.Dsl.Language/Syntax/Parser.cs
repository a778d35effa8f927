using System.Collections.Generic;
using System.Linq;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Syntax
{
    /// <summary>Tokens -> syntax tree, by recursive descent. On an error it reports, skips to the end of the member
    /// (line or ',') and goes on, so one pass reports every independent error.</summary>
    internal sealed class Parser
    {
        private readonly IReadOnlyList<Token> _tokens;
        private readonly Dictionary<int, string> _lineComments;
        private readonly SourceFile _file;
        private readonly DiagnosticBag _diagnostics;
        private int _index;
        private int _depth;

        /// <summary>How deep components and lists may nest (real specs nest 2 levels); bounds the recursion of the
        /// parser and of record equality on the tree.</summary>
        public const int MaxNesting = 16;

        private Parser(IReadOnlyList<Token> tokens, IReadOnlyList<Comment> comments, SourceFile file, DiagnosticBag diagnostics)
        {
            _tokens = tokens;
            _lineComments = comments.Where(c => c.StartsLine).ToDictionary(c => c.Line, c => c.Text);
            _file = file;
            _diagnostics = diagnostics;
        }

        public static SpecSyntax Parse(string text, SourceFile file, DiagnosticBag diagnostics)
        {
            var (tokens, comments) = Lexer.Lex(text, file, diagnostics);
            var parser = new Parser(tokens, comments, file, diagnostics);
            return new SpecSyntax(parser.ParseModels().ToEquatableArray(), file.LineStarts);
        }

        private Token Current => _tokens[_index];

        private Token Next => _tokens[System.Math.Min(_index + 1, _tokens.Count - 1)];

        private Token Advance()
        {
            Token token = Current;
            if (token.Kind != TokenKind.EndOfFile) _index++;
            return token;
        }

        private List<ModelSyntax> ParseModels()
        {
            var models = new List<ModelSyntax>();
            while (true)
            {
                SkipSeparators(commas: false);
                if (Current.Kind == TokenKind.EndOfFile) return models;
                if (IsWord(Current, "model"))
                {
                    models.Add(ParseModel());
                    continue;
                }
                if (Current.Kind != TokenKind.Bad)
                    Report(DiagnosticCatalogue.ExpectedModel, Current.Span, Current.Describe());
                SkipToNextModel();
            }
        }

        private ModelSyntax ParseModel()
        {
            int errorsBefore = _diagnostics.Items.Count;
            Token keyword = Advance();
            NameSyntax name = ParseModelName(keyword);
            NameSyntax? extends = null;
            if (IsWord(Current, "extends"))
            {
                Advance();
                if (Current.Kind == TokenKind.Identifier) extends = Name(Advance());
                else Report(DiagnosticCatalogue.ExpectedToken, Current.Span, "the name of the model to extend", Current.Describe());
            }
            var members = new List<MemberSyntax>();
            SkipSeparators(commas: false); // the brace may open on the next line, C# style
            if (Current.Kind == TokenKind.OpenBrace)
            {
                Token open = Advance();
                ParseBody(open, $"model '{name.Text}'", members);
            }
            else
            {
                Report(DiagnosticCatalogue.ExpectedToken, Current.Span, "'{'", Current.Describe());
                SkipToNextModel();
            }
            int end = _tokens[System.Math.Max(_index - 1, 0)].Span.End;
            var span = new TextSpan(keyword.Span.Start, System.Math.Max(end - keyword.Span.Start, keyword.Span.Length));
            bool hasErrors = _diagnostics.Items.Skip(errorsBefore).Any(d => d.Severity == Severity.Error)
                || _diagnostics.Items.Any(d => d.Severity == Severity.Error && d.Span.Start >= span.Start && d.Span.Start < span.End);
            return new ModelSyntax(name, extends, Summary(keyword), members.ToEquatableArray(), span, hasErrors);
        }

        private NameSyntax ParseModelName(Token keyword)
        {
            Token token = Current;
            if (token.Kind == TokenKind.Identifier && !IsWord(token, "extends")) return Name(Advance());
            if ((token.Kind == TokenKind.Number || token.Kind == TokenKind.Bad || token.Kind == TokenKind.String)
                && token.Span.Length > 0)
            {
                Advance();
                // "model 3Layer": the lexer saw an invalid number; as a name it is an invalid identifier.
                _diagnostics.Replace(DiagnosticCatalogue.InvalidNumber.Id,
                    _file.Create(DiagnosticCatalogue.InvalidModelName, token.Span, token.Describe()));
                return new NameSyntax(string.Empty, token.Span);
            }
            Report(DiagnosticCatalogue.ExpectedToken, token.Span, "a model name", token.Describe());
            return new NameSyntax(string.Empty, keyword.Span);
        }

        /// <summary>Members up to the closing '}' of <paramref name="open"/>.</summary>
        private void ParseBody(Token open, string owner, List<MemberSyntax> members)
        {
            while (true)
            {
                SkipSeparators(commas: true);
                Token token = Current;
                if (token.Kind == TokenKind.CloseBrace)
                {
                    Advance();
                    return;
                }
                if (token.Kind == TokenKind.EndOfFile || IsModelStart())
                {
                    Report(DiagnosticCatalogue.UnclosedBrace, open.Span, owner);
                    return;
                }
                MemberSyntax? member = IsWord(token, "let") && Next.Kind == TokenKind.Identifier
                    ? ParseLet()
                    : ParseAssignment(allowSelector: true);
                if (member != null) members.Add(member);
            }
        }

        private LetSyntax? ParseLet()
        {
            Token let = Advance();
            NameSyntax name = Name(Advance());
            if (!Expect(TokenKind.Equals, "'='")) return null;
            ValueSyntax? value = ParseValue();
            if (value == null) return null;
            EndMember();
            return new LetSyntax(name, value, Cover(let.Span, value.Span));
        }

        private AssignmentSyntax? ParseAssignment(bool allowSelector)
        {
            if (Current.Kind != TokenKind.Identifier)
            {
                if (Current.Kind != TokenKind.Bad) Report(DiagnosticCatalogue.ExpectedToken, Current.Span, "a key", Current.Describe());
                SkipMember();
                return null;
            }
            NameSyntax key = Name(Advance());
            SelectorSyntax? selector = null;
            if (allowSelector && Current.Kind == TokenKind.Identifier)
            {
                selector = ParseSelector();
                if (selector == null) return null;
            }
            if (!Expect(TokenKind.Equals, $"'=' after '{key.Text}'")) return null;
            ValueSyntax? value = ParseValue();
            if (value == null) return null;
            EndMember();
            return new AssignmentSyntax(key, selector, value, Cover(key.Span, value.Span));
        }

        private SelectorSyntax? ParseSelector()
        {
            Token word = Current;
            if (IsWord(word, "pattern"))
                return new PatternSelectorSyntax(Advance().Span);
            if (IsWord(word, "every"))
            {
                Advance();
                NumberSyntax? every = ExpectInteger("an integer after 'every'");
                if (every == null) return null;
                NumberSyntax? offset = null;
                if (IsWord(Current, "offset"))
                {
                    Advance();
                    offset = ExpectInteger("an integer after 'offset'");
                    if (offset == null) return null;
                }
                return new EverySelectorSyntax(every, offset, Cover(word.Span, (offset ?? every).Span));
            }
            if (IsWord(word, "at"))
            {
                Advance();
                if (!Expect(TokenKind.OpenBracket, "'[' after 'at'")) return null;
                var layers = new List<NumberSyntax>();
                while (true)
                {
                    SkipSeparators(commas: true);
                    if (Current.Kind == TokenKind.CloseBracket) break;
                    NumberSyntax? layer = ExpectInteger("a layer index or ']'");
                    if (layer == null) return null;
                    layers.Add(layer);
                }
                Token close = Advance();
                return new AtSelectorSyntax(layers.ToEquatableArray(), Cover(word.Span, close.Span));
            }
            Report(DiagnosticCatalogue.ExpectedToken, word.Span, "'=', 'every', 'at' or 'pattern'", word.Describe());
            SkipMember();
            return null;
        }

        private ValueSyntax? ParseValue()
        {
            Token token = Current;
            switch (token.Kind)
            {
                case TokenKind.Number:
                    Advance();
                    return new NumberSyntax(token.Text, token.Number, token.IsInteger, token.Span);
                case TokenKind.String:
                    Advance();
                    return new StringSyntax(token.Text, token.Span);
                case TokenKind.Identifier:
                    Advance();
                    if (Current.Kind != TokenKind.OpenBrace) return new IdentifierSyntax(token.Text, token.Span);
                    return Nested(() => ParseComponent(token));
                case TokenKind.OpenBracket:
                    return Nested(ParseList);
                case TokenKind.Bad:
                    SkipMember();
                    return null;
                default:
                    Report(DiagnosticCatalogue.ExpectedValue, token.Span, token.Describe());
                    SkipMember();
                    return null;
            }
        }

        private ValueSyntax? Nested(System.Func<ValueSyntax?> parse)
        {
            if (_depth == MaxNesting)
            {
                Report(DiagnosticCatalogue.NestingTooDeep, Current.Span, MaxNesting);
                SkipMember();
                return null;
            }
            _depth++;
            ValueSyntax? value = parse();
            _depth--;
            return value;
        }

        private ComponentSyntax ParseComponent(Token kind)
        {
            Token open = Advance();
            var arguments = new List<AssignmentSyntax>();
            while (true)
            {
                SkipSeparators(commas: true);
                if (Current.Kind == TokenKind.CloseBrace)
                {
                    Token close = Advance();
                    return new ComponentSyntax(Name(kind), arguments.ToEquatableArray(), Cover(kind.Span, close.Span));
                }
                if (Current.Kind == TokenKind.EndOfFile || IsModelStart())
                {
                    Report(DiagnosticCatalogue.UnclosedBrace, open.Span, $"'{kind.Text}'");
                    return new ComponentSyntax(Name(kind), arguments.ToEquatableArray(), Cover(kind.Span, _tokens[_index - 1].Span));
                }
                AssignmentSyntax? argument = ParseAssignment(allowSelector: false);
                if (argument != null) arguments.Add(argument);
            }
        }

        private ListSyntax? ParseList()
        {
            Token open = Advance();
            var items = new List<ValueSyntax>();
            while (true)
            {
                SkipSeparators(commas: true);
                if (Current.Kind == TokenKind.CloseBracket)
                {
                    Token close = Advance();
                    return new ListSyntax(items.ToEquatableArray(), Cover(open.Span, close.Span));
                }
                if (Current.Kind == TokenKind.EndOfFile || Current.Kind == TokenKind.CloseBrace || IsModelStart())
                {
                    Report(DiagnosticCatalogue.ExpectedToken, Current.Span, "']'", Current.Describe());
                    return null;
                }
                ValueSyntax? item = ParseValue();
                if (item == null) return null;
                items.Add(item);
            }
        }

        /// <summary>After a member: a newline, ',' or the closing '}' must follow.</summary>
        private void EndMember()
        {
            TokenKind kind = Current.Kind;
            if (kind == TokenKind.Newline || kind == TokenKind.Comma || kind == TokenKind.CloseBrace || kind == TokenKind.EndOfFile)
                return;
            if (kind != TokenKind.Bad) Report(DiagnosticCatalogue.ExpectedToken, Current.Span, "end of line or ','", Current.Describe());
            SkipMember();
        }

        private bool Expect(TokenKind kind, string what)
        {
            if (Current.Kind == kind)
            {
                Advance();
                return true;
            }
            if (Current.Kind != TokenKind.Bad) Report(DiagnosticCatalogue.ExpectedToken, Current.Span, what, Current.Describe());
            SkipMember();
            return false;
        }

        private NumberSyntax? ExpectInteger(string what)
        {
            Token token = Current;
            if (token.Kind == TokenKind.Number && token.IsInteger)
            {
                Advance();
                return new NumberSyntax(token.Text, token.Number, true, token.Span);
            }
            if (token.Kind != TokenKind.Bad) Report(DiagnosticCatalogue.ExpectedToken, token.Span, what, token.Describe());
            SkipMember();
            return null;
        }

        /// <summary>Skips the rest of a broken member: up to a newline or ',' outside brackets, or a '}' that closes
        /// the enclosing block (left for the caller).</summary>
        private void SkipMember()
        {
            int depth = 0;
            while (true)
            {
                Token token = Current;
                switch (token.Kind)
                {
                    case TokenKind.EndOfFile:
                        return;
                    case TokenKind.Newline:
                    case TokenKind.Comma:
                        if (depth == 0) return;
                        if (IsModelStartAfter(_index)) return;
                        break;
                    case TokenKind.OpenBrace:
                    case TokenKind.OpenBracket:
                        depth++;
                        break;
                    case TokenKind.CloseBrace:
                        if (depth == 0) return;
                        depth--;
                        break;
                    case TokenKind.CloseBracket:
                        // A stray ']' at depth 0 is skipped like any other token: returning on it without
                        // consuming it would leave the caller looping on the same token.
                        if (depth > 0) depth--;
                        break;
                }
                Advance();
            }
        }

        private void SkipToNextModel()
        {
            while (Current.Kind != TokenKind.EndOfFile && !IsModelStart()) Advance();
        }

        private void SkipSeparators(bool commas)
        {
            while (Current.Kind == TokenKind.Newline || commas && Current.Kind == TokenKind.Comma) Advance();
        }

        /// <summary>'model' first on its line, followed by a name: the next declaration (used to stop recovery).</summary>
        private bool IsModelStart() =>
            IsWord(Current, "model") && Next.Kind == TokenKind.Identifier
            && (_index == 0 || _tokens[_index - 1].Kind == TokenKind.Newline);

        private bool IsModelStartAfter(int newline) =>
            newline + 2 < _tokens.Count && IsWord(_tokens[newline + 1], "model") && _tokens[newline + 2].Kind == TokenKind.Identifier;

        /// <summary>The comment lines directly above the 'model' keyword, top to bottom.</summary>
        private EquatableArray<string> Summary(Token keyword)
        {
            int line = LineMap.Position(_file.LineStarts, keyword.Span.Start).Line;
            var lines = new List<string>();
            for (int l = line - 1; l >= 0 && _lineComments.TryGetValue(l, out string? text); l--)
                lines.Add(text.StartsWith(" ", System.StringComparison.Ordinal) ? text.Substring(1).TrimEnd() : text.TrimEnd());
            lines.Reverse();
            return lines.ToEquatableArray();
        }

        private void Report(DiagnosticDescriptor descriptor, TextSpan span, params object[] args) =>
            _diagnostics.Add(_file.Create(descriptor, span, args));

        private static bool IsWord(Token token, string word) => token.Kind == TokenKind.Identifier && token.Text == word;

        private static NameSyntax Name(Token token) => new NameSyntax(token.Text, token.Span);

        private static TextSpan Cover(TextSpan first, TextSpan last) => new TextSpan(first.Start, last.End - first.Start);
    }
}
