using Bmojo.Dsl.Language.Diagnostics;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>One case per catalogue id: the id, the exact message and the exact place (marked ⟦...⟧).</summary>
public sealed class DiagnosticTests
{
    // Lines 1-4; a case's own lines start at line 5.
    private const string Head = "model A {\n  vocab = 64\n  d_model = 64\n  layers = 4\n";

    public static TheoryData<string, string, string> Cases => new()
    {
        // Syntax
        { "BMJ0001", Head + "  mixer = mamba ⟦$⟧\n}", "unexpected character '$'" },
        { "BMJ0002", Head + "  mixer = bmojo { heads = 4, retrieval = retrieval { store = ⟦\"runs/store⟧\n}}\n}", "unterminated string: a string must end with '\"' on the same line" },
        { "BMJ0003", Head + "  norm_eps = ⟦1e⟧\n  mixer = mamba\n}", "invalid number '1e'" },
        { "BMJ0004", Head + "  mixer ⟦mamba⟧\n}", "expected '=', 'every', 'at' or 'pattern', got 'mamba'" },
        { "BMJ0005", "⟦modle⟧ A {\n}", "expected 'model', got 'modle'; a spec file holds only 'model Name { ... }' declarations" },
        { "BMJ0006", "model A ⟦{⟧\n  vocab = 64\n", "'{' of model 'A' is never closed: expected '}'" },
        { "BMJ0007", Head + "  mixer = ⟦,⟧\n}", "expected a value after '=', got ','" },
        { "BMJ0008", Head + "  mixer = bmojo { heads = 4, retrieval = retrieval { store = \"a⟦\\q⟧b\" } }\n}", "invalid escape '\\q' in string: only \\\" and \\\\ are allowed" },
        { "BMJ0009", Head + "  mixer = " + string.Concat(Enumerable.Repeat("a { k = ", 16)) + "b ⟦{⟧ }" + string.Concat(Enumerable.Repeat(" }", 16)) + "\n}", "components and lists nest deeper than 16 levels" },
        { "BMJ0010", Head + "  mixer = mamba\n" + string.Concat(Enumerable.Repeat("$ ", 100)) + "⟦$⟧ $ $\n}", "and 3 more errors in test.arch" },
        // Keys and types
        { "BMJ0100", Head + "  ⟦vocabs⟧ = 64\n  mixer = mamba\n}", "unknown key 'vocabs' in model; did you mean 'vocab'?" },
        { "BMJ0101", Head + "  mixer = bmojo { heads = 4, ⟦windw⟧ = 8 }\n}", "unknown key 'windw' in bmojo; did you mean 'window'?" },
        { "BMJ0102", Head + "  mixer = ⟦attentoin⟧ { heads = 4 }\n}", "unknown component 'attentoin'; did you mean 'attention'?" },
        { "BMJ0103", Head + "  ⟦vocab⟧ = 65\n  mixer = mamba\n}", "duplicate key 'vocab' (first set on line 2)" },
        { "BMJ0104", Head + "  mixer = attention { heads = ⟦yes⟧ }\n}", "'heads' expects an integer, got 'yes'" },
        { "BMJ0105", "model ⟦A⟧ {\n  d_model = 64\n  layers = 4\n  mixer = mamba\n}", "model 'A' needs 'vocab' (the vocabulary size)" },
        { "BMJ0106", Head + "  mixer = ⟦mlp⟧ { hidden = 4 }\n}", "'mixer' expects a mixer (attention, mamba, bmojo, bmojo_f, ssd), got 'mlp'" },
        { "BMJ0107", Head + "  let ssm = mamba\n  let ⟦ssm⟧ = mamba { d_state = 8 }\n  mixer = ssm\n}", "'ssm' is already defined by a let on line 5" },
        { "BMJ0108", Head + "  norm ⟦every 2⟧ = layernorm\n  mixer = mamba\n}", "'norm' is not a layer slot: only 'mixer' and 'mlp' take 'every', 'at' and 'pattern'" },
        { "BMJ0109", Head + "  mixer = bmojo_f { heads = 4, ⟦eidetic_capacity⟧ = 8 }\n}", "'eidetic_capacity' does not apply to bmojo_f: B'MOJO-F has no eidetic memory (use bmojo for it)" },
        { "BMJ0110", Head + "  let a = b { d_state = 8 }\n  let b = ⟦a⟧\n  mixer = a\n}", "let 'a' refers to itself: a -> b -> a" },
        { "BMJ0111", Head + string.Concat(Enumerable.Range(0, 65).Select(i => i == 63 ? "  let l63 = ⟦l64⟧\n" : $"  let l{i} = l{i + 1}\n")) + "  let l65 = mamba\n  mixer = l0\n}", "'l64' is defined through more than 64 lets" },
        // Values and ranges
        { "BMJ0200", Head + "  mixer = mamba { d_state = ⟦0⟧ }\n}", "d_state must be in 1..256, got 0" },
        { "BMJ0201", "model A {\n  vocab = 64\n  d_model = 1000\n  layers = 4\n  mixer = attention { heads = ⟦12⟧ }\n}", "heads (12) must divide d_model (1000)" },
        { "BMJ0202", Head + "  mixer = attention { heads = 4, kv_heads = ⟦3⟧ }\n}", "kv_heads (3) must divide heads (4)" },
        { "BMJ0203", Head + "  mixer = attention { heads = 4, rotary_dim = ⟦7⟧ }\n}", "rotary_dim (7) must be even and at most the head size (16)" },
        { "BMJ0204", Head + "  mixer = mamba\n  mlp = moe { experts = 4, top_k = ⟦5⟧ }\n}", "top_k (5) must be at most experts (4)" },
        { "BMJ0205", Head + "  mixer = mamba { dt_min = ⟦0.2⟧ }\n}", "dt_min (0.2) must be less than dt_max (0.1)" },
        { "BMJ0206", Head + "  mixer = bmojo { heads = 4, window = ⟦0⟧, fading_tokens = 0 }\n}", "bmojo needs window >= 1 or fading_tokens >= 1, so every query attends to at least one token" },
        { "BMJ0207", Head + "  mixer = attention { heads = 4, rope = false, rotary_dim = ⟦8⟧ }\n}", "rotary_dim is set but rope = false" },
        { "BMJ0208", Head + "  mixer = ssd { headdim = ⟦48⟧ }\n}", "headdim (48) must divide d_inner = expand * d_model (128)" },
        // Layer rules
        { "BMJ0300", Head + "  mixer = mamba\n  ⟦mixer⟧ pattern = [mamba]\n}", "'mixer' has two fill rules, on line 5 and line 6: keep one and state exceptions with 'every' or 'at'" },
        { "BMJ0301", "model A {\n  vocab = 64\n  d_model = 64\n  layers = 16\n  mixer = mamba\n  mixer every 8 offset 4 = attention { heads = 4 }\n  mixer ⟦at [4]⟧ = bmojo { heads = 4 }\n}", "mixer rules collide at layer 4: 'every 8 offset 4' (line 6) and 'at [4]' (line 7)" },
        { "BMJ0302", "model ⟦A⟧ {\n  vocab = 64\n  d_model = 64\n  layers = 4\n  mixer every 2 = mamba\n}", "layers 1, 3 without a mixer: add a fill rule 'mixer = ...' or cover them with 'every' / 'at' rules" },
        { "BMJ0303", Head + "  mixer = mamba\n  mixer at [0, ⟦4⟧] = attention { heads = 4 }\n}", "layer 4 is out of range: the model has 4 layers (0..3)" },
        { "BMJ0304", Head + "  mixer = mamba\n  mixer every 2 offset ⟦2⟧ = attention { heads = 4 }\n}", "'offset' must be at least 0 and less than 'every' (2), got 2" },
        { "BMJ0305", Head + "  mixer = mamba\n  mixer at [1, ⟦1⟧] = attention { heads = 4 }\n}", "layer 1 is listed twice in 'at'" },
        { "BMJ0306", Head + "  mixer = mamba\n  mixer ⟦every 8 offset 4⟧ = attention { heads = 4 }\n}", "rule 'every 8 offset 4' matches no layer of the 4 layers" },
        { "BMJ0307", Head + "  mixer pattern = ⟦[mamba, mamba, mamba, mamba, mamba]⟧\n}", "a pattern needs 1 to 4 entries (at most one per layer), got 5" },
        { "BMJ0308", Head + "  mixer = mamba\n  mixer at [2] = ⟦none⟧\n}", "every layer needs a mixer: 'mixer' cannot be none" },
        // Models and extends
        { "BMJ0400", "model A extends ⟦Transformr⟧ {\n}\nmodel Transformer {\n  vocab = 64\n  d_model = 64\n  layers = 2\n  mixer = mamba\n}", "model 'A' extends unknown model 'Transformr'; did you mean 'Transformer'?" },
        { "BMJ0401", Head + "  mixer = mamba\n}\nmodel ⟦A⟧ {\n}", "model 'A' is already declared at test.arch(1,7)" },
        { "BMJ0402", "model ⟦3Layer⟧ {\n}", "model name '3Layer' is not a valid C# identifier" },
        { "BMJ0403", "model ⟦class⟧ {\n  vocab = 64\n  d_model = 64\n  layers = 4\n  mixer = mamba\n}", "model name 'class' is a C# keyword" },
        { "BMJ0404", "model ⟦Bmojo⟧ {\n  vocab = 64\n  d_model = 64\n  layers = 4\n  mixer = mamba\n}", "model name 'Bmojo' is reserved: it would hide the root namespace 'Bmojo' in user code; try 'BMojo'" },
        { "BMJ0408", "model ⟦Settings⟧ {\n  vocab = 64\n  d_model = 64\n  layers = 4\n  mixer = mamba\n}", "model name 'Settings' is also the name of a member of the generated class or of LanguageModel, or of the registry class BmojoModels; choose another name" },
        { "BMJ0405", "model A extends ⟦B⟧ {\n}\nmodel B extends A {\n}", "extends cycle: A -> B -> A" },
        { "BMJ0406", "model ⟦tiny⟧ {\n  vocab = 64\n  d_model = 64\n  layers = 4\n  mixer = mamba\n}", "model name 'tiny' is all lower-case; C# warns on such type names (CS8981), use 'Tiny'" },
        { "BMJ0407", "⟦⟧# only a comment\n", "the spec file declares no model" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reports_the_id_message_and_place(string id, string markup, string message)
    {
        var expected = Markup.Parse(markup);
        var (_, diagnostics) = TestSpecs.Compile(expected.Text);
        Diagnostic diagnostic = Assert.Single(diagnostics, d => d.Id == id);
        Assert.Equal(message, diagnostic.Message);
        Assert.Equal("test.arch", diagnostic.Path);
        Assert.Equal(expected.Span, diagnostic.Span);
        Assert.Equal(expected.Start, diagnostic.Start);
        Assert.Equal(expected.End, diagnostic.End);
        Assert.Equal(DiagnosticCatalogue.All.Single(d => d.Id == id).Severity, diagnostic.Severity);
    }

    [Fact]
    public void Every_catalogue_id_has_a_case_and_ids_are_unique()
    {
        var tested = Cases.Select(row => (string)row[0]).Append(DiagnosticCatalogue.InternalError.Id).ToHashSet();
        Assert.Equal(DiagnosticCatalogue.All.Count, DiagnosticCatalogue.All.Select(d => d.Id).Distinct().Count());
        Assert.Equal(Array.Empty<string>(), DiagnosticCatalogue.All.Select(d => d.Id).Except(tested).ToArray());
    }

    [Fact]
    public void An_unexpected_failure_becomes_BMJ9999_at_the_start_of_the_file()
    {
        var broken = new ParsedSpec("broken.arch", null!, Plan.EquatableArray<Diagnostic>.Empty);
        BoundSpecs bound = SpecFrontEnd.Bind(new[] { broken }, "Test");
        Diagnostic diagnostic = Assert.Single(bound.Diagnostics);
        Assert.Equal("BMJ9999", diagnostic.Id);
        Assert.StartsWith("internal error in the spec compiler: NullReferenceException", diagnostic.Message);
        Assert.Equal(new LinePosition(0, 0), diagnostic.Start);
        Assert.Equal("broken.arch(1,1): error BMJ9999: " + diagnostic.Message, diagnostic.ToString());
        Assert.Empty(bound.Models);
    }

    [Fact]
    public void Prints_in_msbuild_format_with_one_based_line_and_column()
    {
        var (_, diagnostics) = TestSpecs.Compile(Head + "  mixer = mamba { d_state = 0 }\n}");
        Assert.Equal("test.arch(5,29): error BMJ0200: d_state must be in 1..256, got 0", Assert.Single(diagnostics).ToString());
    }

    [Fact]
    public void Warnings_leave_the_model_in_the_output()
    {
        var (models, diagnostics) = TestSpecs.Compile(Head + "  mixer = mamba\n  mixer every 8 offset 4 = attention { heads = 4 }\n}");
        Assert.Equal(Severity.Warning, Assert.Single(diagnostics).Severity);
        Assert.Single(models);
    }
}
