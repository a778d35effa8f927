using System.Text.Json;
using Bmojo.Cli.Commands;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;

namespace Bmojo.Cli.Tests;

public sealed class SweepTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("bmojo-sweep-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static readonly string[] Budget =
        ["--task", "mqar", "--steps", "3", "--batch", "2", "--eval-examples", "4", "--threads", "2", "--device", "cpu"];

    [Fact]
    public void Seeds_and_learning_rates_give_a_run_each_the_best_rate_per_setting_and_the_spread()
    {
        string outDirectory = Path.Combine(directory, "seeds");
        Cli.Result result = Cli.Run(["compare", "TransformerTiny", Cli.Spec("transformer-tiny.arch"), .. Budget, "--out", outDirectory,
                                     "--seeds", "2", "--lr-sweep", "1e-3,3e-3"]);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("±", result.Output);

        using JsonDocument runs = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDirectory, "runs.json")));
        Assert.Equal(8, runs.RootElement.GetProperty("runs").GetArrayLength());   // 2 models x 2 rates x 2 seeds

        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDirectory, "results.json")));
        JsonElement model = json.RootElement.GetProperty("models")[0];
        foreach (JsonElement cell in model.GetProperty("accuracy").EnumerateArray())
        {
            Assert.Equal(2, cell.GetProperty("seeds").GetInt32());
            double mean = cell.GetProperty("accuracy").GetDouble(), lr = cell.GetProperty("learning_rate").GetDouble();
            Assert.Contains(lr, new[] { 1e-3, 3e-3 });
            Assert.InRange(mean, cell.GetProperty("min").GetDouble(), cell.GetProperty("max").GetDouble());
            // The best rate is the one whose mean over the seeds is highest: recompute it from the runs.
            var config = cell.GetProperty("config");
            double Mean(double rate) => runs.RootElement.GetProperty("runs").EnumerateArray()
                .Where(r => r.GetProperty("model").GetString() == "TransformerTiny" && r.GetProperty("learning_rate").GetDouble() == rate)
                .Select(r => r.GetProperty("accuracy").EnumerateArray()
                    .Single(a => a.GetProperty("config").GetProperty("kv_pairs").GetInt32() == config.GetProperty("kv_pairs").GetInt32())
                    .GetProperty("accuracy").GetDouble())
                .Average();
            Assert.Equal(Math.Max(Mean(1e-3), Mean(3e-3)), mean, 12);
        }
        string[] csv = File.ReadAllLines(Path.Combine(outDirectory, "results.csv"));
        Assert.StartsWith("model,parameters,seq_len,kv_pairs,", csv[0]);
        Assert.Equal(1 + 8 * 2, csv.Length);   // a line per run and evaluated setting (no --grid: the main job, 32x2,32x4)
        foreach (string png in new[] { ComparisonPlot.AccuracyFile, ComparisonPlot.MemoryFile })
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(Path.Combine(outDirectory, png))[..4]);
    }

    /// <summary>A comparison stopped in the middle of a run (exit 75, the run's checkpoint saved) and continued with
    /// --resume ends with exactly the numbers of one that ran through.</summary>
    [Fact]
    public void A_comparison_stopped_by_the_time_limit_resumes_to_the_same_results()
    {
        string spec = Cli.Spec("transformer-tiny.arch");
        string straight = Path.Combine(directory, "straight"), split = Path.Combine(directory, "split");
        string[] args = ["--seeds", "2"];
        Cli.Result whole = Cli.Run(["compare", "TransformerTiny", spec, .. Budget, "--out", straight, .. args]);
        Assert.Equal(0, whole.ExitCode);

        // 3 steps a run: stopping after 7 steps leaves two runs done and the third at step 1.
        CompareCommand.StopAfterStepsForTests.Value = 7;
        Cli.Result first;
        try
        {
            first = Cli.Run(["compare", "TransformerTiny", spec, .. Budget, "--out", split, "--time-limit", "3600", .. args]);
        }
        finally
        {
            CompareCommand.StopAfterStepsForTests.Value = null;
        }
        Assert.Equal(75, first.ExitCode);
        Assert.Contains("continue with the same command and --resume", first.Errors);
        using (JsonDocument state = JsonDocument.Parse(File.ReadAllText(Path.Combine(split, "runs.json"))))
        {
            Assert.Equal(2, state.RootElement.GetProperty("runs").GetArrayLength());
            JsonElement partial = Assert.Single(state.RootElement.GetProperty("partial").EnumerateArray());
            Assert.True(File.Exists(Path.Combine(split, partial.GetProperty("checkpoint").GetString()!)));
        }

        Cli.Result other = Cli.Run(["compare", "TransformerTiny", spec, .. Budget, "--out", split, "--resume", "--seeds", "3"]);
        Assert.Equal(1, other.ExitCode);
        Assert.Contains("was started with other options (seeds:", other.Errors);

        Cli.Result rest = Cli.Run(["compare", "TransformerTiny", spec, .. Budget, "--out", split, "--resume", .. args]);
        Assert.Equal(0, rest.ExitCode);
        Assert.Contains("--resume: 2 runs done", rest.Output);
        Assert.Empty(Directory.GetFiles(split, "partial-*"));

        static List<(string Key, int Steps, string Accuracy)> Runs(string dir)
        {
            using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "runs.json")));
            return json.RootElement.GetProperty("runs").EnumerateArray()
                .Select(r => (r.GetProperty("key").GetString()!, r.GetProperty("steps").GetInt32(), r.GetProperty("accuracy").GetRawText()))
                .OrderBy(r => r.Item1).ToList();
        }
        Assert.Equal(Runs(straight), Runs(split));
    }

    [Fact]
    public void Compare_without_a_grid_plans_the_main_job_and_grid_small_keeps_its_settings_and_budget()
    {
        ModelDefinition model = ModelCatalog.Find("TransformerTiny")!;
        (IReadOnlyList<SweepRun> main, _) = SweepPlanner.Plan(new CompareSettings(), [model]);
        TrainingOptions job = Assert.Single(main).Options;
        Assert.Equal([new MqarConfig(32, 2), new MqarConfig(32, 4)], job.Settings());
        Assert.Equal((200, 32, 3e-3, 20, 128), (job.Steps, job.Batch, job.LearningRate, job.WarmupSteps, job.EvalExamples));
        Assert.False(job.RandomNonQueries);                                       // zero filler

        (IReadOnlyList<SweepRun> small, _) = SweepPlanner.Plan(new CompareSettings { Grid = "small" }, [model]);
        TrainingOptions grid = Assert.Single(small).Options;
        Assert.Equal([new MqarConfig(64, 4), new MqarConfig(64, 8), new MqarConfig(64, 16)], grid.Settings());
        Assert.Equal((200, 16, 3e-3, 20, 128), (grid.Steps, grid.Batch, grid.LearningRate, grid.WarmupSteps, grid.EvalExamples));
        Assert.True(grid.RandomNonQueries);

        var given = new CompareSettings { Mqar = "16x2", Filler = "random", Batch = 8, Steps = 50 };
        TrainingOptions mine = Assert.Single(SweepPlanner.Plan(given, [model]).Runs).Options;
        Assert.Equal([new MqarConfig(16, 2)], mine.Settings());
        Assert.Equal((50, 8, 5), (mine.Steps, mine.Batch, mine.WarmupSteps));
        Assert.True(mine.RandomNonQueries);
    }

    [Fact]
    public void The_zoology_grid_plans_a_run_per_setting_with_zoologys_budget()
    {
        var settings = new CompareSettings { Grid = "zoology", LrSweep = "zoology", Seeds = 1 };
        ModelDefinition model = ModelCatalog.Find("TransformerTiny")!;
        (IReadOnlyList<SweepRun> runs, _) = SweepPlanner.Plan(settings, [model]);
        Assert.Equal(5 * 4, runs.Count);
        double[] rates = runs.Select(r => r.Options.LearningRate).Distinct().ToArray();   // numpy.logspace(-4, -2, 4)
        Assert.Equal(4, rates.Length);
        foreach ((double expected, double actual) in new[] { 1e-4, 4.6415888336127773e-4, 2.1544346900318843e-3, 1e-2 }.Zip(rates))
            Assert.InRange(actual / expected, 1 - 1e-12, 1 + 1e-12);
        SweepRun first = runs[0], last = runs[^1];
        Assert.Equal(new MqarConfig(64, 4), first.Cell);
        Assert.Equal(512, first.Options.Batch);
        Assert.Equal(64 * (100_000 / 512), first.Options.Steps);
        Assert.Equal(100_000 / 512, first.EvalEvery);
        Assert.Equal(0.99, first.EarlyStop);
        Assert.False(first.Options.RandomNonQueries);
        Assert.Equal(new MqarConfig(1024, 256), last.Cell);
        Assert.Equal(64, last.Options.Batch);
        Assert.Equal(3_000, last.Options.EvalExamples);

        var small = new CompareSettings { Grid = "zoology", Epochs = 2, TrainExamples = 2_048, Batch = 64 };
        (IReadOnlyList<SweepRun> shorter, _) = SweepPlanner.Plan(small, [model]);
        Assert.All(shorter, r => Assert.Equal(2 * 2_048 / 64, r.Options.Steps));
    }

    [Fact]
    public void A_fixed_example_set_repeats_each_example_once_an_epoch_in_a_new_order()
    {
        var task = new Mqar(8192, randomNonQueries: false);
        var config = new MqarConfig(64, 4);
        TrainingOptions options = TrainingOptions.Default(MqarGridKind.Zoology) with { Batch = 4, TrainExamples = 16, Cell = config };
        var examples = new MqarExamples(task, options, [config]);
        Assert.Equal(4, examples.StepsPerEpoch);
        List<string> Epoch(MqarExamples e, int epoch) => Enumerable.Range(4 * epoch, 4).SelectMany(step =>
        {
            MqarBatch b = e.Batch(step);
            return Enumerable.Range(0, b.Batch).Select(i => string.Join(",", b.Inputs.Skip(i * 64).Take(64)));
        }).ToList();
        List<string> first = Epoch(examples, 0), second = Epoch(examples, 1);
        Assert.Equal(16, first.Distinct().Count());
        Assert.Equal(first.Order(), second.Order());            // the same 16 examples
        Assert.NotEqual(first, second);                         // in another order
        Assert.Equal(second, Epoch(new MqarExamples(task, options, [config]), 1));   // a function of the step alone
        Assert.All(first, row => Assert.Contains(",0,", row));   // no random filler (Zoology's figure 2)
    }

    [Fact]
    public void The_zoology_specs_hold_equal_fixed_memory_at_each_width()
    {
        var models = new[] { "transformer", "mamba", "jamba", "bmojo-f", "bmojo" }
            .SelectMany(f => SpecLoader.Load(Cli.Spec(Path.Combine("zoology", f + ".arch")), TextWriter.Null))
            .ToDictionary(m => m.Name);
        Assert.Equal(15, models.Count);
        foreach (int d in new[] { 64, 128, 256 })
        {
            foreach (string fixedMemory in new[] { "MambaZoo", "BMojoFZoo", "BMojoZoo" })
            {
                ModelDefinition m = models[fixedMemory + d];
                Assert.Equal(8192, m.Settings.Vocab);
                Assert.Equal(2, m.Settings.Layers.Count);
                Assert.Equal(140L * d, MemoryBudget.Total(m.Settings, 64));
                Assert.Equal(140L * d, MemoryBudget.Total(m.Settings, 1024));
            }
            Assert.Equal(4L * d * 1024, MemoryBudget.Total(models["TransformerZoo" + d].Settings, 1024));
        }
    }
}
