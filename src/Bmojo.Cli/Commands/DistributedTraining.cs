using System.Diagnostics;
using Bmojo.Cli.Models;
using Bmojo.Cli.Training;
using Bmojo.Distributed;
using Spectre.Console;
using TorchSharp;

namespace Bmojo.Cli.Commands;

/// <summary>
/// <c>--gpus N</c>: the launching process starts N rank processes of this program with the same arguments
/// (<see cref="Launcher"/>); each rank, seeing <c>RANK</c>/<c>WORLD_SIZE</c>/<c>LOCAL_RANK</c> and the rendezvous
/// file, joins the NCCL group on <c>cuda:LOCAL_RANK</c> and trains its shard of every global batch. Rank 0 alone
/// prints, evaluates and writes checkpoints (atomically); the ranks agree before every step whether to stop, so a
/// Ctrl-C stops them all after the same step.
/// </summary>
internal static class DistributedTraining
{
    public const string GpusOption = "--gpus";

    /// <summary>The rank this process is, checked against <c>--gpus</c>, or null when it must launch the ranks.</summary>
    public static RankEnvironment? RankOf(int gpus)
    {
        RankEnvironment? rank = RankEnvironment.Current();
        if (rank is not null && rank.WorldSize != gpus)
            throw new UserError($"{GpusOption} {gpus} but this rank's launcher set WORLD_SIZE {rank.WorldSize}");
        return rank;
    }

    /// <summary>Starts <paramref name="gpus"/> ranks of this program with <paramref name="arguments"/> and waits.</summary>
    public static int Launch(IReadOnlyList<string> arguments, int gpus, TextWriter errors)
    {
        if (!torch.cuda.is_available())
            throw new UserError($"{GpusOption} {gpus}: torch sees no CUDA device here (a CUDA libtorch must be on LD_LIBRARY_PATH; see README, GPU)");
        int devices = torch.cuda.device_count();
        if (gpus > devices) throw new UserError($"{GpusOption} {gpus}: torch sees only {devices} CUDA device(s)");
        (string program, IReadOnlyList<string> prefix) = Launcher.Self();
        string rendezvous = Launcher.NewRendezvousDirectory();
        try
        {
            IReadOnlyList<RankProcess> ranks = Launcher.Plan(gpus, program, [.. prefix, .. arguments], rendezvous, Guid.NewGuid().ToString("N"));
            return Launcher.Run(ranks, errors);
        }
        finally
        {
            try
            {
                Directory.Delete(rendezvous, recursive: true);
            }
            catch (IOException)
            {
                // a leftover temporary folder is harmless
            }
        }
    }

    /// <summary>One rank's training run.</summary>
    /// <param name="parallel">This rank's group (<see cref="DataParallel.Join"/>; a <see cref="LocalGroup"/> in tests).</param>
    public static int Train(IAnsiConsole output, Streams streams, TrainSettings settings, ModelDefinition model, DataParallel parallel,
                            Func<DataParallel, Trainer> start, CancellationToken cancellation)
    {
        using Trainer trainer = start(parallel);
        TrainingOptions options = trainer.Options;
        bool main = parallel.IsMain;
        string? checkpoint = settings.Checkpoint ?? settings.Resume;
        if (main)
        {
            BatchShard smallest = BatchShard.Of(options.Batch, parallel.WorldSize - 1, parallel.WorldSize);
            output.MarkupLine(Markup.Escape(
                $"{model.Name}: {Format.Count(model.ParameterCount)} parameters; data-parallel on {parallel.WorldSize} GPU(s) ({parallel.Backend}); " +
                $"MQAR {options.Data}, {options.Steps} steps of {options.Batch} ({smallest.Count}-{Math.Max(smallest.Count, options.Batch - smallest.Count * (parallel.WorldSize - 1))} per GPU), " +
                $"lr {options.LearningRate}, seed {options.Seed}" + (trainer.Step > 0 ? $", resumed at step {trainer.Step}" : "")));
        }
        // Rank 0 alone saves (periodically too, a failed save rescued to the temporary folder) and writes the step log.
        using RunFiles? files = main && checkpoint is not null ? new RunFiles(checkpoint, trainer.Save, () => trainer.Step, settings.Saves, streams.Error) : null;
        int every = Math.Max(1, options.Steps / 20);
        var window = new Queue<StepResult>();
        var clock = Stopwatch.StartNew();
        long tokens = 0;
        bool cancelled = false;
        while (!trainer.Finished)
        {
            if (parallel.Any(cancellation.IsCancellationRequested))
            {
                cancelled = true;
                break;
            }
            StepResult step = trainer.TrainStep();
            tokens += step.Tokens;
            window.Enqueue(step);
            if (window.Count > 20) window.Dequeue();
            if (!main) continue;
            files?.Logged(step.Step, step.Loss, step.LearningRate, step.Tokens, step.Elapsed);
            if (step.Step % every == 0 || trainer.Finished)
            {
                double tokensPerSecond = window.Sum(s => s.Tokens) / window.Sum(s => s.Elapsed.TotalSeconds);
                output.MarkupLine(Markup.Escape($"step {step.Step}/{options.Steps}  loss {Format.Number(window.Average(s => s.Loss))}  " +
                                                $"acc {Format.Percent(window.Average(s => s.Accuracy))}  {Format.Count((long)tokensPerSecond)} tok/s"));
            }
            if (settings.EvalEvery > 0 && step.Step % settings.EvalEvery == 0 && !trainer.Finished)
            {
                output.MarkupLineInterpolated($"step {step.Step}: {Results.Summary(trainer.Evaluate())}");
                files?.Save();
            }
            files?.AfterStep(trainer.Finished);
        }
        if (!main) return cancelled ? ExitCodes.Interrupted : ExitCodes.Ok;
        files?.Save();
        if (cancelled)
        {
            streams.Error.WriteLine($"stopped at step {trainer.Step} of {options.Steps}" +
                                    (checkpoint is null ? "; no --checkpoint, nothing saved" : $"; saved to {checkpoint}; continue with --resume {checkpoint}"));
            return ExitCodes.Interrupted;
        }
        output.MarkupLine(Markup.Escape($"{tokens} tokens in {clock.Elapsed.TotalSeconds:0.0} s: {Format.Count((long)(tokens / clock.Elapsed.TotalSeconds))} tok/s on {parallel.WorldSize} GPU(s)"));
        Results.WriteAccuracy(output, $"{model.Name} after {trainer.Step} steps", trainer.Evaluate());
        if (files is not null) output.MarkupLineInterpolated($"checkpoint: {files.Checkpoint}; log: {files.Log}");
        return 0;
    }
}
