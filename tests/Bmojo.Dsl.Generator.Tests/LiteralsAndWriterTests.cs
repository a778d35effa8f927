using Bmojo.Dsl.Language.Emit;

namespace Bmojo.Dsl.Generator.Tests;

public sealed class SourceWriterTests
{
    [Fact]
    public void Blocks_indent_by_four_spaces_and_empty_lines_stay_empty()
    {
        var w = new SourceWriter();
        w.WriteLine("class C").OpenBlock().WriteLine("int x;").WriteLine().WriteLine("int y;").CloseBlock();
        Assert.Equal("class C\n{\n    int x;\n\n    int y;\n}\n", w.ToString());
    }

    [Fact]
    public void An_unclosed_block_or_a_line_break_inside_a_line_is_a_bug_caught_at_once()
    {
        Assert.Throws<InvalidOperationException>(() => new SourceWriter().OpenBlock().ToString());
        Assert.Throws<InvalidOperationException>(() => new SourceWriter().CloseBlock());
        Assert.Throws<ArgumentException>(() => new SourceWriter().WriteLine("a\nb"));
    }
}
