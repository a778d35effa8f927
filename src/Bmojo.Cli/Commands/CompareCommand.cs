using System.Diagnostics;
using System.Text.Json;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

/// <summary><c>bmojo compare SPEC... --task mqar</c>: every model trained with the same options, seeds and data, then
/// evaluated on the same held-out examples; on a per-setting grid (zoology) one run per setting, learning rate and
/// seed. Writes, in --out: runs.json after every run (what --resume continues), and at the end (or at --time-limit)
/// results.json, results.csv and the two plots; prints a table.</summary>
public sealed class CompareCommand(IAnsiConsole output, Streams streams) : Command<CompareSettings>
{
    /// <summary>The exit code of a usage error (what Spectre gives a bad option), for one model given to compare.</summary>
    public const int UsageExitCode = ExitCodes.Usage;

    public override int Execute(CommandContext context, CompareSettings settings, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        SettingsRules.ApplyThreads(settings);
        Placement placement = SettingsRules.ResolvePlacement(settings, output);
        List<ModelDefinition> models = settings.Specs.SelectMany(spec => SpecLoader.Load(spec, streams.Error)).ToList();
        models = Distinct(models);
        if (models.Count < 2)
            throw new UserError($"compare needs two or more models, got {models.Count}" +
                                (models.Count == 1 ? $" ({models[0].Name}); train one with 'bmojo train {settings.Specs[0]}'" : ""),
                                UsageExitCode);
        TrainingOptions options = CompareSettings.Defaults(settings);
        (IReadOnlyList<SweepRun> planned, var plan) = SweepPlanner.Plan(settings, models);
        IReadOnlyList<MqarConfig> grid = planned[0].Options.AllSettings();
        int memorySeqLen = grid.Max(c => c.SeqLen);

        Directory.CreateDirectory(settings.Out);
        SweepState state = Start(settings, plan);
        var done = state.Runs.Select(r => r.Key).ToHashSet();
        List<SweepRun> todo = planned.Where(r => !done.Contains(r.Key)).ToList();
        state.Runs.RemoveAll(r => !planned.Any(p => p.Key == r.Key));   // a model left out of this call is not reported
        SweepRun first = planned[0];
        output.MarkupLine(Markup.Escape(
            $"MQAR {(first.Cell is null ? first.Options.Data : $"{options.Grid} grid")}{(first.Cell is null ? "" : ", a run per setting")}: {models.Count} models x " +
            $"{planned.Count / models.Count} runs each ({planned.Count} in all, {todo.Count} to go); " +
            (first.Cell is null ? $"{first.Options.Steps} steps of {first.Options.Batch}" : $"{first.Options.TrainExamples} examples, batch and steps per L") +
            $", lr {string.Join("/", planned.Select(r => r.Options.LearningRate).Distinct().Select(lr => Format.Number(lr, "G3")))}, " +
            $"seeds {string.Join("/", planned.Select(r => r.Options.Seed).Distinct())}, {TorchSharp.torch.get_num_threads()} threads; same data for every model"));

        var stop = new StopRule(clock, settings.TimeLimit, cancellation);
        int exit = RunAll(todo, state, settings, placement, stop);

        IReadOnlyList<ComparisonEntry> comparison = ComparisonReport.Summarize(models, state.Runs, grid, memorySeqLen);
        WriteTable(comparison, grid, memorySeqLen, state.Runs.Count, planned.Count);
        int[] vocabs = models.Select(m => m.Settings.Vocab).Distinct().ToArray();
        string budget = ComparisonPlot.Budget(first.Options, first.Cell is not null,
                                              first.Cell is null ? null : settings.Epochs ?? CompareSettings.ZoologyEpochs);
        var report = new ComparisonReport(settings.Task.ToLowerInvariant(), first.Options, plan, placement.Describe(), memorySeqLen,
                                          state.Runs.Count, planned.Count, comparison, state.Runs, vocabs, budget);
        string json = Path.Combine(settings.Out, "results.json"), csv = Path.Combine(settings.Out, "results.csv");
        AtomicFile.WriteAllText(json, JsonSerializer.Serialize(report, ComparisonReport.Json));
        AtomicFile.WriteAllText(csv, ComparisonReport.Csv(models, state.Runs));
        string plot = Path.Combine(settings.Out, ComparisonPlot.AccuracyFile), memoryPlot = Path.Combine(settings.Out, ComparisonPlot.MemoryFile);
        ComparisonPlot.Save(plot, comparison, grid, vocabs, budget);
        ComparisonPlot.SaveMemory(memoryPlot, comparison, vocabs, budget);
        output.MarkupLine(Markup.Escape($"wrote {json}, {csv}, {plot} and {memoryPlot} ({state.Runs.Count} of {planned.Count} runs; {clock.Elapsed.TotalSeconds:F0} s)"));
        if (exit == CompareSettings.TimeLimitExitCode)
            streams.Error.WriteLine($"time limit of {settings.TimeLimit} s reached: {state.Runs.Count} of {planned.Count} runs done; " +
                                    $"continue with the same command and --resume (state in {Path.Combine(settings.Out, SweepState.FileName)})");
        else if (exit == ExitCodes.Interrupted)
            streams.Error.WriteLine($"stopped: {state.Runs.Count} of {planned.Count} runs done; continue with --resume");
        return exit;
    }

    /// <summary>Models of the same name from different places (a compiled-in model and a spec file of it) are told
    /// apart by their origin: "TransformerTiny (transformer-tiny.arch)".</summary>
    private static List<ModelDefinition> Distinct(List<ModelDefinition> models)
    {
        var seen = new HashSet<string>();
        var result = new List<ModelDefinition>();
        foreach (ModelDefinition model in models)
        {
            ModelDefinition named = seen.Contains(model.Name) ? model with { Name = $"{model.Name} ({Path.GetFileName(model.Origin)})" } : model;
            if (!seen.Add(named.Name)) throw new UserError($"compare got {named.Name} twice");
            result.Add(named);
        }
        return result;
    }

    /// <summary>The state to continue: runs.json of --out with --resume (its plan must match), else a fresh one.</summary>
    private SweepState Start(CompareSettings settings, System.Text.Json.Nodes.JsonObject plan)
    {
        if (!settings.Resume) return new SweepState(plan, [], []);
        SweepState? saved = SweepState.Read(settings.Out);
        if (saved is null)
        {
            output.MarkupLine(Markup.Escape($"--resume: no {SweepState.FileName} in {settings.Out} yet; starting"));
            return new SweepState(plan, [], []);
        }
        IReadOnlyList<string> differences = SweepPlanner.Differences(saved.Plan, plan);
        if (differences.Count > 0)
            throw new UserError($"--resume: the comparison in {settings.Out} was started with other options ({string.Join("; ", differences)}); " +
                                "give the same options, or another --out");
        output.MarkupLine(Markup.Escape($"--resume: {saved.Runs.Count} runs done in {settings.Out}" +
                                        (saved.Partial.Count > 0 ? $", {saved.Partial.Count} to continue from a checkpoint" : "")));
        return saved;
    }

    /// <summary>Tests stand in for a time limit that strikes after this many optimizer steps of this call (a real
    /// limit strikes at a time no test can choose).</summary>
    internal static readonly AsyncLocal<int?> StopAfterStepsForTests = new();

    private sealed class StopRule(Stopwatch clock, double? limit, CancellationToken cancellation)
    {
        private readonly int? stepBudget = StopAfterStepsForTests.Value;
        private int steps;

        public void Stepped() => steps++;

        public bool TimeUp => (limit is double seconds && clock.Elapsed.TotalSeconds >= seconds) || (stepBudget is int budget && steps >= budget);

        public bool Cancelled => cancellation.IsCancellationRequested;

        public bool Now => TimeUp || Cancelled;
    }

    /// <summary>Where a run's progress shows: a live bar on a terminal, otherwise (a log, the device's output) a
    /// line at every tenth of the run.</summary>
    private sealed class RunProgress(IAnsiConsole output, ProgressTask? task, SweepRun run, int total, string prefix)
    {
        private int printedTenth = -1;

        public void Report(int step, string description)
        {
            if (task is not null)
            {
                task.Value = step;
                task.Description = description;
                return;
            }
            int tenth = (int)(10L * step / Math.Max(1, run.Options.Steps));
            if (tenth == printedTenth) return;
            printedTenth = tenth;
            output.MarkupLine(Markup.Escape($"{prefix} {100 * step / Math.Max(1, run.Options.Steps),3}% step {step}/{total}: {description}"));
        }
    }

    /// <summary>Runs <paramref name="todo"/> in order under a progress display; returns 0, 75 (time limit) or 130.</summary>
    private int RunAll(IReadOnlyList<SweepRun> todo, SweepState state, CompareSettings settings, Placement placement, StopRule stop)
    {
        int exit = 0;
        int total = state.Runs.Count + todo.Count;
        void Each(ProgressContext? context)
        {
            ProgressTask? overall = context?.AddTask(Markup.Escape($"comparison: {state.Runs.Count}/{total} runs"), maxValue: total);
            if (overall is not null) overall.Value = state.Runs.Count;
            var clock = Stopwatch.StartNew();
            int doneHere = 0;
            foreach (SweepRun run in todo)
            {
                if (stop.Now)
                {
                    exit = stop.Cancelled ? ExitCodes.Interrupted : CompareSettings.TimeLimitExitCode;
                    return;
                }
                ProgressTask? task = context?.AddTask(Markup.Escape(run.Describe()), maxValue: run.Options.Steps);
                var progress = new RunProgress(output, task, run, run.Options.Steps, $"[{state.Runs.Count + 1}/{total}] {run.Describe()}");
                RunRecord? record = RunOne(run, state, settings.Out, placement, stop, progress);
                task?.StopTask();
                if (record is null)
                {
                    exit = stop.Cancelled ? ExitCodes.Interrupted : CompareSettings.TimeLimitExitCode;
                    return;
                }
                state.Runs.Add(record);
                state.Write(settings.Out);
                doneHere++;
                if (overall is not null)
                {
                    overall.Value = state.Runs.Count;
                    overall.Description = Markup.Escape($"comparison: {state.Runs.Count}/{total} runs");
                }
                double eta = clock.Elapsed.TotalSeconds / doneHere * (todo.Count - doneHere);
                output.MarkupLine(Markup.Escape(
                    $"[{state.Runs.Count}/{total}] {run.Describe()}: {Results.Summary(record.Accuracy)} after {record.Steps} of {record.PlannedSteps} steps" +
                    $"{(record.StoppedEarly ? " (early stop)" : "")}, {record.WallSeconds:F1} s, " +
                    $"{Format.Count((long)(record.Tokens / Math.Max(1e-9, record.WallSeconds)))} tok/s; comparison ETA {eta:F0} s"));
            }
        }
        if (output.Profile.Capabilities.Interactive)
            output.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                         new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(Each);
        else Each(null);
        return exit;
    }

    /// <summary>One run to its end (or early stop); null when stopped by the time limit or Ctrl-C, its checkpoint saved
    /// and listed in runs.json.</summary>
    private RunRecord? RunOne(SweepRun run, SweepState state, string outDirectory, Placement placement, StopRule stop, RunProgress progress)
    {
        PartialRun? partial = state.Partial.FirstOrDefault(p => p.Key == run.Key);
        double wallBefore = 0;
        long tokens = 0;
        Trainer trainer;
        if (partial is not null && File.Exists(Path.Combine(outDirectory, partial.Checkpoint)))
        {
            trainer = Trainer.Resume(Path.Combine(outDirectory, partial.Checkpoint), run.Model, placement);
            if (trainer.Options != run.Options)
            {
                trainer.Dispose();
                throw new UserError($"--resume: the checkpoint {partial.Checkpoint} of {run.Key} was trained with other options");
            }
            (wallBefore, tokens) = (partial.WallSeconds, partial.Tokens);
        }
        else trainer = Trainer.Start(run.Model, run.Options, placement);
        using (trainer)
        {
            var clock = Stopwatch.StartNew();
            var window = new Queue<StepResult>();
            IReadOnlyList<EvalResult>? last = null;
            bool early = false;
            while (!trainer.Finished)
            {
                if (stop.Now)
                {
                    string file = $"partial-{state.Partial.Count(p => p.Key != run.Key)}.safetensors";
                    trainer.Save(Path.Combine(outDirectory, file));
                    state.Partial.RemoveAll(p => p.Key == run.Key);
                    state.Partial.Add(new PartialRun(run.Key, file, wallBefore + clock.Elapsed.TotalSeconds, tokens));
                    state.Write(outDirectory);
                    output.MarkupLine(Markup.Escape($"{run.Describe()}: stopped at step {trainer.Step} of {run.Options.Steps}; saved {file} for --resume"));
                    return null;
                }
                StepResult step = trainer.TrainStep();
                stop.Stepped();
                tokens += step.Tokens;
                window.Enqueue(step);
                if (window.Count > 20) window.Dequeue();
                last = null;
                if (run.EvalEvery > 0 && step.Step % run.EvalEvery == 0 && !trainer.Finished)
                {
                    last = trainer.Evaluate();
                    if (run.EarlyStop > 0 && last.Average(r => r.Accuracy) >= run.EarlyStop)
                    {
                        early = true;
                        break;
                    }
                }
                progress.Report(step.Step, Describe(run, window, last));
            }
            last ??= trainer.Evaluate();
            if (partial is not null)
            {
                state.Partial.Remove(partial);
                File.Delete(Path.Combine(outDirectory, partial.Checkpoint));
            }
            return new RunRecord(run.Key, run.Model.Name, run.Model.Origin, run.Model.ParameterCount, run.Cell, run.Options.LearningRate,
                                 run.Options.Seed, trainer.Step, run.Options.Steps, early, wallBefore + clock.Elapsed.TotalSeconds, tokens, last);
        }
    }

    private static string Describe(SweepRun run, IReadOnlyCollection<StepResult> window, IReadOnlyList<EvalResult>? eval)
    {
        double loss = window.Average(s => s.Loss), accuracy = window.Average(s => s.Accuracy);
        double tokensPerSecond = window.Sum(s => s.Tokens) / Math.Max(1e-9, window.Sum(s => s.Elapsed.TotalSeconds));
        return Markup.Escape($"{run.Describe(),-40} loss {Format.Number(loss)}  acc {Format.Percent(accuracy),6}  " +
                             $"{Format.Count((long)tokensPerSecond),7} tok/s" + (eval is null ? "" : $"  held-out {Format.Percent(eval.Average(r => r.Accuracy))}"));
    }

    private void WriteTable(IReadOnlyList<ComparisonEntry> comparison, IReadOnlyList<MqarConfig> grid, int memorySeqLen, int finished, int planned)
    {
        bool spread = comparison.Any(e => e.Accuracy.Any(c => c.Seeds > 1));
        var table = new Table().Title($"MQAR accuracy at the answer positions (held-out; best learning rate per setting; {finished} of {planned} runs)")
            .AddColumn("model")
            .AddColumn(new TableColumn("params").RightAligned())
            .AddColumn(new TableColumn($"memory/seq (L {memorySeqLen})").RightAligned());
        foreach (MqarConfig config in grid) table.AddColumn(new TableColumn($"L {config.SeqLen} kv {config.KvPairs}").RightAligned());
        table.AddColumn(new TableColumn("mean").RightAligned())
            .AddColumn(new TableColumn("tok/s").RightAligned())
            .AddColumn(new TableColumn("wall").RightAligned());
        foreach (ComparisonEntry e in comparison)
        {
            var cells = new List<string> { e.Model, Format.Count(e.Parameters), Format.Count(e.MemoryFloatsPerSequence) };
            foreach (MqarConfig config in grid)
            {
                CellSummary? c = e.Accuracy.FirstOrDefault(a => a.Config == config);
                cells.Add(c is null ? "-" : Format.Percent(c.Accuracy) + (spread ? $" ±{Format.Number(100 * c.Std, "F1")}" : "") + (c.Better ? " *" : ""));
            }
            cells.Add(e.Accuracy.Count == grid.Count ? Format.Percent(e.Accuracy.Average(r => r.Accuracy)) : "-");
            cells.Add(Format.Count((long)e.TokensPerSecond));
            cells.Add(Format.Number(e.WallSeconds, "F1") + " s");
            table.AddRow(cells.Select(c => new Text(c)));
        }
        output.Write(table);
        if (spread)
            output.MarkupLine(Markup.Escape("± : standard deviation over seeds; * : better than every other model there (its worst seed beats their best)"));
    }
}
