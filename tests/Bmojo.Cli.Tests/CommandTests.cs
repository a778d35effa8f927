using System.Text.RegularExpressions;

namespace Bmojo.Cli.Tests;

public sealed partial class CommandTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("bmojo-cli-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [GeneratedRegex(@"^.+\(\d+,\d+\): error BMJ\d{4}: .+$")]
    private static partial Regex DiagnosticLine();

    private static void AssertNoStackTrace(Cli.Result result)
    {
        Assert.DoesNotContain("   at ", result.Errors + result.Output);
        Assert.DoesNotContain("Exception", result.Errors + result.Output);
    }

    [Fact]
    public void Inspect_shows_the_layer_plan_parameters_and_memory_budget_of_a_canonical_spec()
    {
        Cli.Result result = Cli.Run("inspect", "BMojoTiny");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("BMojoTiny (compiled-in): vocab 64, d_model 64, 2 layers", result.Output);
        Assert.Contains("parameters: 184,384", result.Output);
        string[] rows = result.Output.Split('\n');
        // Each B'MOJO layer: SSM state 128·16 + 128·3 = 2,432; keys/values 2·4·16·(8 + 8 + 8) = 3,072.
        Assert.Contains(rows, r => r.Contains("│ 0 ") && r.Contains("bmojo(4 heads, w 8, m_f 8, m_e 8, d_state 16)") && r.Contains("2,432") && r.Contains("3,072") && r.Contains("5,504"));
        Assert.Contains(rows, r => r.Contains("│ 1 ") && r.Contains("5,504"));
        Assert.Contains(rows, r => r.Contains("│ all") && r.Contains("4,864") && r.Contains("6,144") && r.Contains("11,008"));
    }

    [Fact]
    public void Inspect_counts_full_attention_keys_and_values_at_the_given_length()
    {
        Cli.Result at64 = Cli.Run("inspect", "TransformerTiny", "--seq-len", "64");
        Cli.Result at512 = Cli.Run("inspect", "TransformerTiny", "--seq-len", "512");
        Assert.Contains("16,384", at64.Output);     // 2 layers · 2 · 4 heads · 16 · 64 tokens
        Assert.Contains("131,072", at512.Output);
    }

    [Fact]
    public void A_spec_with_errors_prints_each_diagnostic_in_msbuild_format_and_exits_non_zero()
    {
        string path = Path.Combine(directory, "broken.arch");
        File.WriteAllText(path, "model Broken extends Transformer {\n  vocab = 64\n  windw = 8\n  d_model = -3\n}\n");
        Cli.Result result = Cli.Run("inspect", path);
        Assert.Equal(1, result.ExitCode);
        string[] lines = result.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.Matches(DiagnosticLine(), line));
        Assert.Contains(lines, line => line.StartsWith($"{path}(3,3): error BMJ0100: ", StringComparison.Ordinal));
        AssertNoStackTrace(result);
    }

    [Fact]
    public void An_unknown_spec_name_lists_the_compiled_in_models()
    {
        Cli.Result result = Cli.Run("inspect", "BMojoTinny");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("unknown spec 'BMojoTinny': not a compiled-in model (", result.Errors);
        Assert.Contains("BMojoTiny", result.Errors);
        Assert.Equal("spec file 'missing/x.arch' does not exist", Cli.Run("inspect", "missing/x.arch").Errors.Trim());
    }

    [Theory]
    [InlineData("--grid", "huge", "--grid must be one of: small, standard, zoology (got 'huge')")]
    [InlineData("--task", "copying", "--task must be one of: mqar, lm (got 'copying')")]
    [InlineData("--threads", "0", "--threads must be positive (got 0)")]
    [InlineData("--steps", "-5", "--steps must be positive (got -5)")]
    public void A_bad_option_names_the_option_and_what_it_accepts(string option, string value, string message)
    {
        Cli.Result result = Cli.Run("train", "TransformerTiny", option, value);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(message, result.Errors);
        AssertNoStackTrace(result);
    }

    [Fact]
    public void A_value_of_the_wrong_type_is_reported_without_a_stack_trace()
    {
        Cli.Result result = Cli.Run("train", "TransformerTiny", "--steps", "many");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: --steps expects a number, got 'many'", result.Errors.Trim());
        AssertNoStackTrace(result);
        Assert.Equal("error: --lr expects a number, got 'fast'", Cli.Run("train", "TransformerTiny", "--lr=fast").Errors.Trim());
    }

    [Fact]
    public void An_unknown_option_is_refused_rather_than_ignored()
    {
        Cli.Result result = Cli.Run("train", "TransformerTiny", "--stepz", "3");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("stepz", result.Errors);
    }

    [Fact]
    public void Eval_of_a_missing_or_corrupt_checkpoint_says_so()
    {
        string missing = Path.Combine(directory, "none.safetensors");
        Cli.Result absent = Cli.Run("eval", "TransformerTiny", "--checkpoint", missing);
        Assert.Equal(1, absent.ExitCode);
        Assert.Equal($"checkpoint '{missing}' does not exist", absent.Errors.Trim());

        string corrupt = Path.Combine(directory, "bad.safetensors");
        File.WriteAllBytes(corrupt, [1, 2, 3]);
        Cli.Result bad = Cli.Run("eval", "TransformerTiny", "--checkpoint", corrupt);
        Assert.Equal(1, bad.ExitCode);
        Assert.StartsWith($"checkpoint '{corrupt}' is corrupt: ", bad.Errors.Trim());
        AssertNoStackTrace(bad);
    }
}
