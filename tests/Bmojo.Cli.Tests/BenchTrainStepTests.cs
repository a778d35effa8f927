using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Bmojo.Bench;
using Bmojo.Cli.Commands;
using Bmojo.Cli.Training;
using Bmojo.Models;
using Bmojo.Runtime;
using Bmojo.Runtime.Mixers;
using static TorchSharp.torch;

namespace Bmojo.Cli.Tests;

/// <summary><c>bmojo bench train-step</c> and the <c>Bmojo.Bench</c> library behind it, on the CPU with the tiny specs.</summary>
public sealed partial class BenchTrainStepTests
{
    // A summary row: model, parameters, median step ms, "min-max, n=N", tokens/s, ratio, memory, kernel paths.
    [GeneratedRegex(@"^(?<model>\w+)\s+(?<parameters>[\d,]+)\s+(?<ms>[\d.]+)\s+[\d.]+-[\d.]+, n=(?<n>\d+)\s+(?<rate>[\d,]+)\s+(?<ratio>[\d.]+)\s+n/a\s+(?<paths>.+)$")]
    private static partial Regex SummaryRow();

    private static Dictionary<string, Match> SummaryRows(string output) =>
        output.Split('\n').SkipWhile(l => !l.StartsWith("summary (", StringComparison.Ordinal))
              .Select(l => SummaryRow().Match(l.TrimEnd())).Where(m => m.Success)
              .ToDictionary(m => m.Groups["model"].Value);

    [Fact]
    public void The_quick_run_prints_a_row_per_tiny_model_with_a_positive_time_and_its_generated_parameter_count()
    {
        Cli.Result result = Cli.Run("bench", "train-step", "--quick", "--cpu");
        Assert.True(result.ExitCode == 0, result.Errors + result.Text);
        Dictionary<string, Match> rows = SummaryRows(result.Text);
        var expected = new Dictionary<string, long>
        {
            ["BMojoTiny"] = BMojoTiny.ParameterCount,
            ["TransformerTiny"] = TransformerTiny.ParameterCount,
            ["MambaTiny"] = MambaTiny.ParameterCount,
        };
        Assert.Equal(expected.Keys.Order(), rows.Keys.Order());
        foreach ((string model, long parameters) in expected)
        {
            Match row = rows[model];
            Assert.Equal(parameters, long.Parse(row.Groups["parameters"].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture));
            double ms = double.Parse(row.Groups["ms"].Value, CultureInfo.InvariantCulture);
            Assert.True(double.IsFinite(ms) && ms > 0, $"{model}: step {ms} ms");
            Assert.Equal("3", row.Groups["n"].Value);
        }
        Assert.Equal("1.00", rows["TransformerTiny"].Groups["ratio"].Value);
        Assert.Equal("scan Cpu x2; B'MOJO attention Blockwise x2", rows["BMojoTiny"].Groups["paths"].Value);
        Assert.Equal("attention torch SDPA x2", rows["TransformerTiny"].Groups["paths"].Value);
        Assert.Equal("scan Cpu x4", rows["MambaTiny"].Groups["paths"].Value);
        Assert.Contains("bf16 parameters and activations", result.Text);
        Assert.Contains("target: BMojoTiny / TransformerTiny step time = ", result.Text);
        foreach (string part in new[] { "breakdown of BMojoTiny", "  its SSM alone (MambaMixer)", "breakdown of MambaTiny",
                                        "attention mixer (4 heads)", "AdamW step (timed alone)", "where the steps go" })
            Assert.Contains(part, result.Text);
    }

    [Fact]
    public void The_breakdown_times_the_mamba2_ssd_mixer_by_its_kind()
    {
        var options = TrainingStepOptions.Quick with { Batch = 2, Length = 16 };
        var output = new StringWriter();
        IReadOnlyList<BreakdownRow> rows = new LayerBreakdown(options, CPU, new DeviceTimer(CPU), output).Measure(Mamba2Tiny.SpecSettings);
        BreakdownRow mixer = Assert.Single(rows, r => r.Kind == BreakdownKind.Mixer);
        Assert.Equal("Mamba-2 SSD mixer (d_state 16, 8 heads of 16, chunk 16)", mixer.Part);   // as `bmojo inspect` describes it
        Assert.True(mixer.Note is null && mixer.Seconds > 0, mixer.Note);
        Assert.Equal(4, mixer.Count);
        Assert.DoesNotContain("unknown mixer", output.ToString());
    }

    [Theory]
    [InlineData("--models", "BMojo,Mamab", "--models: unknown model 'Mamab' (known: ")]
    [InlineData("--batch", "0", "--batch must be positive (got 0)")]
    [InlineData("--length", "-64", "--length must be positive (got -64)")]
    [InlineData("--steps", "0", "--steps must be positive (got 0)")]
    [InlineData("--dtype", "fp16", "--dtype must be one of: bf16, fp32 (got 'fp16')")]
    [InlineData("--time-limit", "0", "--time-limit must be a positive number of seconds (got 0)")]
    [InlineData("--batch", "eight", "--batch expects a number, got 'eight'")]
    public void A_bad_option_is_refused_with_a_clear_error(string option, string value, string message)
    {
        Cli.Result result = Cli.Run("bench", "train-step", "--quick", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Errors);
        Assert.DoesNotContain("   at ", result.Errors);
        Assert.Equal("", result.Text);                              // refused before anything ran
        if (option == "--models") Assert.Contains($"(known: {BenchModels.Names})", result.Errors);
    }

    [Theory]
    [InlineData("--isolate --in-process", "--isolate and --in-process exclude each other")]
    [InlineData("--child", "--child measures one model: give it --models NAME")]
    [InlineData("--child --models BMojoTiny,MambaTiny", "--child measures one model: give it --models NAME")]
    [InlineData("--fast", "Unknown option 'fast'")]
    public void Conflicting_process_options_are_refused(string args, string message)
    {
        Cli.Result result = Cli.Run(["bench", "train-step", "--quick", .. args.Split(' ')]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Errors);
        Assert.Equal("", result.Text);
    }

    [Fact]
    public void The_settings_take_the_quick_defaults_off_cuda_and_the_issues_setting_on_it()
    {
        var none = new BenchTrainStepSettings();
        Assert.Equal(TrainingStepOptions.Quick, none.Options(onCuda: false));
        Assert.Equal(TrainingStepOptions.Full, none.Options(onCuda: true));
        Assert.Equal((false, true), (none.Processes(onCuda: false), none.Processes(onCuda: true)));   // a process per model on CUDA
        Assert.Equal(new[] { "BMojo", "Transformer", "Mamba" }, TrainingStepOptions.Full.Models);
        Assert.Equal(new[] { "BMojoTiny", "TransformerTiny", "MambaTiny" }, TrainingStepOptions.Quick.Models);
        Assert.Equal((4, 2048, ScalarType.BFloat16), (TrainingStepOptions.Full.Batch, TrainingStepOptions.Full.Length, TrainingStepOptions.Full.Dtype));

        var given = new BenchTrainStepSettings { Models = "mamba, transformer", Batch = 2, Dtype = "fp32", Isolate = true };
        TrainingStepOptions options = given.Options(onCuda: true);
        Assert.Equal(new[] { "Mamba", "Transformer" }, options.Models);                // the generated names, whatever the case given
        Assert.Equal((2, 2048, ScalarType.Float32, true), (options.Batch, options.Length, options.Dtype, given.Processes(onCuda: false)));
        Assert.False(new BenchTrainStepSettings { InProcess = true }.Processes(onCuda: true));
    }

    [Fact]
    public void A_model_that_runs_out_of_memory_gets_a_failed_row_and_the_others_still_run()
    {
        var options = TrainingStepOptions.Quick with { Steps = 1, Warmup = 1, Breakdown = false };
        var output = new StringWriter();
        var bench = new TrainingStepBenchmark(options, CPU, output);
        var failing = new ModelEntry("Exhausted", TransformerTiny.SpecSettings with { Name = "Exhausted" },
                                     (_, _) => throw new ExternalException("CUDA out of memory. Tried to allocate 20.00 GiB\nmore text"));
        TrainingStepResult failed = bench.Measure(failing, 60, baseline: null);
        TrainingStepResult ok = bench.Measure(BenchModels.Find("TransformerTiny")!, 60, baseline: null);
        Assert.Equal("out of device memory (CUDA out of memory. Tried to allocate 20.00 GiB)", failed.Error);
        Assert.Null(failed.StepSeconds);
        Assert.Null(ok.Error);

        TrainingStepReport.Write([failed, ok], options, output, sharedProcess: false);
        string[] lines = output.ToString().Split('\n').Select(l => l.TrimEnd()).ToArray();
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^Exhausted\s+103,040\s+FAILED"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^TransformerTiny\s+103,040\s+[\d.]+\s"));
        Assert.Contains("  Exhausted failed: out of device memory (CUDA out of memory. Tried to allocate 20.00 GiB)", lines);
    }

    [Fact]
    public void Each_model_can_run_in_a_process_of_its_own()
    {
        // What `bmojo bench train-step` does on CUDA: `bmojo bench train-step --child` per model (here the bmojo.dll beside
        // the tests, on the CPU); the child reads back the options it is given (2 timed steps, not the quick default's 3).
        var options = TrainingStepOptions.Quick with { Models = ["TransformerTiny", "MambaTiny"], Steps = 2, Warmup = 1, Breakdown = false };
        var output = new StringWriter();
        IReadOnlyList<TrainingStepResult> results =
            new TrainingStepProcesses(options, cpu: true, output, BenchTrainStepCommand.ChildCommand()).Run("cpu");
        Assert.Equal(new[] { "TransformerTiny", "MambaTiny" }, results.Select(r => r.Model));
        Assert.All(results, r => Assert.True(r.Error is null && r.StepSeconds?.Median > 0, r.Error));
        Assert.All(results, r => Assert.Equal(2, r.StepSeconds!.Value.Runs));
        Assert.All(results, r => Assert.Equal(options.TokensPerStep, r.Tokens));
        Assert.Equal(MambaTiny.ParameterCount, results[1].Parameters);
        Assert.Equal("scan Cpu x4", results[1].Paths);
        Assert.Contains("  TransformerTiny: warm-up step 1: ", output.ToString());            // the child's lines, forwarded
        Assert.Equal(new[] { "TransformerTiny", "MambaTiny" }, SummaryRows(output.ToString()).Keys);
    }

    [Fact]
    public void A_childs_result_line_reads_back_as_the_same_result()
    {
        var result = new TrainingStepResult("BMojo", 350_364_672, null, new Timing(1.25, 1.2, 1.5, 10), 16_384, 42L << 30,
                                            "scan Fused x14; B'MOJO attention Blockwise x14", 12.5, 0.02,
                                            [new BreakdownRow("MLP", BreakdownKind.FeedForward, 0.01, 14, true),
                                             new BreakdownRow("  its SSM", BreakdownKind.Mixer, null, 14, false, "failed")]);
        string line = TrainingStepProcesses.ResultLine(result);
        Assert.DoesNotContain('\n', line);
        TrainingStepResult back = TrainingStepProcesses.ParseResult(line)!;
        IReadOnlyList<BreakdownRow> none = [];
        Assert.Equal(result with { Breakdown = none }, back with { Breakdown = none });
        Assert.Equal(result.Breakdown, back.Breakdown);
        Assert.Null(TrainingStepProcesses.ParseResult("BMojo: warm-up step 1: 10.0 ms"));
    }

    [Fact]
    public void The_benchmarks_optimizer_decays_the_same_parameters_as_bmojo_train()
    {
        foreach (nn.Module model in new nn.Module[] { new BMojoTiny(), new JambaTiny(), new TransformerTiny() })
        {
            Assert.Equal(OptimizerFactory.Decayed(model).Order(), TrainingOptimizer.Decayed(model).Order());
            model.Dispose();
        }
    }

    [Fact]
    public void A_bf16_step_through_the_fused_scan_runs_on_ilgpus_cpu_accelerator()
    {
        // The path the H200 run takes for the SSM (ScanPath.Fused, bf16, with gradients), here on the CPU accelerator;
        // B'MOJO's SSM is the MambaMixer that Mamba stacks.
        var options = TrainingStepOptions.Quick with { Batch = 2, Length = 16, Steps = 1, Warmup = 1, Breakdown = false };
        var bench = new TrainingStepBenchmark(options, CPU, new StringWriter());
        ModelEntry model = BenchModels.Find("BMojoTiny")!;
        var fused = model with { Factory = (device, _) => model.Create(device, new KernelPolicy(Scan: ScanPath.Fused)) };
        TrainingStepResult result = bench.Measure(fused, 120, baseline: null);
        Assert.True(result.Error is null, result.Error);
        Assert.Equal("scan Fused x2; B'MOJO attention Blockwise x2", result.Paths);
        Assert.True(result.StepSeconds!.Value.Median > 0);
    }
}
