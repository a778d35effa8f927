using System.Text.Json;
using System.Text.Json.Nodes;
using Bmojo.Cli.Hf;
using Bmojo.Cli.Lm;
using Bmojo.Cli.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Tests;

/// <summary>HuggingFace exchange. The fixtures (Fixtures/hf/{mamba,llama}) are random MambaForCausalLM and
/// LlamaForCausalLM models saved by transformers, with their fp32 CPU logits on fixed tokens (make_fixtures.py).</summary>
public sealed class HfTests
{
    [Theory]
    [InlineData("mamba", "HfMamba")]
    [InlineData("llama", "HfLlama")]
    public void Importing_a_transformers_model_reproduces_its_logits_and_greedy_continuation(string fixture, string spec)
    {
        string folder = LmTestModels.Fixture("hf", fixture);
        JsonObject reference = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "reference.json")))!.AsObject();
        ModelDefinition definition = LmTestModels.Get(spec);
        Assert.Equal(reference["parameter_count"]!.GetValue<long>(), definition.ParameterCount);
        using var model = new LmModel(definition, definition.Create());
        HfFolder.Import(folder, definition.Settings, model.Module);
        model.Module.eval();

        using var noGrad = no_grad();
        long[][] rows = reference["tokens"]!.AsArray().Select(r => r!.AsArray().Select(t => t!.GetValue<long>()).ToArray()).ToArray();
        Tensor tokens = tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length }, ScalarType.Int64);
        long[] shape = reference["logits_shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
        Tensor expected = tensor(reference["logits"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray(), shape);
        Tensor logits = model.Forward(tokens);
        double error = (logits - expected).abs().max().item<float>() / expected.abs().max().item<float>();
        Assert.True(error < 1e-5, $"{fixture}: max |ours - transformers| / max |transformers| = {error:E2}");

        int[] prompt = reference["greedy_prompt"]!.AsArray().Select(t => t!.GetValue<int>()).ToArray();
        int[] continuation = reference["greedy_continuation"]!.AsArray().Select(t => t!.GetValue<int>()).ToArray();
        Assert.Equal(continuation, TextGeneration.Generate(model, prompt, SamplingOptions.Greedy(continuation.Length)).Tokens);
    }

    [Theory]
    [InlineData("mamba", "HfMamba")]
    [InlineData("llama", "HfLlama")]
    public void Export_writes_back_the_tensors_and_config_that_were_imported(string fixture, string spec)
    {
        string folder = LmTestModels.Fixture("hf", fixture), outDir = LmTestModels.TempDir();
        ModelDefinition definition = LmTestModels.Get(spec);
        using nn.Module<Tensor, Tensor> model = definition.Create();
        HfFolder.Import(folder, definition.Settings, model);
        HfFolder.Export(outDir, definition.Settings, model, endOfText: 0);

        (Dictionary<string, Tensor> original, _) = Training.SafeTensors.Read(Path.Combine(folder, "model.safetensors"));
        (Dictionary<string, Tensor> written, Dictionary<string, string> metadata) = Training.SafeTensors.Read(Path.Combine(outDir, "model.safetensors"));
        Assert.Equal("pt", metadata["format"]);
        Assert.Equal(original.Keys.Order(), written.Keys.Order());
        foreach ((string name, Tensor t) in original) Assert.True(Same(t, written[name]), $"{name} differs after the round trip");

        JsonObject theirs = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
        JsonObject ours = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!.AsObject();
        foreach (string key in new[] { "model_type", "vocab_size", "hidden_size", "num_hidden_layers", "tie_word_embeddings", "intermediate_size",
                                       "state_size", "conv_kernel", "expand", "time_step_rank", "num_attention_heads", "num_key_value_heads", "head_dim" })
            if (theirs[key] is JsonNode value) Assert.Equal(value.ToJsonString(), ours[key]?.ToJsonString());

        // And back in: the same weights.
        using nn.Module<Tensor, Tensor> again = definition.Create();
        HfFolder.Import(outDir, definition.Settings, again);
        foreach ((string name, Tensor t) in model.state_dict()) Assert.True(Same(t, again.state_dict()[name]), name);
    }

    [Fact]
    public void A_folder_that_does_not_match_the_spec_or_a_spec_without_a_hf_layout_is_a_clear_error()
    {
        string mamba = LmTestModels.Fixture("hf", "mamba");
        using nn.Module<Tensor, Tensor> llama = LmTestModels.Get("HfLlama").Create();
        Assert.Contains("a mamba model, but HfLlama is exchanged as Llama",
                        Assert.Throws<UserError>(() => HfFolder.Import(mamba, LmTestModels.Get("HfLlama").Settings, llama)).Message);
        using nn.Module<Tensor, Tensor> small = LmTestModels.Get("LmMamba").Create();
        string message = Assert.Throws<UserError>(() => HfFolder.Import(mamba, LmTestModels.Get("LmMamba").Settings, small)).Message;
        Assert.Contains("config.json does not match LmMamba", message);
        Assert.Contains("vocab_size is 512, LmMamba has 257", message);
        Assert.Contains("hidden_size is 64, LmMamba has 32", message);

        Assert.Contains("B'MOJO layers", HfLayout.Classify(LmTestModels.Get("LmBMojo").Settings).Problem);
        Assert.Contains("JambaForCausalLM normalises dt, B and C", HfLayout.Classify(Bmojo.Models.JambaTiny.SpecSettings).Problem);
        Assert.Contains("LayerNorm", HfLayout.Classify(Bmojo.Models.TransformerTiny.SpecSettings).Problem);
        Assert.Equal(HfArchitecture.Llama, HfLayout.Classify(Bmojo.Models.TransformerSmall.SpecSettings).Architecture);
        Assert.Equal(HfArchitecture.Mamba, HfLayout.Classify(Bmojo.Models.MambaSmall.SpecSettings).Architecture);

        Cli.Result result = Cli.Run("export", "BMojoTiny", "--checkpoint", "x.safetensors", "--out", LmTestModels.TempDir());
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("cannot exchange BMojoTiny with HuggingFace: BMojoTiny has B'MOJO layers", result.Errors);
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();
}
