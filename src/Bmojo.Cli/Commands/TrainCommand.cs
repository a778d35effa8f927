using Bmojo.Cli.Models;
using Bmojo.Cli.Training;
using Bmojo.Distributed;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

/// <summary><c>bmojo train SPEC --task mqar</c>: trains with a live progress bar; saves checkpoints atomically; on
/// Ctrl-C stops after the current step and saves; <c>--resume</c> continues exactly.</summary>
public sealed class TrainCommand(IAnsiConsole output, Streams streams) : Command<TrainSettings>
{
    public override int Execute(CommandContext context, TrainSettings settings, CancellationToken cancellation)
    {
        RankEnvironment? rank = settings.Gpus is int gpus ? DistributedTraining.RankOf(gpus) : null;
        if (settings.Gpus is int launch && rank is null)
        {
            if ((settings.Checkpoint ?? settings.Resume) is string path) RunFiles.CheckWritable(path);   // before any rank starts
            return DistributedTraining.Launch(context.Arguments, launch, streams.Error);
        }
        SettingsRules.ApplyThreads(settings);
        if (SettingsRules.IsLm(settings))
            return Lm.LmTrainCommand.Run(output, streams, settings, settings.Spec, settings.Checkpoint, settings.Resume, settings.EvalEvery, cancellation, settings.Saves,
                                         settings.GradAccum ?? 1);
        ModelDefinition model = SpecLoader.LoadOne(settings.Spec, streams.Error);
        if (rank is not null)
        {
            using DataParallel parallel = DataParallel.Join(rank);
            return DistributedTraining.Train(output, streams, settings, model, parallel,
                parallel => settings.Resume is string from ? ResumeRun(from, model, settings, parallel) : Trainer.Start(model, SettingsRules.Options(settings), parallel),
                cancellation);
        }
        string? checkpoint = settings.Checkpoint ?? settings.Resume;
        if (checkpoint is not null) RunFiles.CheckWritable(checkpoint);
        Placement placement = SettingsRules.ResolvePlacement(settings, output);
        using Trainer trainer = settings.Resume is string resume
            ? ResumeRun(resume, model, settings, placement)
            : Trainer.Start(model, SettingsRules.Options(settings), placement);
        if (settings.GradAccum is int accumulation) trainer.Accumulation = accumulation;
        TrainingOptions options = trainer.Options;
        TrainingMemory.Check(output, model.Settings, model.ParameterCount, options.Batch, trainer.Accumulation, trainer.Grid.Max(c => c.SeqLen),
                             trainer.Placement, canAccumulate: true);
        output.MarkupLine(Markup.Escape($"{model.Name}: {Format.Count(model.ParameterCount)} parameters; MQAR {options.Data}, " +
                                      $"{options.Steps} steps of {options.Batch}" + (trainer.Accumulation > 1 ? $" ({trainer.Accumulation} micro-batches)" : "") +
                                      $", lr {options.LearningRate}, seed {options.Seed}" +
                                      (trainer.Step > 0 ? $", resumed at step {trainer.Step}" : "")));

        using RunFiles? files = checkpoint is null ? null : new RunFiles(checkpoint, trainer.Save, () => trainer.Step, settings.Saves, streams.Error);
        TrainingProgress.Outcome outcome = TrainingProgress.Run(output, [trainer], settings.EvalEvery, files, cancellation);
        if (outcome.Cancelled)
        {
            streams.Error.WriteLine($"stopped at step {trainer.Step} of {options.Steps}" +
                                    (checkpoint is null ? "; no --checkpoint, nothing saved" : $"; saved to {checkpoint}; continue with --resume {checkpoint}"));
            return ExitCodes.Interrupted;
        }
        Results.WriteAccuracy(output, $"{model.Name} after {trainer.Step} steps", trainer.Evaluate());
        if (files is not null) output.MarkupLineInterpolated($"checkpoint: {files.Checkpoint}; log: {files.Log}");
        return 0;
    }

    /// <summary>A resumed run keeps its checkpoint's options; an option given that contradicts them is an error.</summary>
    private static Trainer ResumeRun(string path, ModelDefinition model, TrainSettings settings, Placement placement) =>
        CheckKept(Trainer.Resume(path, model, placement), settings);

    private static Trainer ResumeRun(string path, ModelDefinition model, TrainSettings settings, DataParallel parallel) =>
        CheckKept(Trainer.Resume(path, model, parallel), settings);

    private static Trainer CheckKept(Trainer trainer, TrainSettings settings)
    {
        TrainingOptions kept = trainer.Options;
        var conflicts = new List<string>();
        void Compare<T>(string option, T? given, T saved) where T : struct
        {
            if (given is T value && !value.Equals(saved)) conflicts.Add($"{option} {value} (the run has {saved})");
        }
        Compare("--steps", settings.Steps, kept.Steps);
        Compare("--batch", settings.Batch, kept.Batch);
        Compare("--lr", settings.LearningRate, kept.LearningRate);
        Compare("--warmup", settings.Warmup, kept.WarmupSteps);
        Compare("--weight-decay", settings.WeightDecay, kept.WeightDecay);
        Compare("--seed", settings.Seed, kept.Seed);
        Compare("--eval-examples", settings.EvalExamples, kept.EvalExamples);
        Compare("--train-examples", settings.TrainExamples, kept.TrainExamples);
        Compare("--grid", settings.Grid is string g ? SettingsRules.ParseGrid(g) : null, kept.Grid);
        if (conflicts.Count == 0) return trainer;
        trainer.Dispose();
        throw new UserError($"a resumed run keeps the options it was started with; these differ: {string.Join(", ", conflicts)}");
    }
}
