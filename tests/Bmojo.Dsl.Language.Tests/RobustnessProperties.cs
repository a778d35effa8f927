using Bmojo.Dsl.Language.Diagnostics;
using FsCheck.Xunit;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>Whatever the text, the front end returns (no exception, no internal error) and every diagnostic points
/// inside the file it names, with a line/col that matches its offset.</summary>
public sealed class RobustnessProperties
{
    private static readonly string[] Fragments =
    {
        "model", "extends", "let", "every", "offset", "at", "pattern", "mixer", "mlp", "none", "true", "false", "inf", "-inf",
        "attention", "mamba", "bmojo", "bmojo_f", "moe", "retrieval", "heads", "d_model", "vocab", "layers", "window",
        "A", "Bmojo", "class", "{", "}", "[", "]", "=", ",", "\n", "\r\n", " ", "#c\n", "\"s\"", "\"open", "\\", "0", "4", "-1",
        "1e-5", "1e", "12ab", "50_280", "1e999", ".5", "-", "$", "\t", "é", "\u00A0", "\uD83D\uDE00", "\uD83D",
    };

    private static readonly string MutationAlphabet = "{}[]=,\n\r#\"-._e0123456789 abcz$\t\\";

    private static readonly (string Path, string Text)[] RealSpecs =
        TestSpecs.SpecPaths().Select(p => ("specs/" + Path.GetFileName(p), File.ReadAllText(p))).ToArray();

    [Property(MaxTest = 400)]
    public void Token_soups_are_handled(int[] picks)
    {
        string text = string.Concat((picks ?? []).Select(p => Fragments[(int)((uint)p % Fragments.Length)]));
        AssertWellFormed([("soup.arch", text)]);
    }

    [Property(MaxTest = 400)]
    public void Mutated_real_specs_are_handled(int spec, int[] edits)
    {
        int index = (int)((uint)spec % RealSpecs.Length);
        var text = new System.Text.StringBuilder(RealSpecs[index].Text);
        edits ??= [];
        for (int e = 0; e + 2 < edits.Length; e += 3)
        {
            int position = text.Length == 0 ? 0 : (int)((uint)edits[e + 1] % (text.Length + 1));
            char c = MutationAlphabet[(int)((uint)edits[e + 2] % MutationAlphabet.Length)];
            switch ((uint)edits[e] % 3)
            {
                case 0 when position < text.Length: text.Remove(position, 1); break;
                case 1: text.Insert(position, c); break;
                case 2 when position < text.Length: text[position] = c; break;
            }
        }
        var files = RealSpecs.ToArray();
        files[index] = (files[index].Path, text.ToString());
        AssertWellFormed(files);
    }

    [Property(MaxTest = 50)]
    public void The_order_of_the_files_does_not_change_the_models(int seed)
    {
        var shuffled = RealSpecs.ToArray();
        new Random(seed).Shuffle(shuffled);
        var (models, diagnostics) = TestSpecs.Compile(shuffled);
        Assert.Empty(diagnostics);
        Assert.Equal(TestSpecs.CompileRepositorySpecs().Models.OrderBy(m => m.Name), models.OrderBy(m => m.Name));
    }

    [Theory]
    [InlineData("[")]
    [InlineData("a { k = ")]
    public void Deep_nesting_is_an_error_not_a_stack_overflow(string opener)
    {
        string text = "model A {\n  mixer = " + string.Concat(Enumerable.Repeat(opener, 100_000)) + "\n}";
        var (models, diagnostics) = TestSpecs.Compile(text);
        Assert.Contains(diagnostics, d => d.Id == "BMJ0009");
        Assert.Empty(models);
        AssertWellFormed([("test.arch", text)]);
    }

    private static void AssertWellFormed((string Path, string Text)[] files)
    {
        var (_, diagnostics) = TestSpecs.Compile(files);
        var texts = files.ToDictionary(f => f.Path, f => f.Text);
        foreach (Diagnostic diagnostic in diagnostics)
        {
            Assert.NotEqual(DiagnosticCatalogue.InternalError.Id, diagnostic.Id);
            Assert.Contains(DiagnosticCatalogue.All, d => d.Id == diagnostic.Id);
            string text = texts[diagnostic.Path];
            Assert.InRange(diagnostic.Span.Start, 0, text.Length);
            Assert.InRange(diagnostic.Span.End, diagnostic.Span.Start, text.Length);
            Assert.Equal(Position(text, diagnostic.Span.Start), diagnostic.Start);
            Assert.Equal(Position(text, diagnostic.Span.End), diagnostic.End);
        }
    }

    /// <summary>Line/col counted independently: "\r\n", "\n" and "\r" end a line.</summary>
    private static LinePosition Position(string text, int offset)
    {
        int line = 0, lineStart = 0;
        for (int i = 0; i < offset; i++)
        {
            if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n') continue;
            if (text[i] == '\n' || text[i] == '\r') (line, lineStart) = (line + 1, i + 1);
        }
        return new LinePosition(line, offset - lineStart);
    }
}
