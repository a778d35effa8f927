using Bmojo.Dsl.Language.Diagnostics;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>Spec text with the expected diagnostic span marked as ⟦...⟧ (as Roslyn's tests mark theirs).</summary>
internal sealed record Markup(string Text, TextSpan Span, LinePosition Start, LinePosition End)
{
    public static Markup Parse(string markup)
    {
        int open = markup.IndexOf('⟦'), close = markup.IndexOf('⟧');
        if (open < 0 || close < open) throw new ArgumentException("markup needs one ⟦span⟧", nameof(markup));
        string text = markup.Remove(close, 1).Remove(open, 1);
        var span = new TextSpan(open, close - open - 1);
        return new Markup(text, span, Position(text, span.Start), Position(text, span.End));
    }

    /// <summary>Counted independently of the compiler's line table: '\n' ends a line.</summary>
    private static LinePosition Position(string text, int offset)
    {
        int line = 0, lineStart = 0;
        for (int i = 0; i < offset; i++)
            if (text[i] == '\n') (line, lineStart) = (line + 1, i + 1);
        return new LinePosition(line, offset - lineStart);
    }
}
