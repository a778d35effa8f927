using System.Diagnostics;
using System.Globalization;
using Bmojo.Cli.Commands;
using Bmojo.Cli.Models;
using Bmojo.Cli.Training;
using Spectre.Console;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>
/// <c>bmojo train SPEC --task lm [--data PATH]</c>: tokenizes the data once (token file beside it), trains on its
/// training split, validates on the held-out split every <c>--eval-every</c> steps (and before the first step), logs
/// each validation to <c>OUT/training.csv</c>, plots <c>OUT/perplexity.png</c>, and saves the checkpoint
/// (<c>OUT/checkpoint.safetensors</c> unless <c>--checkpoint</c>) at each validation, at the end, on Ctrl-C and at
/// <c>--time-limit</c>; <c>--resume</c> continues exactly.
/// </summary>
public static class LmTrainCommand
{
    /// <summary>The exit code of a run stopped by <c>--time-limit</c> (saved, to be resumed): EX_TEMPFAIL, so a
    /// script's <c>train ... &amp;&amp; eval ...</c> evaluates only a finished run.</summary>
    public const int TimeLimitExitCode = ExitCodes.TimeLimit;

    public const string CsvHeader = "step,tokens,learning_rate,train_loss,train_perplexity,val_loss,val_perplexity,tokens_per_second,elapsed_seconds";

    public static int Run(IAnsiConsole output, Streams streams, LmTrainOptions settings, string spec, string? checkpointOption, string? resume,
                          int evalEvery, CancellationToken cancellation, SaveSchedule? saves = null, int accumulation = 1)
    {
        ModelDefinition model = SpecLoader.LoadOne(spec, streams.Error);
        LmOptions options = resume is null ? Options(settings) : LmTrainer.ReadOptions(resume);
        TextTokenizer tokenizer = TextTokenizer.Named(options.Tokenizer);
        if (tokenizer.CheckVocab(model.Settings) is string vocab) throw new UserError(vocab);
        if (resume is not null) CheckResume(settings, options);

        string outDir = settings.Out ?? Path.Combine("lm-runs", model.Name);
        string checkpoint = checkpointOption ?? resume ?? Path.Combine(outDir, "checkpoint.safetensors");
        RunFiles.CheckWritable(checkpoint);
        try
        {
            Directory.CreateDirectory(outDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot create --out '{outDir}': {e.Message}");
        }
        using TokenFile tokens = OpenTokens(output, settings.Data, tokenizer);
        Placement placement = Placement.Resolve(settings.Device, settings.Dtype);
        Device device = placement.Device;
        ScalarType dtype = placement.DType;
        using LmTrainer trainer = resume is null
            ? LmTrainer.Start(model, options, tokens, device, dtype)
            : LmTrainer.Resume(resume, model, tokens, device, dtype);
        trainer.Accumulation = accumulation;
        output.MarkupLine(Markup.Escape(
            $"{model.Name}: {Format.Count(model.ParameterCount)} parameters; {tokenizer.Name} tokens: {Format.Count(trainer.Split.Train.Length)} training, " +
            $"{Format.Count(trainer.Split.HeldOut.Length)} held out; {options.Steps} steps of {options.Batch} x {options.SeqLen}" +
            (accumulation > 1 ? $" ({accumulation} micro-batches)" : "") + $", lr {options.LearningRate}, " +
            $"seed {options.Seed}, {device.type.ToString().ToLowerInvariant()} {dtype}" + (trainer.Step > 0 ? $", resumed at step {trainer.Step}" : "")));

        TrainingMemory.Check(output, model.Settings, model.ParameterCount, options.Batch, accumulation, options.SeqLen, placement, canAccumulate: true);
        using var files = new RunFiles(checkpoint, trainer.Save, () => trainer.Step, saves ?? SaveSchedule.Default, streams.Error);
        int every = evalEvery > 0 ? evalEvery : Math.Max(1, options.Steps / 6);
        string csv = Path.Combine(outDir, "training.csv");
        if (trainer.Step == 0 || !File.Exists(csv)) File.WriteAllText(csv, CsvHeader + Environment.NewLine);
        var window = new Queue<LmStep>();
        var clock = Stopwatch.StartNew();
        bool cancelled = false, timedOut = false;
        LmValidation? first = null, last = null;

        void Validate()
        {
            LmValidation v = trainer.Validate();
            first ??= v;
            last = v;
            double trainLoss = window.Count == 0 ? v.Loss : window.Average(s => s.Loss);
            double tokensPerSecond = window.Count == 0 ? 0 : window.Sum(s => s.Tokens) / window.Sum(s => s.Elapsed.TotalSeconds);
            File.AppendAllText(csv, string.Join(",", new[]
            {
                v.Step.ToString(CultureInfo.InvariantCulture), ((long)v.Step * options.TokensPerStep).ToString(CultureInfo.InvariantCulture),
                options.LearningRateAt(Math.Max(0, v.Step - 1)).ToString("G6", CultureInfo.InvariantCulture),
                trainLoss.ToString("F5", CultureInfo.InvariantCulture), Math.Exp(trainLoss).ToString("F3", CultureInfo.InvariantCulture),
                v.Loss.ToString("F5", CultureInfo.InvariantCulture), v.Perplexity.ToString("F3", CultureInfo.InvariantCulture),
                tokensPerSecond.ToString("F1", CultureInfo.InvariantCulture), clock.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture),
            }) + Environment.NewLine);
            output.MarkupLine(Markup.Escape($"step {v.Step}: validation loss {Format.Number(v.Loss)}, perplexity {Format.Number(v.Perplexity, "F2")} " +
                                            $"({Format.Count(v.Tokens)} held-out tokens)"));
            PlotFromCsv(csv, Path.Combine(outDir, "perplexity.png"), model.Name);
        }

        if (trainer.Step == 0) Validate();
        output.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask(model.Name, maxValue: options.Steps);
                task.Value = trainer.Step;
                while (!trainer.Finished)
                {
                    if (cancellation.IsCancellationRequested)
                    {
                        cancelled = true;
                        break;
                    }
                    if (settings.TimeLimit is double limit && clock.Elapsed.TotalSeconds >= limit)
                    {
                        timedOut = true;
                        break;
                    }
                    LmStep step = trainer.TrainStep();
                    window.Enqueue(step);
                    if (window.Count > 20) window.Dequeue();
                    task.Value = step.Step;
                    double loss = window.Average(s => s.Loss), rate = window.Sum(s => s.Tokens) / window.Sum(s => s.Elapsed.TotalSeconds);
                    task.Description = Markup.Escape($"{model.Name,-16} loss {Format.Number(loss)}  ppl {Format.Number(Math.Exp(loss), "F1"),9}  " +
                                                     $"{Format.Count((long)rate),7} tok/s");
                    files.Logged(step.Step, step.Loss, step.LearningRate, step.Tokens, step.Elapsed);
                    if (step.Step % every == 0 || trainer.Finished)
                    {
                        Validate();
                        files.Save();
                    }
                    files.AfterStep(trainer.Finished);
                }
            });
        files.Save();
        if (cancelled || timedOut)
        {
            streams.Error.WriteLine($"{(cancelled ? "stopped" : "time limit reached")} at step {trainer.Step} of {options.Steps}; saved to {checkpoint}; " +
                                    $"continue with --resume {checkpoint}");
            return cancelled ? ExitCodes.Interrupted : TimeLimitExitCode;
        }
        if (first is LmValidation a && last is LmValidation b && a.Step != b.Step)
            output.MarkupLine(Markup.Escape($"validation perplexity {Format.Number(a.Perplexity, "F1")} at step {a.Step} -> {Format.Number(b.Perplexity, "F2")} at step {b.Step}"));
        output.MarkupLine(Markup.Escape($"checkpoint: {checkpoint}; log: {csv}, {files.Log}; plot: {Path.Combine(outDir, "perplexity.png")}"));
        return 0;
    }

    /// <summary>The token file of the data (built once, with a line saying so).</summary>
    public static TokenFile OpenTokens(IAnsiConsole output, string? data, TextTokenizer tokenizer)
    {
        TextCorpus corpus = LmSettingsRules.Corpus(data);
        var clock = Stopwatch.StartNew();
        TokenFile tokens = TokenFile.OpenOrBuild(corpus, tokenizer);
        output.MarkupLine(Markup.Escape(tokens.Built
            ? $"tokenized {corpus.Sources.Count} file(s) of {corpus.Path} with {tokenizer.Name}: {Format.Count(tokens.Length)} tokens in {clock.Elapsed.TotalSeconds:F1} s -> {tokens.Path}"
            : $"tokens: {tokens.Path} ({Format.Count(tokens.Length)}, {tokens.Info.DocumentStarts.Count} documents)"));
        return tokens;
    }

    public static LmOptions Options(LmTrainOptions s)
    {
        LmOptions d = LmOptions.Default;
        int steps = s.Steps ?? d.Steps;
        var options = d with
        {
            Steps = steps,
            Batch = s.Batch ?? d.Batch,
            SeqLen = s.SeqLen ?? d.SeqLen,
            LearningRate = s.LearningRate ?? d.LearningRate,
            WarmupSteps = s.Warmup ?? Math.Max(1, Math.Min(steps / 10, 200)),
            WeightDecay = s.WeightDecay ?? d.WeightDecay,
            Seed = s.Seed ?? d.Seed,
            Tokenizer = (s.Tokenizer ?? d.Tokenizer).Trim().ToLowerInvariant(),
            HeldOut = s.HeldOut ?? d.HeldOut,
            EvalSequences = s.EvalExamples ?? d.EvalSequences,
        };
        if (options.Check() is string problem) throw new UserError(problem);
        return options;
    }

    /// <summary>A resumed run keeps its options; an option given that contradicts them is an error.</summary>
    private static void CheckResume(LmTrainOptions s, LmOptions kept)
    {
        var conflicts = new List<string>();
        void Compare<T>(string option, T? given, T saved) where T : struct
        {
            if (given is T value && !value.Equals(saved)) conflicts.Add($"{option} {value} (the run has {saved})");
        }
        Compare("--steps", s.Steps, kept.Steps);
        Compare("--batch", s.Batch, kept.Batch);
        Compare("--seq-len", s.SeqLen, kept.SeqLen);
        Compare("--lr", s.LearningRate, kept.LearningRate);
        Compare("--warmup", s.Warmup, kept.WarmupSteps);
        Compare("--weight-decay", s.WeightDecay, kept.WeightDecay);
        Compare("--seed", s.Seed, kept.Seed);
        Compare("--held-out", s.HeldOut, kept.HeldOut);
        Compare("--eval-examples", s.EvalExamples, kept.EvalSequences);
        if (s.Tokenizer is string t && !string.Equals(t.Trim(), kept.Tokenizer, StringComparison.OrdinalIgnoreCase))
            conflicts.Add($"--tokenizer {t} (the run has {kept.Tokenizer})");
        if (conflicts.Count > 0)
            throw new UserError($"a resumed run keeps the options it was started with; these differ: {string.Join(", ", conflicts)}");
    }

    private static void PlotFromCsv(string csv, string png, string model)
    {
        var points = LmPlots.ReadTraining(csv);
        if (points.Count > 0) LmPlots.SaveTraining(png, model, points);
    }
}
