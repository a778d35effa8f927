using System.Diagnostics;
using Bmojo.Cli.Training;
using Spectre.Console;

namespace Bmojo.Cli.Commands;

/// <summary>Runs trainers one after the other under a live progress bar (loss, answer accuracy, tokens/s).</summary>
internal static class TrainingProgress
{
    /// <param name="Cancelled">Ctrl-C stopped a run (after a whole step, the checkpoint saved).</param>
    /// <param name="WallTimes">Training time of each trainer that finished.</param>
    /// <param name="Tokens">Tokens each trainer that finished trained on in this run.</param>
    public sealed record Outcome(bool Cancelled, IReadOnlyList<TimeSpan> WallTimes, IReadOnlyList<long> Tokens);

    /// <param name="evalEvery">Evaluate, print and save every N steps; 0: never during the run.</param>
    /// <param name="files">The checkpoint, its periodic saves and the step log (single run only), or null: nothing saved.</param>
    public static Outcome Run(IAnsiConsole output, IReadOnlyList<Trainer> trainers, int evalEvery, RunFiles? files, CancellationToken cancellation)
    {
        var wallTimes = new List<TimeSpan>();
        var tokens = new List<long>();
        bool cancelled = false;
        output.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                foreach (Trainer trainer in trainers)
                {
                    ProgressTask task = context.AddTask(trainer.Definition.Name, maxValue: trainer.Options.Steps);
                    task.Value = trainer.Step;
                    var clock = Stopwatch.StartNew();
                    var window = new Queue<StepResult>();
                    long seen = 0;
                    while (!trainer.Finished)
                    {
                        if (cancellation.IsCancellationRequested)
                        {
                            cancelled = true;
                            break;
                        }
                        StepResult step = trainer.TrainStep();
                        seen += step.Tokens;
                        window.Enqueue(step);
                        if (window.Count > 20) window.Dequeue();
                        task.Value = step.Step;
                        task.Description = Describe(trainer, window);
                        files?.Logged(step.Step, step.Loss, step.LearningRate, step.Tokens, step.Elapsed);
                        if (evalEvery > 0 && step.Step % evalEvery == 0 && !trainer.Finished)
                        {
                            IReadOnlyList<EvalResult> results = trainer.Evaluate();
                            output.MarkupLineInterpolated($"step {step.Step}: {Results.Summary(results)}");
                            files?.Save();
                        }
                        files?.AfterStep(trainer.Finished);
                    }
                    files?.Save();
                    if (cancelled) return;
                    wallTimes.Add(clock.Elapsed);
                    tokens.Add(seen);
                }
            });
        return new Outcome(cancelled, wallTimes, tokens);
    }

    /// <summary>The name, then loss, accuracy and throughput averaged over the last steps.</summary>
    private static string Describe(Trainer trainer, IReadOnlyCollection<StepResult> window)
    {
        double loss = window.Average(s => s.Loss), accuracy = window.Average(s => s.Accuracy);
        double tokensPerSecond = window.Sum(s => s.Tokens) / window.Sum(s => s.Elapsed.TotalSeconds);
        return Markup.Escape($"{trainer.Definition.Name,-16} loss {Format.Number(loss)}  acc {Format.Percent(accuracy),6}  " +
                             $"{Format.Count((long)tokensPerSecond),7} tok/s");
    }
}
