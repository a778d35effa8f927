using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;

namespace Bmojo.Cli.Tests;

public sealed class TrainCommandTests : IDisposable
{
    private static readonly string[] Small = ["--batch", "4", "--eval-examples", "8", "--threads", "2"];

    private readonly string directory = Directory.CreateTempSubdirectory("bmojo-train-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Train_names_the_mqar_settings_it_was_given_instead_of_the_grid()
    {
        Cli.Result train = Cli.Run(["train", "TransformerTiny", "--task", "mqar", "--steps", "2", "--mqar", "32x2,32x4", .. Small]);
        Assert.Equal(0, train.ExitCode);
        Assert.Contains("TransformerTiny: 103,040 parameters; MQAR settings 32x2,32x4, 2 steps of 4", train.Output);
        Assert.DoesNotContain("Small grid", train.Output);
    }

    [Fact]
    public void Train_evaluates_and_saves_then_eval_reads_the_checkpoint()
    {
        string checkpoint = Path.Combine(directory, "t.safetensors");
        Cli.Result train = Cli.Run(["train", "TransformerTiny", "--task", "mqar", "--steps", "6", "--eval-every", "3", "--checkpoint", checkpoint, .. Small]);
        Assert.Equal(0, train.ExitCode);
        Assert.Contains("TransformerTiny: 103,040 parameters; MQAR Small grid, 6 steps of 4", train.Output);
        Assert.Contains("step 3: kv 4 @ L 64: ", train.Output);
        Assert.Contains("TransformerTiny after 6 steps", train.Output);
        Assert.True(File.Exists(checkpoint));

        Cli.Result eval = Cli.Run("eval", "TransformerTiny", "--checkpoint", checkpoint, "--task", "mqar", "--eval-examples", "8");
        Assert.Equal(0, eval.ExitCode);
        Assert.Contains($"checkpoint: {checkpoint}", eval.Output);
        Assert.Contains("TransformerTiny at step 6", eval.Output);
        foreach (int kv in new[] { 4, 8, 16 })
            Assert.Contains(eval.Output.Split('\n'), row => row.Contains("│ 64 ") && row.Contains($"│ {kv} ") && row.Contains('%'));

        Cli.Result wrongModel = Cli.Run("eval", "MambaTiny", "--checkpoint", checkpoint);
        Assert.Equal(1, wrongModel.ExitCode);
        Assert.Equal($"checkpoint '{checkpoint}' holds a TransformerTiny, not a MambaTiny", wrongModel.Errors.Trim());
    }

    [Fact]
    public void Ctrl_c_stops_after_a_whole_step_keeps_the_checkpoint_and_resume_finishes_the_run()
    {
        string checkpoint = Path.Combine(directory, "c.safetensors");
        ModelDefinition model = ModelCatalog.Find("TransformerTiny")!;
        TrainingOptions options = TrainingOptions.Default(MqarGridKind.Small) with { Steps = 6, Batch = 4, WarmupSteps = 0, EvalExamples = 8 };
        List<float> straight;
        using (Trainer trainer = Trainer.Start(model, options))
        {
            straight = TrainerTests.Run(trainer, 6);
        }
        using (Trainer trainer = Trainer.Start(model, options))
        {
            TrainerTests.Run(trainer, 3);
            trainer.Save(checkpoint);
        }

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Cli.Result stopped = Cli.Run(cancelled.Token, ["train", "TransformerTiny", "--resume", checkpoint, "--threads", "2"]);
        Assert.Equal(130, stopped.ExitCode);
        Assert.Equal($"stopped at step 3 of 6; saved to {checkpoint}; continue with --resume {checkpoint}", stopped.Errors.Trim());

        using (Trainer resumed = Trainer.Resume(checkpoint, model))
        {
            Assert.Equal(3, resumed.Step);
            Assert.Equal(straight[3..].Select(BitConverter.SingleToInt32Bits), TrainerTests.Run(resumed, 3).Select(BitConverter.SingleToInt32Bits));
        }

        Cli.Result finished = Cli.Run(["train", "TransformerTiny", "--resume", checkpoint, "--threads", "2"]);
        Assert.Equal(0, finished.ExitCode);
        Assert.Contains("resumed at step 3", finished.Output);
        Assert.Contains("TransformerTiny after 6 steps", finished.Output);
    }

    [Fact]
    public void A_resumed_run_refuses_options_that_contradict_its_checkpoint()
    {
        string checkpoint = Path.Combine(directory, "r.safetensors");
        using (Trainer trainer = Trainer.Start(ModelCatalog.Find("TransformerTiny")!,
                   TrainingOptions.Default(MqarGridKind.Small) with { Steps = 4, Batch = 4, WarmupSteps = 0, EvalExamples = 8 }))
            trainer.Save(checkpoint);
        Cli.Result result = Cli.Run("train", "TransformerTiny", "--resume", checkpoint, "--steps", "9", "--batch", "4");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("a resumed run keeps the options it was started with; these differ: --steps 9 (the run has 4)", result.Errors.Trim());
    }
}
