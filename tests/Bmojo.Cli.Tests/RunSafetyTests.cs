using System.Text.Json;
using System.Text.RegularExpressions;
using Bmojo.Cli.Lm;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Tests;

/// <summary>Issue 15, "runs that are lost": SIGTERM, unwritable checkpoints, periodic saves, memory, the step log.</summary>
public sealed class RunSafetyTests : IDisposable
{
    private static readonly string[] Small = ["--task", "mqar", "--batch", "4", "--eval-examples", "8", "--threads", "2"];

    private readonly string directory = Directory.CreateTempSubdirectory("bmojo-safety-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Sigterm_stops_after_a_step_saves_and_the_resumed_run_ends_with_the_uninterrupted_runs_weights_to_the_bit()
    {
        const int steps = 300;
        string checkpoint = Path.Combine(directory, "s.safetensors"), log = Path.Combine(directory, "s.log.jsonl");
        string reference = Path.Combine(directory, "reference.safetensors");
        string[] run = ["train", "TransformerTiny", .. Small, "--steps", $"{steps}", "--seed", "5"];
        TimeSpan timeout = TimeSpan.FromMinutes(4);

        int stoppedAt;
        using (BmojoProcess bmojo = BmojoProcess.Start([.. run, "--checkpoint", checkpoint]))
        {
            // Wait until it has trained a few steps (the step log shows them), then SIGTERM, as SLURM or `timeout` would.
            DateTime deadline = DateTime.UtcNow + timeout;
            while (LogSteps(log).Count < 3)
            {
                Assert.False(bmojo.HasExited, $"bmojo ended before the signal: {bmojo.Output} {bmojo.Errors}");
                Assert.True(DateTime.UtcNow < deadline, "bmojo logged no steps");
                Thread.Sleep(50);
            }
            bmojo.Signal("TERM");
            int exit = bmojo.WaitForExit(timeout);
            Match stopped = Regex.Match(bmojo.Errors, $@"stopped at step (\d+) of {steps}; saved to {Regex.Escape(checkpoint)}; continue with --resume {Regex.Escape(checkpoint)}");
            Assert.True(stopped.Success, bmojo.Errors);
            Assert.Equal(ExitCodes.Interrupted, exit);
            Assert.Equal(130, exit);
            stoppedAt = int.Parse(stopped.Groups[1].Value);
            Assert.InRange(stoppedAt, 3, steps - 1);
            Assert.DoesNotContain("   at ", bmojo.Errors);   // no stack trace
        }
        Assert.True(File.Exists(checkpoint));
        Assert.Equal(Enumerable.Range(1, stoppedAt), LogSteps(log));

        var resumed = BmojoProcess.Run(timeout, "train", "TransformerTiny", "--resume", checkpoint, "--threads", "2");
        Assert.True(resumed.ExitCode == 0, resumed.Errors);
        Assert.Contains($"resumed at step {stoppedAt}", resumed.Output);
        var straight = BmojoProcess.Run(timeout, [.. run, "--checkpoint", reference]);
        Assert.True(straight.ExitCode == 0, straight.Errors);

        AssertSameTensors(reference, checkpoint);
        // The log of the interrupted and resumed run: one line per step, the steps increasing, every field there.
        Assert.Equal(Enumerable.Range(1, steps), LogSteps(log));
        foreach (string line in File.ReadLines(log))
        {
            using var entry = JsonDocument.Parse(line);
            JsonElement e = entry.RootElement;
            Assert.True(e.GetProperty("loss").GetDouble() > 0);
            Assert.True(e.GetProperty("lr").GetDouble() > 0);
            Assert.True(e.GetProperty("tokens_per_second").GetDouble() > 0);
            Assert.True(e.GetProperty("working_set_bytes").GetInt64() > 0);
        }
    }

    [Fact]
    public void A_checkpoint_path_that_cannot_be_written_fails_before_step_1_in_one_line()
    {
        string file = Path.Combine(directory, "a-file");
        File.WriteAllText(file, "");
        string checkpoint = Path.Combine(file, "x.safetensors");
        Cli.Result result = Cli.Run(["train", "TransformerTiny", .. Small, "--steps", "2", "--checkpoint", checkpoint]);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"cannot write the checkpoint '{checkpoint}': '{file}' is a file, not a folder", result.Errors.Trim());
        Assert.DoesNotContain("parameters;", result.Output);   // nothing trained

        Cli.Result folder = Cli.Run(["train", "TransformerTiny", .. Small, "--steps", "2", "--checkpoint", directory]);
        Assert.Equal(1, folder.ExitCode);
        Assert.Equal($"cannot write the checkpoint '{directory}': it is a folder", folder.Errors.Trim());

        // A folder that does not exist yet is made.
        string nested = Path.Combine(directory, "new", "deeper", "n.safetensors");
        Cli.Result made = Cli.Run(["train", "TransformerTiny", .. Small, "--steps", "2", "--checkpoint", nested]);
        Assert.True(made.ExitCode == 0, made.Errors);
        Assert.True(File.Exists(nested));
    }

    [Fact]
    public void A_save_that_fails_during_the_run_rescues_the_run_to_the_temporary_folder_and_says_where()
    {
        string folder = Path.Combine(directory, "gone");
        string checkpoint = Path.Combine(folder, "g.safetensors");
        RunFiles.CheckWritable(checkpoint);
        ModelDefinition model = ModelCatalog.Find("TransformerTiny")!;
        var options = TrainingOptions.Default(MqarGridKind.Small) with { Steps = 4, Batch = 4, WarmupSteps = 0, EvalExamples = 8 };
        using Trainer trainer = Trainer.Start(model, options);
        var warnings = new StringWriter();
        string? rescued = null;
        using (var files = new RunFiles(checkpoint, trainer.Save, () => trainer.Step, SaveSchedule.Default, warnings))
        {
            TrainerTests.Run(trainer, 2);
            // The folder is removed and a file takes its name: the save cannot make the folder again.
            Directory.Delete(folder, recursive: true);
            File.WriteAllText(folder, "");
            UserError error = Assert.Throws<UserError>(files.Save);
            Match match = Regex.Match(error.Message,
                $@"^cannot save the checkpoint '{Regex.Escape(checkpoint)}' at step 2 \('{Regex.Escape(folder)}' is a file, not a folder\); saved the run to (?<path>\S+) instead: " +
                $@"continue with --resume \k<path> --checkpoint {Regex.Escape(checkpoint)}$");
            Assert.True(match.Success, error.Message);
            Assert.Equal(1, error.ExitCode);
            rescued = match.Groups["path"].Value;
            Assert.StartsWith(Path.GetTempPath(), rescued);
        }
        try
        {
            using Trainer resumed = Trainer.Resume(rescued, model);
            Assert.Equal(2, resumed.Step);
        }
        finally
        {
            File.Delete(rescued);
        }
    }

    [Fact]
    public void A_process_whose_checkpoint_folder_is_replaced_mid_run_rescues_the_run_and_exits_1_in_one_line()
    {
        string folder = Path.Combine(directory, "run");
        string checkpoint = Path.Combine(folder, "r.safetensors"), log = Path.Combine(folder, "r.log.jsonl");
        using BmojoProcess bmojo = BmojoProcess.Start(["train", "TransformerTiny", .. Small, "--steps", "2000", "--save-every", "1", "--keep", "0",
                                                       "--checkpoint", checkpoint]);
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (LogSteps(log).Count < 2)
        {
            Assert.False(bmojo.HasExited, $"bmojo ended early: {bmojo.Output} {bmojo.Errors}");
            Assert.True(DateTime.UtcNow < deadline, "bmojo logged no steps");
            Thread.Sleep(20);
        }
        // The folder goes (a save may be writing in it: retry) and a file takes its name, so no save can make it again.
        while (true)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
                File.WriteAllText(folder, "");
                break;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(5);
            }
        }
        int exit = bmojo.WaitForExit(TimeSpan.FromMinutes(2));
        string line = bmojo.Errors.Trim();
        Assert.Equal(1, exit);
        Assert.DoesNotContain('\n', line);
        Match match = Regex.Match(line, $@"^cannot save the checkpoint '{Regex.Escape(checkpoint)}' at step (?<step>\d+) \(.+\); saved the run to (?<path>\S+) instead: " +
                                        $@"continue with --resume \k<path> --checkpoint {Regex.Escape(checkpoint)}$");
        Assert.True(match.Success, line);
        string rescued = match.Groups["path"].Value;
        try
        {
            using Trainer resumed = Trainer.Resume(rescued, ModelCatalog.Find("TransformerTiny")!);
            Assert.Equal(int.Parse(match.Groups["step"].Value), resumed.Step);
            Assert.InRange(resumed.Step, 2, 1999);
        }
        finally
        {
            File.Delete(rescued);
        }
    }

    [Fact]
    public void Periodic_saves_keep_the_last_k_copies_and_a_copy_resumes_to_the_same_end()
    {
        string checkpoint = Path.Combine(directory, "p.safetensors");
        Cli.Result result = Cli.Run(["train", "TransformerTiny", .. Small, "--steps", "12", "--save-every", "3", "--keep", "2", "--checkpoint", checkpoint]);
        Assert.True(result.ExitCode == 0, result.Errors);
        Assert.Equal(new[] { "p.log.jsonl", "p.safetensors", "p.step-000006.safetensors", "p.step-000009.safetensors" },
                     Directory.GetFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(Enumerable.Range(1, 12), LogSteps(Path.Combine(directory, "p.log.jsonl")));

        ModelDefinition model = ModelCatalog.Find("TransformerTiny")!;
        using (Trainer copy = Trainer.Resume(Path.Combine(directory, "p.step-000009.safetensors"), model))
            Assert.Equal(9, copy.Step);
        string again = Path.Combine(directory, "again.safetensors");
        Cli.Result resumed = Cli.Run("train", "TransformerTiny", "--resume", Path.Combine(directory, "p.step-000009.safetensors"),
                                     "--checkpoint", again, "--keep", "0", "--threads", "2");
        Assert.True(resumed.ExitCode == 0, resumed.Errors);
        AssertSameTensors(checkpoint, again);
        Assert.False(File.Exists(Path.Combine(directory, "again.step-000012.safetensors")));
    }

    [Fact]
    public void Saves_by_time_keep_copies_too()
    {
        string checkpoint = Path.Combine(directory, "m.safetensors");
        // 0.0001 minutes (6 ms): a save after (nearly) every step; --keep 50 keeps them all.
        Cli.Result result = Cli.Run(["train", "TransformerTiny", .. Small, "--steps", "6", "--save-minutes", "0.0001", "--keep", "50", "--checkpoint", checkpoint]);
        Assert.True(result.ExitCode == 0, result.Errors);
        string[] copies = Directory.GetFiles(directory, "m.step-*.safetensors");
        Assert.InRange(copies.Length, 1, 5);   // never at the last step: the checkpoint itself holds it
        foreach (string copy in copies)
        {
            using Trainer saved = Trainer.Resume(copy, ModelCatalog.Find("TransformerTiny")!);
            Assert.Equal(RunFiles.StepPath(checkpoint, saved.Step), copy);
        }
    }

    [Theory]
    [InlineData("--save-every", "-1", "--save-every must be >= 0 (got -1)")]
    [InlineData("--save-minutes", "-2", "--save-minutes must be >= 0 (got -2)")]
    [InlineData("--keep", "-3", "--keep must be >= 0 (got -3)")]
    [InlineData("--grad-accum", "0", "--grad-accum must be positive (got 0)")]
    public void The_new_options_refuse_bad_values(string option, string value, string message)
    {
        Cli.Result result = Cli.Run(["train", "TransformerTiny", .. Small, "--steps", "2", option, value]);
        Assert.Equal((2, $"error: {message}"), (result.ExitCode, result.Errors.Trim()));
    }

    [Fact]
    public void Lm_training_checks_its_checkpoint_saves_periodically_and_logs_each_step()
    {
        string corpus = LmTestModels.SmallCorpus(), outDir = Path.Combine(directory, "lm");
        string spec = $"{LmTestModels.Fixture("lm-test.arch")}#LmMamba";
        string[] run = ["train", spec, "--task", "lm", "--data", corpus, "--tokenizer", "bytes", "--steps", "6", "--batch", "2",
                        "--seq-len", "16", "--eval-examples", "2", "--out", outDir, "--device", "cpu", "--threads", "2"];
        string file = Path.Combine(directory, "a-file");
        File.WriteAllText(file, "");
        Cli.Result refused = Cli.Run([.. run, "--checkpoint", Path.Combine(file, "x.safetensors")]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal($"cannot write the checkpoint '{Path.Combine(file, "x.safetensors")}': '{file}' is a file, not a folder", refused.Errors.Trim());

        Cli.Result train = Cli.Run([.. run, "--save-every", "2", "--keep", "1"]);
        Assert.True(train.ExitCode == 0, train.Errors + train.Output);
        Assert.True(File.Exists(Path.Combine(outDir, "checkpoint.safetensors")));
        Assert.True(File.Exists(Path.Combine(outDir, "checkpoint.step-000004.safetensors")));
        Assert.False(File.Exists(Path.Combine(outDir, "checkpoint.step-000002.safetensors")));
        Assert.Equal(Enumerable.Range(1, 6), LogSteps(Path.Combine(outDir, "checkpoint.log.jsonl")));
    }

    [Fact]
    public void A_batch_too_large_for_the_machine_is_refused_before_step_1_with_the_estimate()
    {
        if (TrainingMemory.Available() is not long available) return;   // no /proc/meminfo: not checked
        Cli.Result huge = Cli.Run(["train", "TransformerTiny", "--task", "mqar", "--steps", "1", "--batch", "100000000", "--threads", "2"]);
        Assert.Equal(1, huge.ExitCode);
        string line = huge.Errors.Trim();
        Assert.DoesNotContain('\n', line);
        Assert.Matches(@"^--batch 100000000 needs about [\d.]+ TB to train \(activations .+ for micro-batches of 100000000, weights\+gradients\+AdamW .+, " +
                       @"batch data .+\), but [\d.]+ [KMGT]?B is available \(MemAvailable\); use a smaller --batch$", line);

        // Where the batch's data fits but its activations do not, the line says which --grad-accum fits.
        if (available < 8L << 30) return;
        Cli.Result large = Cli.Run(["train", "TransformerTiny", "--task", "mqar", "--steps", "1", "--batch", "1000000", "--threads", "2"]);
        Assert.Equal(1, large.ExitCode);
        Assert.Matches(@"; use --grad-accum \d+ \(micro-batches of \d+, the same update\) or a smaller --batch$", large.Errors.Trim());
    }

    [Fact]
    public void Memory_estimate_follows_its_formula()
    {
        ModelDefinition model = ModelCatalog.Find("TransformerTiny")!;
        TrainingMemory one = TrainingMemory.Of(model.Settings, model.ParameterCount, 32, 1, 64, Training.Precision.Fp32);
        TrainingMemory four = TrainingMemory.Of(model.Settings, model.ParameterCount, 32, 4, 64, Training.Precision.Fp32);
        Assert.Equal(16 * model.ParameterCount, one.State);
        Assert.Equal(32L * 32 * 64, one.Data);
        Assert.Equal(8, four.MicroBatch);
        Assert.Equal(one.Activations, 4 * four.Activations);
        Assert.True(TrainingMemory.PerSequence(model.Settings, 64, Training.Precision.Fp32) > 12L * model.Settings.Vocab * 64);
    }

    [Fact]
    public void One_step_of_batch_8_in_2_micro_batches_gives_the_weights_of_one_step_of_batch_8()
    {
        // fp32 on the CPU: the two differ only by the order of float sums. The summed gradients (left in .grad after
        // the step) agree to 1e-6 relative to each tensor's largest gradient. The weights agree to 1e-6 relative to each
        // tensor's largest weight wherever the gradient is at least 1e-4 of the tensor's largest: AdamW's first step moves
        // a weight by lr·g/(|g| + 1e-8), so a gradient near 1e-8 (whose last bits the order of the sums changes)
        // moves its weight by an amount that rounding decides; there the weights agree only within 2·lr.
        ModelDefinition model = ModelCatalog.Find("TransformerTiny")!;
        var options = TrainingOptions.Default(MqarGridKind.Small) with { Steps = 1, Batch = 8, WarmupSteps = 0, EvalExamples = 8, Seed = 7 };
        using Trainer whole = Trainer.Start(model, options);
        float wholeLoss = whole.TrainStep().Loss;
        using Trainer parts = Trainer.Start(model, options);
        parts.Accumulation = 2;
        float partsLoss = parts.TrainStep().Loss;
        Assert.Equal(wholeLoss, partsLoss, 1e-5f);
        AssertSameStep(whole.Module, parts.Module, options.LearningRate);

        Assert.Throws<UserError>(() => parts.Accumulation = 9);
        Cli.Result cli = Cli.Run(["train", "TransformerTiny", .. Small, "--steps", "2", "--grad-accum", "2"]);
        Assert.True(cli.ExitCode == 0, cli.Errors);
        Assert.Contains("2 steps of 4 (2 micro-batches)", cli.Output);
        Cli.Result tooMany = Cli.Run(["train", "TransformerTiny", .. Small, "--steps", "2", "--grad-accum", "5"]);
        Assert.Equal(1, tooMany.ExitCode);
        Assert.Equal("--grad-accum (5) must be at most --batch (4)", tooMany.Errors.Trim());
    }

    [Fact]
    public void One_lm_step_of_batch_4_in_2_micro_batches_has_the_gradients_and_weights_of_one_step_of_batch_4()
    {
        // As the MQAR test: gradients (after clipping, left in .grad) to 1e-6 relative to each tensor's largest; weights
        // to 1e-6 of each tensor's largest where the gradient is at least 1e-4 of the tensor's largest, else within 2·lr.
        using TokenFile tokens = TokenFile.OpenOrBuild(TextCorpus.Open(LmTestModels.SmallCorpus()), TextTokenizer.Bytes);
        ModelDefinition model = LmTestModels.Get("LmTransformer");
        LmOptions options = LmOptions.Default with
        {
            Steps = 1, Batch = 4, SeqLen = 32, LearningRate = 3e-3, WarmupSteps = 0, Tokenizer = TextTokenizer.BytesName, HeldOut = 0.1, EvalSequences = 8,
        };
        using LmTrainer whole = LmTrainer.Start(model, options, tokens);
        double wholeLoss = whole.TrainStep().Loss;
        using LmTrainer parts = LmTrainer.Start(model, options, tokens);
        parts.Accumulation = 2;
        double partsLoss = parts.TrainStep().Loss;
        Assert.Equal(wholeLoss, partsLoss, 1e-5);
        AssertSameStep(whole.Model.Module, parts.Model.Module, options.LearningRate);

        string outDir = Path.Combine(directory, "lm-accum");
        Cli.Result cli = Cli.Run("train", $"{LmTestModels.Fixture("lm-test.arch")}#LmMamba", "--task", "lm", "--data", LmTestModels.SmallCorpus(),
                                 "--tokenizer", "bytes", "--steps", "2", "--batch", "4", "--seq-len", "16", "--eval-examples", "2", "--out", outDir,
                                 "--device", "cpu", "--threads", "2", "--grad-accum", "2");
        Assert.True(cli.ExitCode == 0, cli.Errors + cli.Output);
        Assert.Contains("2 steps of 4 x 16 (2 micro-batches)", cli.Output);
    }

    /// <summary>Two modules after one optimizer step from the same start on the same batch, one with accumulation.</summary>
    private static void AssertSameStep(nn.Module whole, nn.Module parts, double learningRate)
    {
        var expectedGrads = whole.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
        var actualGrads = parts.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
        Assert.Equal(expectedGrads.Keys, actualGrads.Keys);
        foreach ((string name, Tensor g) in expectedGrads)
        {
            double scale = g.abs().max().item<float>();
            double difference = (g - actualGrads[name]).abs().max().item<float>();
            Assert.True(difference <= 1e-6 * scale, $"{name}.grad: max difference {difference} (largest gradient {scale})");
        }
        var expected = whole.state_dict();
        var actual = parts.state_dict();
        Assert.Equal(expected.Keys, actual.Keys);
        foreach ((string name, Tensor w) in expected)
        {
            double scale = w.abs().max().item<float>();
            Tensor difference = (w - actual[name]).abs();
            if (!expectedGrads.TryGetValue(name, out Tensor? g))
            {
                Assert.True(difference.max().item<float>() <= 1e-6 * scale, $"{name} (a buffer) differs");
                continue;
            }
            Tensor clear = g.abs() >= 1e-4 * g.abs().max().item<float>();
            double clearDifference = (difference * clear).max().item<float>();
            Assert.True(clearDifference <= 1e-6 * scale, $"{name}: max difference {clearDifference} (largest weight {scale})");
            Assert.True(difference.max().item<float>() <= 2 * learningRate, $"{name}: a weight moved by more than 2·lr");
        }
    }

    private static List<int> LogSteps(string log)
    {
        if (!File.Exists(log)) return [];
        var steps = new List<int>();
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is string line)
        {
            if (!line.EndsWith('}')) break;   // a line still being written
            using var entry = JsonDocument.Parse(line);
            steps.Add(entry.RootElement.GetProperty("step").GetInt32());
        }
        return steps;
    }

    /// <summary>The same tensors (weights, AdamW's moments and steps, torch's generator), value for value, to the bit.</summary>
    private static void AssertSameTensors(string expectedPath, string actualPath)
    {
        (Dictionary<string, Tensor> expected, Dictionary<string, string> expectedMetadata) = SafeTensors.Read(expectedPath);
        (Dictionary<string, Tensor> actual, Dictionary<string, string> actualMetadata) = SafeTensors.Read(actualPath);
        try
        {
            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(expectedMetadata["step"], actualMetadata["step"]);
            Assert.Equal(expectedMetadata["data_rng"], actualMetadata["data_rng"]);
            foreach ((string name, Tensor e) in expected)
            {
                Tensor a = actual[name];
                Assert.Equal(e.dtype, a.dtype);
                Assert.Equal(e.shape, a.shape);
                if (e.dtype == ScalarType.Float32)
                    Assert.True(e.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits)
                                 .SequenceEqual(a.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits)), $"tensor '{name}' differs");
                else Assert.True(e.eq(a).all().item<bool>(), $"tensor '{name}' differs");
            }
            Assert.Contains(expected.Keys, k => !k.StartsWith("optimizer.", StringComparison.Ordinal) && k != "rng.torch");   // the weights are there
        }
        finally
        {
            foreach (Tensor t in expected.Values.Concat(actual.Values)) t.Dispose();
        }
    }
}
