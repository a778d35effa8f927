using System.Globalization;
using Bmojo.Cli.Lm;
using static TorchSharp.torch;

namespace Bmojo.Cli.Tests;

public sealed class LmTrainingTests
{
    private static LmOptions Small(int steps) => LmOptions.Default with
    {
        Steps = steps, Batch = 4, SeqLen = 32, LearningRate = 3e-3, WarmupSteps = 2, Tokenizer = TextTokenizer.BytesName,
        HeldOut = 0.1, EvalSequences = 8,
    };

    [Fact]
    public void Training_lowers_the_held_out_loss_and_a_resumed_run_repeats_an_uninterrupted_one()
    {
        string corpus = LmTestModels.SmallCorpus();
        using TokenFile tokens = TokenFile.OpenOrBuild(TextCorpus.Open(corpus), TextTokenizer.Bytes);
        var definition = LmTestModels.Get("LmTransformer");

        double[] straight;
        LmValidation before, after;
        using (LmTrainer trainer = LmTrainer.Start(definition, Small(12), tokens))
        {
            before = trainer.Validate();
            straight = Enumerable.Range(0, 12).Select(_ => trainer.TrainStep().Loss).ToArray();
            after = trainer.Validate();
        }
        Assert.True(after.Loss < before.Loss - 0.5, $"held-out loss {before.Loss} -> {after.Loss}");
        Assert.Equal(Math.Exp(after.Loss), after.Perplexity, 6);

        string checkpoint = Path.Combine(LmTestModels.TempDir(), "run.safetensors");
        var resumed = new List<double>();
        using (LmTrainer first = LmTrainer.Start(definition, Small(12), tokens))
        {
            for (int i = 0; i < 5; i++) resumed.Add(first.TrainStep().Loss);
            first.Save(checkpoint);
        }
        Assert.True(LmTrainer.IsCheckpoint(checkpoint));
        Assert.Equal(Small(12), LmTrainer.ReadOptions(checkpoint));
        using (LmTrainer second = LmTrainer.Resume(checkpoint, definition, tokens))
        {
            Assert.Equal(5, second.Step);
            while (!second.Finished) resumed.Add(second.TrainStep().Loss);
            Assert.Equal(after.Loss, second.Validate().Loss);
        }
        Assert.Equal(straight, resumed);
    }

    [Fact]
    public void Resuming_on_other_data_or_as_another_model_is_refused()
    {
        using TokenFile tokens = TokenFile.OpenOrBuild(TextCorpus.Open(LmTestModels.SmallCorpus()), TextTokenizer.Bytes);
        string checkpoint = Path.Combine(LmTestModels.TempDir(), "run.safetensors");
        using (LmTrainer trainer = LmTrainer.Start(LmTestModels.Get("LmMamba"), Small(2), tokens))
        {
            trainer.TrainStep();
            trainer.Save(checkpoint);
        }
        using TokenFile other = TokenFile.OpenOrBuild(TextCorpus.Open(LmTestModels.SmallCorpus()), TextTokenizer.Bytes);
        Assert.Contains("other data", Assert.Throws<UserError>(() => LmTrainer.Resume(checkpoint, LmTestModels.Get("LmMamba"), other)).Message);
        Assert.Contains("holds a LmMamba, not a LmTransformer",
                        Assert.Throws<UserError>(() => LmTrainer.Resume(checkpoint, LmTestModels.Get("LmTransformer"), tokens)).Message);
    }

    [Fact]
    public void The_lm_commands_train_log_plot_evaluate_generate_export_and_import_end_to_end()
    {
        string corpus = LmTestModels.SmallCorpus(), outDir = LmTestModels.TempDir();
        string spec = $"{LmTestModels.Fixture("lm-test.arch")}#LmMamba";

        Cli.Result train = Cli.Run("train", spec, "--task", "lm", "--data", corpus, "--tokenizer", "bytes", "--steps", "6", "--batch", "4",
                                   "--seq-len", "32", "--eval-every", "3", "--eval-examples", "4", "--out", outDir, "--device", "cpu");
        Assert.True(train.ExitCode == 0, train.Errors + train.Output);
        Assert.Contains("step 0: validation loss", train.Output);
        string[] csv = File.ReadAllLines(Path.Combine(outDir, "training.csv"));
        Assert.Equal(LmTrainCommand.CsvHeader, csv[0]);
        Assert.Equal(new[] { "0", "3", "6" }, csv.Skip(1).Select(line => line.Split(',')[0]));
        double firstPerplexity = double.Parse(csv[1].Split(',')[6], CultureInfo.InvariantCulture);
        double lastPerplexity = double.Parse(csv[^1].Split(',')[6], CultureInfo.InvariantCulture);
        Assert.True(lastPerplexity < firstPerplexity, $"validation perplexity {firstPerplexity} -> {lastPerplexity}");
        Assert.True(new FileInfo(Path.Combine(outDir, "perplexity.png")).Length > 1000);
        string checkpoint = Path.Combine(outDir, "checkpoint.safetensors");
        Assert.True(File.Exists(checkpoint));

        Cli.Result eval = Cli.Run("eval", spec, "--checkpoint", checkpoint, "--task", "lm", "--data", corpus, "--eval-lengths", "1,2",
                                  "--eval-tokens", "128");
        Assert.True(eval.ExitCode == 0, eval.Errors + eval.Output);
        Assert.Contains("trained at L 32", eval.Output);
        string[] evalCsv = File.ReadAllLines(Path.Combine(outDir, "eval.csv"));
        Assert.Contains(evalCsv, line => line.StartsWith("LmMamba,64,2,recurrent,", StringComparison.Ordinal));
        Assert.True(new FileInfo(Path.Combine(outDir, "length-curve.png")).Length > 1000);

        Cli.Result generate = Cli.Run("generate", spec, "--checkpoint", checkpoint, "--prompt", "Call me", "--max-tokens", "12", "--seed", "3");
        Assert.True(generate.ExitCode == 0, generate.Errors + generate.Output);
        Assert.StartsWith("Call me", generate.Text);
        Assert.Contains("tokens/s decoding", generate.Output);
        Assert.Equal(generate.Text, Cli.Run("generate", spec, "--checkpoint", checkpoint, "--prompt", "Call me", "--max-tokens", "12", "--seed", "3").Text);

        string hf = Path.Combine(outDir, "hf");
        Cli.Result export = Cli.Run("export", spec, "--checkpoint", checkpoint, "--format", "hf", "--out", hf);
        Assert.True(export.ExitCode == 0, export.Errors + export.Output);
        Assert.Contains("MambaForCausalLM.from_pretrained", export.Output);
        string weights = Path.Combine(outDir, "imported.safetensors");
        Cli.Result import = Cli.Run("import", hf, "--spec", spec, "--out", weights);
        Assert.True(import.ExitCode == 0, import.Errors + import.Output);
        Cli.Result greedyTrained = Cli.Run("generate", spec, "--checkpoint", checkpoint, "--prompt", "Alice", "--temperature", "0", "--tokenizer", "bytes");
        Cli.Result greedyImported = Cli.Run("generate", spec, "--checkpoint", weights, "--prompt", "Alice", "--temperature", "0", "--tokenizer", "bytes");
        Assert.Equal(greedyTrained.Text, greedyImported.Text);

        Cli.Result resume = Cli.Run("train", spec, "--task", "lm", "--data", corpus, "--resume", checkpoint, "--steps", "9", "--out", outDir);
        Assert.Equal(1, resume.ExitCode);
        Assert.Contains("--steps 9 (the run has 6)", resume.Errors);
        Cli.Result mqarOnly = Cli.Run("train", spec, "--task", "mqar", "--seq-len", "32");
        Assert.NotEqual(0, mqarOnly.ExitCode);
        Assert.Contains("belong to --task lm", mqarOnly.Errors);
    }
}
