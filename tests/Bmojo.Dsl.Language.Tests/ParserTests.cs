using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Tests;

public sealed class ParserTests
{
    private static ParsedSpec Parse(string text) => SpecFrontEnd.Parse(new SpecSource("t.arch", text));

    [Fact]
    public void Parses_a_model_with_lets_rules_selectors_and_components()
    {
        const string text = """
            # Line one of the summary.
            # Line two.
            model Jamba extends Base {
              layers = 16, norm_eps = 1e-5
              let ssm = mamba { d_state = 16
                                expand = 2 }
              mixer = ssm
              mixer every 8 offset 4 = attention { heads = 16 }
              mixer at [0, 5] = ssm { d_state = 8 }
              mlp pattern = [none, moe { experts = 4 }]
            }
            """;
        ParsedSpec parsed = Parse(text);
        Assert.Empty(parsed.Diagnostics);
        ModelSyntax model = Assert.Single(parsed.Syntax.Models);
        Assert.Equal("Jamba", model.Name.Text);
        Assert.Equal("Base", model.Extends!.Text);
        Assert.Equal(new[] { "Line one of the summary.", "Line two." }, model.Summary);
        Assert.False(model.HasErrors);
        Assert.Equal(7, model.Members.Count);

        var layers = Assert.IsType<AssignmentSyntax>(model.Members[0]);
        Assert.Equal("layers", layers.Key.Text);
        Assert.Equal(new NumberSyntax("16", 16, true, layers.Value.Span), layers.Value);
        Assert.Equal(1e-5, Assert.IsType<NumberSyntax>(((AssignmentSyntax)model.Members[1]).Value).Value);

        var let = Assert.IsType<LetSyntax>(model.Members[2]);
        var mamba = Assert.IsType<ComponentSyntax>(let.Value);
        Assert.Equal(new[] { "d_state", "expand" }, mamba.Arguments.Select(a => a.Key.Text));

        var fill = (AssignmentSyntax)model.Members[3];
        Assert.Null(fill.Selector);
        Assert.Equal("ssm", Assert.IsType<IdentifierSyntax>(fill.Value).Name);

        var every = Assert.IsType<EverySelectorSyntax>(((AssignmentSyntax)model.Members[4]).Selector);
        Assert.Equal((8.0, 4.0), (every.Every.Value, every.Offset!.Value));
        Assert.Equal("every 8 offset 4", text.Substring(every.Span.Start, every.Span.Length));

        var at = Assert.IsType<AtSelectorSyntax>(((AssignmentSyntax)model.Members[5]).Selector);
        Assert.Equal(new[] { 0.0, 5.0 }, at.Layers.Select(l => l.Value));

        var pattern = (AssignmentSyntax)model.Members[6];
        Assert.IsType<PatternSelectorSyntax>(pattern.Selector);
        var list = Assert.IsType<ListSyntax>(pattern.Value);
        Assert.Equal("none", Assert.IsType<IdentifierSyntax>(list.Items[0]).Name);
        Assert.Equal("moe", Assert.IsType<ComponentSyntax>(list.Items[1]).Kind.Text);
    }

    [Fact]
    public void Summary_is_only_the_comment_block_directly_above_the_model()
    {
        ParsedSpec parsed = Parse("# file header\n\n# A's summary\nmodel A {\n}\n# B's summary\nmodel B { }  # not this\n");
        Assert.Equal(new[] { "A's summary" }, parsed.Syntax.Models[0].Summary);
        Assert.Equal(new[] { "B's summary" }, parsed.Syntax.Models[1].Summary);
    }

    [Fact]
    public void Recovers_after_errors_and_reports_each_in_one_pass()
    {
        const string text = "model A {\n  vocab = \n  d_model 64\n  layers = 4 4\n  mixer = mamba\n}\nmodel B {\n  vocab = 64\n}\n";
        ParsedSpec parsed = Parse(text);
        Assert.Equal(
            new[]
            {
                "t.arch(2,11): error BMJ0007: expected a value after '=', got end of line",
                "t.arch(3,11): error BMJ0004: expected '=' after 'd_model', got '64'",
                "t.arch(4,14): error BMJ0004: expected end of line or ',', got '4'",
            },
            parsed.Diagnostics.Select(d => d.ToString()));
        Assert.Equal(new[] { "A", "B" }, parsed.Syntax.Models.Select(m => m.Name.Text));
        Assert.True(parsed.Syntax.Models[0].HasErrors);
        Assert.False(parsed.Syntax.Models[1].HasErrors);
        Assert.Equal(new[] { "layers", "mixer" }, parsed.Syntax.Models[0].Members.Cast<AssignmentSyntax>().Select(m => m.Key.Text));
    }

    [Fact]
    public void An_unclosed_model_stops_at_the_next_model()
    {
        ParsedSpec parsed = Parse("model A {\n  vocab = 64\nmodel B {\n}\n");
        Diagnostic diagnostic = Assert.Single(parsed.Diagnostics);
        Assert.Equal("BMJ0006", diagnostic.Id);
        Assert.Equal(new[] { "A", "B" }, parsed.Syntax.Models.Select(m => m.Name.Text));
        Assert.False(parsed.Syntax.Models[1].HasErrors);
    }

    [Fact]
    public void The_model_brace_may_open_on_the_next_line()
    {
        ParsedSpec parsed = Parse("model A extends B\n{\n  vocab = 64\n}\n");
        Assert.Empty(parsed.Diagnostics);
        Assert.Equal("vocab", ((AssignmentSyntax)Assert.Single(parsed.Syntax.Models).Members[0]).Key.Text);
    }

    [Fact]
    public void Syntax_trees_compare_by_value()
    {
        const string text = "model A {\n  mixer = attention { heads = 4 }\n}";
        Assert.Equal(Parse(text), Parse(text));
        Assert.NotEqual(Parse(text).Syntax, Parse(text.Replace("4", "8")).Syntax);
    }
}
