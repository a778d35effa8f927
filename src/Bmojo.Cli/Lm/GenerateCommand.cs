using System.ComponentModel;
using Bmojo.Cli.Commands;
using Bmojo.Cli.Models;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Lm;

public sealed class GenerateSettings : SpecSettings
{
    [CommandOption("--checkpoint <FILE>")]
    [Description("An LM checkpoint written by train --task lm, or weights written by import.")]
    public string Checkpoint { get; init; } = "";

    [CommandOption("--prompt <TEXT>")]
    [Description("The text to continue.")]
    [DefaultValue("")]
    public string Prompt { get; init; } = "";

    [CommandOption("--temperature <T>")]
    [Description("Divides the logits; 0: greedy (default 0.8).")]
    [DefaultValue(0.8)]
    public double Temperature { get; init; } = 0.8;

    [CommandOption("--top-k <K>")]
    [Description("Sample from the K most likely tokens only; 0: all (default 50).")]
    [DefaultValue(50)]
    public int TopK { get; init; } = 50;

    [CommandOption("--top-p <P>")]
    [Description("Nucleus sampling: the most likely tokens covering probability P (default 0.95).")]
    [DefaultValue(0.95)]
    public double TopP { get; init; } = 0.95;

    [CommandOption("--seed <SEED>")]
    [Description("Seeds the sampling (default 0): the same seed gives the same text.")]
    [DefaultValue(0L)]
    public long Seed { get; init; }

    [CommandOption("--max-tokens <N>")]
    [Description("Tokens to generate (default 100; fewer at the end-of-text token).")]
    [DefaultValue(100)]
    public int MaxTokens { get; init; } = 100;

    [CommandOption("--tokenizer <NAME>")]
    [ShownDefault("the checkpoint's, else gpt2")]
    [Description("gpt2 or bytes (default: the checkpoint's, else gpt2).")]
    public string? Tokenizer { get; init; }

    [CommandOption("--device <DEVICE>")]
    [ShownDefault("cuda if torch sees a GPU, else cpu")]
    [Description("cpu, cuda or cuda:N (default: CUDA when available).")]
    public string? Device { get; init; }

    [CommandOption("--threads <N>")]
    [ShownDefault("torch's choice")]
    [Description("CPU threads torch uses.")]
    public int? Threads { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Checkpoint)) return ValidationResult.Error("--checkpoint is required: the file written by train --task lm or import");
        if (Threads is <= 0) return ValidationResult.Error($"--threads must be positive (got {Threads})");
        return new SamplingOptions(Temperature, TopK, TopP, Seed, MaxTokens).Check() is string problem
            ? ValidationResult.Error(problem)
            : ValidationResult.Success();
    }
}

/// <summary><c>bmojo generate SPEC --checkpoint F --prompt "..."</c>: the prompt and its continuation as plain text
/// (streamed as it comes), then the generation speed. Prefill once, then one token at a time through the cache.</summary>
public sealed class GenerateCommand(IAnsiConsole output, Streams streams) : Command<GenerateSettings>
{
    public override int Execute(CommandContext context, GenerateSettings settings, CancellationToken cancellation)
    {
        if (settings.Threads is int threads) TorchSharp.torch.set_num_threads(threads);
        ModelDefinition definition = SpecLoader.LoadOne(settings.Spec, streams.Error);
        string tokenizerName = settings.Tokenizer ?? (LmTrainer.IsCheckpoint(settings.Checkpoint) ? LmTrainer.ReadOptions(settings.Checkpoint).Tokenizer : TextTokenizer.Gpt2Name);
        TextTokenizer tokenizer = TextTokenizer.Named(tokenizerName);
        if (tokenizer.CheckVocab(definition.Settings) is string vocab) throw new UserError(vocab);
        using LmModel model = LmEvalCommand.Load(definition, settings.Checkpoint, settings.Device, null);
        int[] prompt = settings.Prompt.Length == 0 ? [tokenizer.EndOfText] : tokenizer.Encode(settings.Prompt);
        var options = new SamplingOptions(settings.Temperature, settings.TopK, settings.TopP, settings.Seed, settings.MaxTokens);

        streams.Out.Write(settings.Prompt);
        var generated = new List<int>();
        string shown = "";
        GenerationResult result = TextGeneration.Generate(model, prompt, options, tokenizer.EndOfText, token =>
        {
            // Decode the whole continuation each time: a byte-level token may complete a character begun before.
            generated.Add(token);
            string text = tokenizer.Decode(generated.Where(t => t != tokenizer.EndOfText));
            if (text.StartsWith(shown, StringComparison.Ordinal) && !text.EndsWith('\uFFFD'))
            {
                streams.Out.Write(text[shown.Length..]);
                streams.Out.Flush();
                shown = text;
            }
        });
        string final = tokenizer.Decode(generated.Where(t => t != tokenizer.EndOfText));
        if (final.StartsWith(shown, StringComparison.Ordinal)) streams.Out.Write(final[shown.Length..]);
        streams.Out.WriteLine();
        output.MarkupLine(Markup.Escape($"{result.Tokens.Count} tokens: prompt of {prompt.Length} prefilled in {result.Prefill.TotalMilliseconds:F0} ms, " +
                                        $"{Format.Number(result.TokensPerSecond, "F1")} tokens/s decoding ({model.Device.type.ToString().ToLowerInvariant()}, " +
                                        $"temperature {options.Temperature}, top-k {options.TopK}, top-p {options.TopP}, seed {options.Seed})"));
        return 0;
    }
}
