using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bmojo.Cli.Commands;
using Bmojo.Cli.Lm;
using Bmojo.Cli.Models;
using Bmojo.Cli.Training;
using Bmojo.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Hf;

/// <summary>Writing and reading HuggingFace folders (config.json + model.safetensors).</summary>
public static class HfFolder
{
    /// <summary>Writes <paramref name="module"/> (a model of <paramref name="s"/>) as a HuggingFace folder.</summary>
    public static void Export(string directory, ModelSettings s, nn.Module module, int? endOfText)
    {
        JsonObject config = HfLayout.Config(s, endOfText);
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> tensors = HfLayout.ToHf(s, module.state_dict());
        Directory.CreateDirectory(directory);
        ModelWeights.WriteAtomically(Path.Combine(directory, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        string configPath = Path.Combine(directory, "config.json");
        File.WriteAllText(configPath + ".tmp", config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(configPath + ".tmp", configPath, overwrite: true);
    }

    /// <summary>Loads a HuggingFace folder into <paramref name="module"/> (a model of <paramref name="s"/>): every
    /// parameter must come from the folder, and every tensor of the folder must be used.</summary>
    public static void Import(string directory, ModelSettings s, nn.Module module)
    {
        string configPath = Path.Combine(directory, "config.json"), weightsPath = Path.Combine(directory, "model.safetensors");
        if (!Directory.Exists(directory)) throw new UserError($"'{directory}' is not a folder (expected a HuggingFace model folder)");
        if (!File.Exists(configPath)) throw new UserError($"{directory} has no config.json");
        if (!File.Exists(weightsPath))
            throw new UserError(File.Exists(Path.Combine(directory, "model.safetensors.index.json"))
                ? $"{directory} holds a sharded checkpoint (model.safetensors.index.json); import reads one model.safetensors"
                : $"{directory} has no model.safetensors (a pytorch_model.bin folder needs converting: save_pretrained(..., safe_serialization=True))");
        JsonObject config;
        try
        {
            config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new UserError($"{configPath} is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new UserError($"{configPath} is not valid JSON: {e.Message}");
        }
        Dictionary<string, Tensor> hf;
        try
        {
            (hf, _) = SafeTensors.Read(weightsPath);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new UserError($"{weightsPath} is corrupt: {e.Message}");
        }
        try
        {
            using var scope = NewDisposeScope();
            Dictionary<string, Tensor> ours = HfLayout.FromHf(s, config, hf, directory);
            using var noGrad = no_grad();
            var used = new HashSet<string>();
            foreach ((string name, Tensor target) in module.state_dict())
            {
                if (!ours.TryGetValue(name, out Tensor? source)) throw new UserError($"{weightsPath} gives no tensor for our '{name}'");
                if (!source.shape.SequenceEqual(target.shape))
                    throw new UserError($"{weightsPath}: the tensor for '{name}' is [{string.Join(", ", source.shape)}], {s.Name} needs [{string.Join(", ", target.shape)}]");
                target.copy_(source);
                used.Add(name);
            }
            string[] unused = ours.Keys.Where(k => !used.Contains(k)).ToArray();
            if (unused.Length > 0)
                throw new UserError($"{weightsPath} has tensors {s.Name} does not: {string.Join(", ", unused.Take(5))}{(unused.Length > 5 ? ", ..." : "")}");
        }
        finally
        {
            foreach (Tensor t in hf.Values) t.Dispose();
        }
    }
}

public sealed class ExportSettings : SpecSettings
{
    [CommandOption("--checkpoint <FILE>")]
    [Description("A checkpoint (train --task lm or mqar) or weights (import) of SPEC.")]
    public string Checkpoint { get; init; } = "";

    [CommandOption("--format <FORMAT>")]
    [Description("hf: a HuggingFace transformers folder (config.json + model.safetensors).")]
    [DefaultValue("hf")]
    public string Format { get; init; } = "hf";

    [CommandOption("--out <DIR>")]
    [Description("The folder to write.")]
    public string Out { get; init; } = "";

    [CommandOption("--tokenizer <NAME>")]
    [ShownDefault("the checkpoint's, else gpt2")]
    [Description("Whose end-of-text id goes into the config (default: the checkpoint's, else gpt2).")]
    public string? Tokenizer { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Checkpoint)) return ValidationResult.Error("--checkpoint is required");
        if (string.IsNullOrEmpty(Out)) return ValidationResult.Error("--out is required: the folder to write");
        if (!string.Equals(Format, "hf", StringComparison.OrdinalIgnoreCase)) return ValidationResult.Error($"--format must be hf (got '{Format}')");
        return ValidationResult.Success();
    }
}

/// <summary><c>bmojo export SPEC --checkpoint F --format hf --out DIR</c>: a folder that transformers loads with
/// <c>MambaForCausalLM.from_pretrained(DIR)</c> or <c>LlamaForCausalLM.from_pretrained(DIR)</c>.</summary>
public sealed class ExportCommand(IAnsiConsole output, Streams streams) : Command<ExportSettings>
{
    public override int Execute(CommandContext context, ExportSettings settings, CancellationToken cancellation)
    {
        ModelDefinition definition = SpecLoader.LoadOne(settings.Spec, streams.Error);
        HfArchitecture architecture = HfLayout.Require(definition.Settings);
        string tokenizer = settings.Tokenizer ?? (LmTrainer.IsCheckpoint(settings.Checkpoint) ? LmTrainer.ReadOptions(settings.Checkpoint).Tokenizer : TextTokenizer.Gpt2Name);
        using LmModel model = LmEvalCommand.Load(definition, settings.Checkpoint, "cpu", null);
        HfFolder.Export(settings.Out, definition.Settings, model.Module, TextTokenizer.Named(tokenizer).EndOfText);
        string type = architecture == HfArchitecture.Mamba ? "MambaForCausalLM" : "LlamaForCausalLM";
        output.MarkupLine(Markup.Escape($"wrote {settings.Out}/config.json and model.safetensors: load with transformers.{type}.from_pretrained(\"{settings.Out}\")"));
        return 0;
    }
}

public sealed class ImportSettings : CommandSettings
{
    [CommandArgument(0, "<DIR>")]
    [Description("A HuggingFace model folder: config.json + model.safetensors (MambaForCausalLM or LlamaForCausalLM).")]
    public string Directory { get; init; } = "";

    [CommandOption("--spec <SPEC>")]
    [Description("The spec whose model the folder holds (sizes are checked against config.json).")]
    public string Spec { get; init; } = "";

    [CommandOption("--out <FILE>")]
    [Description("The weights file to write (safetensors), for eval, generate and export.")]
    public string Out { get; init; } = "";

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Spec)) return ValidationResult.Error("--spec is required: the model the folder holds");
        if (string.IsNullOrEmpty(Out)) return ValidationResult.Error("--out is required: the weights file to write");
        return ValidationResult.Success();
    }
}

/// <summary><c>bmojo import DIR --spec SPEC --out F</c>: a HuggingFace folder into weights of SPEC.</summary>
public sealed class ImportCommand(IAnsiConsole output, Streams streams) : Command<ImportSettings>
{
    public override int Execute(CommandContext context, ImportSettings settings, CancellationToken cancellation)
    {
        ModelDefinition definition = SpecLoader.LoadOne(settings.Spec, streams.Error);
        HfLayout.Require(definition.Settings);
        using nn.Module<Tensor, Tensor> model = definition.Create();
        HfFolder.Import(settings.Directory, definition.Settings, model);
        ModelWeights.Save(settings.Out, definition, model, new Dictionary<string, string> { ["imported_from"] = Path.GetFullPath(settings.Directory) });
        output.MarkupLine(Markup.Escape($"imported {settings.Directory} into {definition.Name} ({Format.Count(definition.ParameterCount)} parameters): {settings.Out}"));
        return 0;
    }
}
