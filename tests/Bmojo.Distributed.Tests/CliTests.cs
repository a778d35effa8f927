using Bmojo.Cli;
using Bmojo.Cli.Commands;
using Bmojo.Cli.Models;
using Bmojo.Cli.Training;
using Spectre.Console;

namespace Bmojo.Distributed.Tests;

/// <summary><c>bmojo train --gpus N</c> and <c>bmojo dist-check</c> where there is no GPU, and the rank loop on the
/// CPU with ranks as threads.</summary>
public class CliTests
{
    private sealed record Result(int ExitCode, string Output, string Text, string Errors);

    private static (IAnsiConsole Console, StringWriter Output) Console()
    {
        var output = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 240;
        return (console, output);
    }

    private static Result Run(params string[] args)
    {
        (IAnsiConsole console, StringWriter output) = Console();
        var text = new StringWriter();
        var errors = new StringWriter();
        int exit = BmojoApp.Run(args, console, new Streams(text, errors));
        return new Result(exit, output.ToString(), text.ToString(), errors.ToString());
    }

    [Fact]
    public void Train_on_gpus_without_a_GPU_is_one_clear_line()
    {
        Result result = Run("train", "BMojoTiny", "--gpus", "2", "--steps", "2");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("--gpus 2: torch sees no CUDA device here (a CUDA libtorch must be on LD_LIBRARY_PATH; see README, GPU)", result.Errors.Trim());
    }

    [Fact]
    public void Gpus_must_be_positive()
    {
        Result result = Run("train", "BMojoTiny", "--gpus", "0");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: --gpus must be positive (got 0)", result.Errors.Trim());
    }

    [Fact]
    public void Dist_check_on_CPU_ranks_passes_and_states_its_tolerance()
    {
        Result result = Run("dist-check", "--cpu-ranks", "2", "--batch", "6");
        Assert.True(result.ExitCode == 0, result.Text + result.Errors);
        Assert.Contains("2 CPU rank(s) × 2 shard(s)", result.Text);
        Assert.Contains("tolerance 1e-05", result.Text);
        Assert.EndsWith("dist-check: passed", result.Text.Trim());
    }

    [Fact]
    public void Dist_check_without_a_GPU_says_why_in_one_line()
    {
        Result result = Run("dist-check");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("rank 0: torch sees no CUDA device (is a CUDA libtorch on LD_LIBRARY_PATH?); NCCL training runs on GPUs", result.Errors.Trim());
    }

    [Fact]
    public void Dist_check_is_hidden_from_the_help()
    {
        Result result = Run("--help");
        Assert.Contains("train", result.Output);
        Assert.DoesNotContain("dist-check", result.Output);
    }

    /// <summary>Runs the rank loop of <c>train --gpus</c> on <paramref name="world"/> threads.</summary>
    private static (int[] Exit, string[] Output, string[] Errors) TrainRanks(int world, TrainSettings settings, Func<int, CancellationToken> cancellation)
    {
        ModelDefinition model = TinyLm.Definition();
        var group = new LocalGroup(world);
        var consoles = Enumerable.Range(0, world).Select(_ => Console()).ToArray();
        var errors = Enumerable.Range(0, world).Select(_ => new StringWriter()).ToArray();
        var exits = new int[world];
        Parallel.For(0, world, new ParallelOptions { MaxDegreeOfParallelism = world }, r =>
        {
            using var parallel = new DataParallel(group.Join(r));
            exits[r] = DistributedTraining.Train(consoles[r].Console, new Streams(TextWriter.Null, errors[r]), settings, model, parallel,
                                                 p => Trainer.Start(model, SettingsRules.Options(settings), p), cancellation(r));
        });
        return (exits, consoles.Select(c => c.Output.ToString()).ToArray(), errors.Select(e => e.ToString()).ToArray());
    }

    [Fact]
    public void Rank_0_alone_prints_evaluates_and_writes_the_checkpoint()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bmojo-ranks-{Guid.NewGuid():N}.safetensors");
        try
        {
            var settings = new TrainSettings { Spec = "TinyLm", Steps = 4, Batch = 4, EvalExamples = 8, Checkpoint = path, SaveEvery = 2 };
            var (exits, outputs, errors) = TrainRanks(2, settings, _ => CancellationToken.None);
            Assert.Equal([0, 0], exits);
            Assert.Contains("data-parallel on 2 GPU(s)", outputs[0]);
            Assert.Contains("step 4/4", outputs[0]);
            Assert.Contains("TinyLm after 4 steps", outputs[0]);
            Assert.Contains($"checkpoint: {path}", outputs[0]);
            Assert.Equal("", outputs[1]);
            Assert.All(errors, e => Assert.Equal("", e));
            using Trainer resumed = Trainer.Resume(path, TinyLm.Definition());
            Assert.Equal(4, resumed.Step);
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + ".tmp"));
            // Rank 0's periodic save at step 2 and its step log, one line per step.
            using (Trainer periodic = Trainer.Resume(RunFiles.StepPath(path, 2), TinyLm.Definition()))
                Assert.Equal(2, periodic.Step);
            Assert.Equal(new[] { 1, 2, 3, 4 }, File.ReadLines(RunFiles.LogPath(path))
                .Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt32()));
        }
        finally
        {
            DeleteRun(path);
        }
    }

    private static void DeleteRun(string path)
    {
        File.Delete(path);
        File.Delete(RunFiles.LogPath(path));
        foreach (string copy in Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileNameWithoutExtension(path) + ".step-*")) File.Delete(copy);
    }

    [Fact]
    public void A_stop_on_one_rank_stops_every_rank_before_the_same_step()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bmojo-ranks-{Guid.NewGuid():N}.safetensors");
        try
        {
            var settings = new TrainSettings { Spec = "TinyLm", Steps = 50, Batch = 4, EvalExamples = 8, Checkpoint = path };
            // Only rank 1 sees the Ctrl-C (already given); rank 0 must stop too, or it would wait in the all-reduce.
            var (exits, _, errors) = TrainRanks(2, settings, r => new CancellationToken(canceled: r == 1));
            Assert.Equal([130, 130], exits);
            Assert.Equal($"stopped at step 0 of 50; saved to {path}; continue with --resume {path}", errors[0].Trim());
            using Trainer saved = Trainer.Resume(path, TinyLm.Definition());
            Assert.Equal(0, saved.Step);
        }
        finally
        {
            DeleteRun(path);
        }
    }
}
