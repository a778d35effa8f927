using System.ComponentModel;
using System.Reflection;
using System.Text.RegularExpressions;
using Bmojo.Cli.Commands;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Tests;

/// <summary>What a person reads (issue 15, "output"): the real process, its exit codes and messages; the help's
/// DEFAULT column; tables that stay whole in a pipe; the comparison plot's axes and title.</summary>
public sealed class TrustworthyOutputTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "bmojo-output-" + Guid.NewGuid().ToString("N"));

    public TrustworthyOutputTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    // Spec loading

    [Fact]
    public void A_file_of_garbage_prints_100_errors_then_how_many_more()
    {
        string path = Path.Combine(_dir, "garbage.arch");
        var random = new Random(7);
        File.WriteAllBytes(path, Enumerable.Range(0, 200_000).Select(_ => (byte)random.Next(256)).ToArray());

        BmojoProcess.Result result = BmojoProcess.Run("inspect", path);

        Assert.True(result.ExitCode == ExitCodes.InputError, result.ToString());
        string[] lines = result.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(101, lines.Length);
        Assert.All(lines[..100], line => Assert.StartsWith(path + "(", line));
        Assert.Matches($@"^and \d+ more errors in {Regex.Escape(path)}$", lines[100]);
    }

    [Fact]
    public void A_directory_as_SPEC_says_it_is_one()
    {
        BmojoProcess.Result result = BmojoProcess.Run("inspect", _dir);
        Assert.Equal(ExitCodes.InputError, result.ExitCode);
        Assert.Equal($"'{_dir}' is a directory; give a .arch file", result.Errors.Trim());
    }

    [Fact]
    public void The_capped_listing_counts_the_front_ends_BMJ0010_in_the_rest()
    {
        var diagnostics = Enumerable.Range(0, 100)
            .Select(i => new Dsl.Language.Diagnostics.Diagnostic("BMJ0001", Dsl.Language.Diagnostics.Severity.Error, "x", "a.arch",
                new(i, 1), new(0, i), new(0, i + 1)))
            .Append(new Dsl.Language.Diagnostics.Diagnostic("BMJ0010", Dsl.Language.Diagnostics.Severity.Error,
                "and 41 more errors in a.arch", "a.arch", new(100, 1), new(0, 100), new(0, 101)) { Hidden = 41 })
            .Append(new Dsl.Language.Diagnostics.Diagnostic("BMJ0400", Dsl.Language.Diagnostics.Severity.Error, "y", "a.arch",
                new(200, 1), new(1, 0), new(1, 1)))
            .Append(new Dsl.Language.Diagnostics.Diagnostic("BMJ0400", Dsl.Language.Diagnostics.Severity.Error, "z", "b.arch",
                new(0, 1), new(0, 0), new(0, 1)))
            .ToList();
        string[] lines = Models.SpecLoader.Capped(diagnostics).ToArray();
        Assert.Equal(102, lines.Length);
        Assert.Equal("and 42 more errors in a.arch", lines[100]);
        Assert.Equal("b.arch(1,1): error BMJ0400: z", lines[101]);
    }

    // Exit codes and version

    [Fact]
    public void Compare_with_one_model_is_a_usage_error()
    {
        BmojoProcess.Result result = BmojoProcess.Run("compare", "TransformerTiny", "--steps", "1", "--out", _dir);
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("compare needs two or more models, got 1 (TransformerTiny)", result.Errors);
        Assert.Contains("Two or more models", BmojoProcess.Run("compare", "--help").Output);
    }

    [Theory]
    [InlineData(ExitCodes.Usage, "inspect", "BMojoTiny", "--no-such-option")]
    [InlineData(ExitCodes.Usage, "train", "BMojoTiny", "--steps", "many")]
    [InlineData(ExitCodes.Usage, "no-such-command")]
    [InlineData(ExitCodes.InputError, "inspect", "missing/x.arch")]
    public void Exit_codes_follow_the_convention(int expected, params string[] args)
    {
        BmojoProcess.Result result = BmojoProcess.Run(args);
        Assert.True(result.ExitCode == expected, result.ToString());
        Assert.NotEqual("", result.Errors.Trim() + result.Output.Trim());
    }

    [Fact]
    public void Version_prints_the_informational_version()
    {
        BmojoProcess.Result result = BmojoProcess.Run("--version");
        Assert.Equal(0, result.ExitCode);
        string expected = typeof(BmojoApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        Assert.Equal(expected, result.Output.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+", expected);
    }

    // Help

    public static TheoryData<Type> SettingsTypes() => new(BmojoApp.SettingsTypes.Values.Distinct());

    [Theory]
    [MemberData(nameof(SettingsTypes))]
    public void Every_option_with_a_default_shows_it_in_the_help(Type settingsType)
    {
        object settings = Activator.CreateInstance(settingsType)!;
        var missing = new List<string>();
        foreach (PropertyInfo property in settingsType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<CommandOptionAttribute>() is not { IsHidden: false } option) continue;
            if (property.PropertyType == typeof(bool)) continue;   // a flag: off unless given
            string name = option.LongNames[0];
            object? initial = property.GetValue(settings);
            string description = property.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "";
            bool hasDefault = initial is not (null or "") || description.Contains("default", StringComparison.OrdinalIgnoreCase);
            object? shown = BmojoHelpProvider.ShownDefault(settingsType, name);
            if (hasDefault && shown is null) missing.Add($"--{name} (initial '{initial}')");
            if (property.GetCustomAttribute<DefaultValueAttribute>() is { } value && !Equals(value.Value, initial))
                missing.Add($"--{name}: [DefaultValue({value.Value})] but the property starts at '{initial}'");
        }
        Assert.True(missing.Count == 0, $"{settingsType.Name}: {string.Join("; ", missing)}");
    }

    [Fact]
    public void The_help_shows_computed_defaults_in_its_DEFAULT_column()
    {
        BmojoProcess.Result result = BmojoProcess.Run("train", "--help");
        Assert.Equal(0, result.ExitCode);
        string[] lines = result.Output.Split('\n');
        Assert.Contains(lines, line => line.Contains("DEFAULT"));
        Assert.Matches(@"--steps <N>\s+train 600, compare 200\s+Optimizer steps", result.Output);
        Assert.Matches(@"--lr <LR>\s+3e-3\s+Peak learning rate", result.Output);
    }

    // Tables in a pipe

    [Fact]
    public void A_table_printed_into_a_pipe_keeps_each_row_on_one_line()
    {
        BmojoProcess.Result result = BmojoProcess.Run("inspect", "BMojoTiny");
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] rows = result.Output.Split('\n').Where(line => line.Contains("bmojo(4 heads")).ToArray();
        Assert.Equal(2, rows.Length);
        Assert.All(rows, row => Assert.Matches(@"mlp\(256, gelu\).*2,432.*3,072.*5,504", row));
    }

    [Fact]
    public void COLUMNS_sets_the_width_of_what_is_printed()
    {
        BmojoProcess.Result result = BmojoProcess.Run(new Dictionary<string, string?> { ["COLUMNS"] = "60" }, "inspect", "BMojoTiny");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.All(result.Output.Split('\n'), line => Assert.True(line.TrimEnd('\r').Length <= 60, $"{line.Length}: {line}"));
    }

    [Theory]
    [InlineData(null, false, null)]
    [InlineData(null, true, ConsoleWidth.Unbounded)]
    [InlineData("120", false, 120)]
    [InlineData("120", true, 120)]
    [InlineData("wide", true, ConsoleWidth.Unbounded)]
    [InlineData("3", false, null)]
    public void The_width_is_COLUMNS_else_unbounded_off_a_terminal(string? columns, bool redirected, int? expected) =>
        Assert.Equal(expected, ConsoleWidth.Resolve(columns, redirected));

    // The comparison plot

    [Theory]
    [InlineData(new[] { 2.0, 3.5 }, 3.125, 5)]
    [InlineData(new[] { 12.0, 31.0 }, 3.125, 35)]
    [InlineData(new[] { 62.0 }, 3.125, 70)]
    [InlineData(new[] { 99.0, 100.0 }, 3.125, 105)]
    [InlineData(new double[0], 3.125, 5)]
    public void The_accuracy_axis_is_fitted_to_the_data_with_0_as_floor(double[] accuracies, double chance, double top) =>
        Assert.Equal(top, ComparisonPlot.TopOfAxis(accuracies, chance));

    [Fact]
    public void Chance_is_one_of_the_value_tokens()
    {
        Assert.Equal(100.0 / 32, ComparisonPlot.ChancePercent(64));
        Assert.Equal(100.0 / 4096, ComparisonPlot.ChancePercent(8192));
    }

    [Fact]
    public void The_title_states_the_budget()
    {
        TrainingOptions options = TrainingOptions.Default(MqarGridKind.Small) with { Steps = 200, Batch = 16 };
        string budget = ComparisonPlot.Budget(options, perSetting: false, epochs: null);
        Assert.Equal("200 steps x batch 16 = 3,200 sequences per model", budget);
        Assert.Equal("MQAR, sequence length 64\n200 steps x batch 16 = 3,200 sequences per model",
                     ComparisonPlot.Title([new MqarConfig(64, 4), new MqarConfig(64, 8)], budget));
        Assert.Equal("64 epochs of 100,000 examples per setting and model",
                     ComparisonPlot.Budget(options with { TrainExamples = 100_000 }, perSetting: true, epochs: 64));
    }
}
