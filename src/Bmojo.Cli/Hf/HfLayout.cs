using System.Globalization;
using System.Text.Json.Nodes;
using Bmojo.Runtime;
using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Mixers;
using static TorchSharp.torch;

namespace Bmojo.Cli.Hf;

/// <summary>The HuggingFace architectures a spec can be exchanged as.</summary>
public enum HfArchitecture
{
    /// <summary><c>MambaForCausalLM</c>: every layer a <c>mamba</c> mixer, no feed-forward, RMSNorm.</summary>
    Mamba,

    /// <summary><c>LlamaForCausalLM</c>: every layer attention with full RoPE (no window, no bias) and a gated SiLU MLP
    /// (SwiGLU, no bias), RMSNorm.</summary>
    Llama,
}

/// <summary>
/// How our state-dict names and config map to HuggingFace transformers' <c>MambaForCausalLM</c> and
/// <c>LlamaForCausalLM</c> (config.json + model.safetensors). Ours are state-spaces/mamba's names
/// (<c>backbone.embedding</c>, <c>backbone.layers.{i}.{norm,mixer,norm2,mlp}</c>, <c>backbone.norm_f</c>,
/// <c>lm_head</c>). Mamba: the same but <c>backbone.embeddings</c>. Llama: <c>model.embed_tokens</c>,
/// <c>model.layers.{i}.input_layernorm</c>, <c>self_attn.{q,k,v,o}_proj</c> (our <c>in_proj</c> is q, k, v stacked
/// by rows), <c>post_attention_layernorm</c>, <c>mlp.{gate,up,down}_proj</c> (our gated <c>fc1</c> is up then gate
/// by rows, since it computes <c>y * silu(gate)</c>; <c>fc2</c> is down), <c>model.norm</c>. Both use the GPT-NeoX
/// "rotate half" RoPE and <c>x / sqrt(mean(x^2) + eps) * w</c>, as ours do.
/// </summary>
public static class HfLayout
{
    /// <summary>The architecture <paramref name="s"/> is exchangeable as, or why it is none of them.</summary>
    public static (HfArchitecture? Architecture, string? Problem) Classify(ModelSettings s)
    {
        if (s.Layers.Any(l => l.Mixer is BmojoOptions))
            return (null, $"{s.Name} has B'MOJO layers, which no HuggingFace architecture has; its checkpoint is already a safetensors " +
                          "file with state-spaces/mamba-style names (load it with safetensors.torch.load_file)");
        bool mixed = s.Layers.Any(l => l.Mixer is MambaOptions) && s.Layers.Any(l => l.Mixer is AttentionOptions);
        if (mixed || s.Layers.Any(l => l.FeedForward is MoeOptions))
            return (null, $"{s.Name} is a Jamba-style hybrid; HuggingFace's JambaForCausalLM normalises dt, B and C inside each Mamba layer " +
                          "(dt_layernorm, b_layernorm, c_layernorm) and routes its experts differently, which our layers do not, so it cannot be " +
                          "exported as Jamba without changing the model");
        if (s.Norm.Kind != NormKind.RmsNorm)
            return (null, $"{s.Name} uses LayerNorm; the HuggingFace Mamba and Llama layouts use RMSNorm (norm = rmsnorm)");
        if (s.Layers.All(l => l.Mixer is MambaOptions))
        {
            if (s.Layers.Any(l => l.FeedForward is not null))
                return (null, $"{s.Name} has Mamba layers with an MLP; MambaForCausalLM blocks are mixer-only (mlp = none)");
            if (s.Layers.Select(l => l.Mixer).Distinct().Count() != 1)
                return (null, $"{s.Name}'s Mamba layers differ in their settings; MambaForCausalLM has one setting for all layers");
            return (HfArchitecture.Mamba, null);
        }
        var attention = s.Layers.Select(l => l.Mixer).OfType<AttentionOptions>().Distinct().ToList();
        var mlps = s.Layers.Select(l => l.FeedForward).Distinct().ToList();
        if (attention.Count != 1 || mlps.Count != 1)
            return (null, $"{s.Name}'s layers differ in their settings; LlamaForCausalLM has one setting for all layers");
        AttentionOptions a = attention[0];
        int headDim = s.DModel / a.Heads;
        if (a.Window is not null) return (null, $"{s.Name} uses windowed attention; LlamaForCausalLM attends to the whole sequence");
        if (a.RotaryDim != headDim) return (null, $"{s.Name} rotates {a.RotaryDim} of {headDim} dims per head; LlamaForCausalLM rotates all (rope = true, no rotary_dim)");
        if (a.Bias) return (null, $"{s.Name} has attention biases; export supports bias = false (attention_bias false)");
        if (mlps[0] is not MlpOptions { Gated: true, Activation: Activation.Silu, Bias: false })
            return (null, $"{s.Name}'s MLP is not SwiGLU; LlamaForCausalLM needs mlp {{ gated = true, activation = silu, bias = false }}");
        return (HfArchitecture.Llama, null);
    }

    public static HfArchitecture Require(ModelSettings s) =>
        Classify(s) is (HfArchitecture architecture, _) ? architecture : throw new UserError($"cannot exchange {s.Name} with HuggingFace: {Classify(s).Problem}");

    /// <summary>config.json for <paramref name="s"/>.</summary>
    public static JsonObject Config(ModelSettings s, int? endOfText)
    {
        HfArchitecture architecture = Require(s);
        var config = new JsonObject();
        if (architecture == HfArchitecture.Mamba)
        {
            var m = (MambaOptions)s.Layers[0].Mixer;
            config["architectures"] = new JsonArray("MambaForCausalLM");
            config["model_type"] = "mamba";
            config["vocab_size"] = s.Vocab;
            config["hidden_size"] = s.DModel;
            config["state_size"] = m.DState;
            config["num_hidden_layers"] = s.Layers.Count;
            config["conv_kernel"] = m.DConv;
            config["expand"] = m.Expand;
            config["intermediate_size"] = m.Expand * s.DModel;
            config["time_step_rank"] = DtRank(s.DModel, m);
            config["time_step_min"] = m.DtMin;
            config["time_step_max"] = m.DtMax;
            config["time_step_floor"] = m.DtInitFloor;
            config["use_bias"] = m.Bias;
            config["use_conv_bias"] = m.ConvBias;
            config["hidden_act"] = "silu";
            config["layer_norm_epsilon"] = s.Norm.Eps;
            config["residual_in_fp32"] = true;
        }
        else
        {
            var a = (AttentionOptions)s.Layers[0].Mixer;
            var mlp = (MlpOptions)s.Layers[0].FeedForward!;
            config["architectures"] = new JsonArray("LlamaForCausalLM");
            config["model_type"] = "llama";
            config["vocab_size"] = s.Vocab;
            config["hidden_size"] = s.DModel;
            config["intermediate_size"] = mlp.Hidden;
            config["num_hidden_layers"] = s.Layers.Count;
            config["num_attention_heads"] = a.Heads;
            config["num_key_value_heads"] = a.KvHeads;
            config["head_dim"] = s.DModel / a.Heads;
            config["hidden_act"] = "silu";
            config["max_position_embeddings"] = 32768;
            config["rms_norm_eps"] = s.Norm.Eps;
            config["rope_theta"] = a.RopeBase;                                      // transformers 4
            config["rope_parameters"] = new JsonObject { ["rope_theta"] = a.RopeBase, ["rope_type"] = "default" };   // transformers 5
            config["rope_scaling"] = null;
            config["attention_bias"] = false;
            config["mlp_bias"] = false;
            config["pretraining_tp"] = 1;
        }
        config["tie_word_embeddings"] = s.TiedEmbeddings;
        config["torch_dtype"] = "float32";
        if (endOfText is int eot)
        {
            config["bos_token_id"] = eot;
            config["eos_token_id"] = eot;
            config["pad_token_id"] = eot;
        }
        config["bmojo_spec"] = s.Name;
        return config;
    }

    /// <summary>Our state dict under HuggingFace's names (new tensors, fp32, on the CPU).</summary>
    public static Dictionary<string, Tensor> ToHf(ModelSettings s, IReadOnlyDictionary<string, Tensor> ours)
    {
        HfArchitecture architecture = Require(s);
        var hf = new Dictionary<string, Tensor>();
        Tensor Get(string name) => (ours.TryGetValue(name, out Tensor? t) ? t : throw new UserError($"the checkpoint lacks '{name}'"))
            .detach().to_type(ScalarType.Float32).cpu().contiguous();
        if (architecture == HfArchitecture.Mamba)
        {
            foreach ((string name, _) in ours)
                hf[name == "backbone.embedding.weight" ? "backbone.embeddings.weight" : name] = Get(name);
            return hf;
        }
        var a = (AttentionOptions)s.Layers[0].Mixer;
        long headDim = s.DModel / a.Heads;
        hf["model.embed_tokens.weight"] = Get("backbone.embedding.weight");
        hf["model.norm.weight"] = Get("backbone.norm_f.weight");
        if (!s.TiedEmbeddings) hf["lm_head.weight"] = Get("lm_head.weight");
        for (int i = 0; i < s.Layers.Count; i++)
        {
            string our = $"backbone.layers.{i}.", their = $"model.layers.{i}.";
            hf[their + "input_layernorm.weight"] = Get(our + "norm.weight");
            hf[their + "post_attention_layernorm.weight"] = Get(our + "norm2.weight");
            Tensor[] qkv = Get(our + "mixer.in_proj.weight").split(new[] { a.Heads * headDim, a.KvHeads * headDim, a.KvHeads * headDim }, 0);
            hf[their + "self_attn.q_proj.weight"] = qkv[0].contiguous();
            hf[their + "self_attn.k_proj.weight"] = qkv[1].contiguous();
            hf[their + "self_attn.v_proj.weight"] = qkv[2].contiguous();
            hf[their + "self_attn.o_proj.weight"] = Get(our + "mixer.out_proj.weight");
            Tensor[] upGate = Get(our + "mlp.fc1.weight").chunk(2, 0);
            hf[their + "mlp.up_proj.weight"] = upGate[0].contiguous();
            hf[their + "mlp.gate_proj.weight"] = upGate[1].contiguous();
            hf[their + "mlp.down_proj.weight"] = Get(our + "mlp.fc2.weight");
        }
        return hf;
    }

    /// <summary>A HuggingFace folder's tensors under our names, after checking its config against <paramref name="s"/>.</summary>
    public static Dictionary<string, Tensor> FromHf(ModelSettings s, JsonObject config, IReadOnlyDictionary<string, Tensor> hf, string where)
    {
        HfArchitecture architecture = Require(s);
        var problems = new List<string>();
        void Expect(string key, object expected, object? fallback = null)
        {
            JsonNode? node = config[key];
            string? actual = node is null ? fallback?.ToString() : node.ToJsonString().Trim('"');
            string wanted = Convert.ToString(expected, CultureInfo.InvariantCulture)!;
            if (expected is bool) wanted = wanted.ToLowerInvariant();
            if (expected is double d && double.TryParse(actual, NumberStyles.Float, CultureInfo.InvariantCulture, out double a))
            {
                if (Math.Abs(a - d) > 1e-9 * Math.Max(1, Math.Abs(d))) problems.Add($"{key} is {actual}, {s.Name} has {wanted}");
                return;
            }
            if (!string.Equals(actual, wanted, StringComparison.OrdinalIgnoreCase))
                problems.Add($"{key} is {actual ?? "absent"}, {s.Name} has {wanted}");
        }
        string modelType = config["model_type"]?.GetValue<string>() ?? "";
        Expect("model_type", architecture == HfArchitecture.Mamba ? "mamba" : "llama");
        if (problems.Count > 0) throw new UserError($"{where}: a {modelType} model, but {s.Name} is exchanged as {architecture} ({problems[0]})");
        Expect("vocab_size", s.Vocab);
        Expect("hidden_size", s.DModel);
        Expect("num_hidden_layers", s.Layers.Count);
        Expect("tie_word_embeddings", s.TiedEmbeddings, architecture == HfArchitecture.Mamba ? "true" : "false");
        if (architecture == HfArchitecture.Mamba)
        {
            var m = (MambaOptions)s.Layers[0].Mixer;
            Expect("state_size", m.DState);
            Expect("conv_kernel", m.DConv);
            Expect("expand", m.Expand);
            if (config["time_step_rank"]?.ToJsonString().Trim('"') is string rank && rank != "auto") Expect("time_step_rank", DtRank(s.DModel, m));
            else if (DtRank(s.DModel, m) != MambaOptions.AutoDtRank(s.DModel)) problems.Add($"time_step_rank is auto, {s.Name} has {DtRank(s.DModel, m)}");
            Expect("use_bias", m.Bias, "false");
            Expect("use_conv_bias", m.ConvBias, "true");
            Expect("hidden_act", "silu", "silu");
            Expect("layer_norm_epsilon", s.Norm.Eps, "1e-5");
        }
        else
        {
            var a = (AttentionOptions)s.Layers[0].Mixer;
            var mlp = (MlpOptions)s.Layers[0].FeedForward!;
            Expect("intermediate_size", mlp.Hidden);
            Expect("num_attention_heads", a.Heads);
            Expect("num_key_value_heads", a.KvHeads, a.Heads == a.KvHeads ? a.Heads : null);
            if (config["head_dim"] is not null) Expect("head_dim", s.DModel / a.Heads);
            Expect("hidden_act", "silu");
            Expect("rms_norm_eps", s.Norm.Eps);
            if (config["rope_parameters"] is JsonObject rope)
            {
                string type = rope["rope_type"]?.ToJsonString().Trim('"') ?? "default";
                if (type != "default") problems.Add($"rope_parameters.rope_type is {type}; only plain RoPE (default) is supported");
                double theta = rope["rope_theta"]?.GetValue<double>() ?? 10000.0;
                if (Math.Abs(theta - a.RopeBase) > 1e-9 * a.RopeBase) problems.Add($"rope_parameters.rope_theta is {theta}, {s.Name} has {a.RopeBase}");
            }
            else
            {
                Expect("rope_theta", a.RopeBase, "10000");
            }
            Expect("attention_bias", false, "false");
            Expect("mlp_bias", false, "false");
            if (config["rope_scaling"] is JsonNode scaling) problems.Add($"rope_scaling is {scaling.ToJsonString()}; only plain RoPE is supported");
            if (config["pretraining_tp"] is JsonNode tp && tp.ToJsonString() != "1") problems.Add($"pretraining_tp is {tp.ToJsonString()}, must be 1");
        }
        if (problems.Count > 0)
            throw new UserError($"{where}/config.json does not match {s.Name}: {string.Join("; ", problems)}");

        Tensor Take(string name) => hf.TryGetValue(name, out Tensor? t)
            ? t.to_type(ScalarType.Float32)
            : throw new UserError($"{where}/model.safetensors lacks '{name}'");
        var ours = new Dictionary<string, Tensor>();
        if (architecture == HfArchitecture.Mamba)
        {
            foreach ((string name, Tensor t) in hf)
            {
                if (name == "lm_head.weight" && s.TiedEmbeddings) continue;      // the tied copy
                ours[name == "backbone.embeddings.weight" ? "backbone.embedding.weight" : name] = t.to_type(ScalarType.Float32);
            }
            return ours;
        }
        ours["backbone.embedding.weight"] = Take("model.embed_tokens.weight");
        ours["backbone.norm_f.weight"] = Take("model.norm.weight");
        if (!s.TiedEmbeddings) ours["lm_head.weight"] = Take("lm_head.weight");
        for (int i = 0; i < s.Layers.Count; i++)
        {
            string our = $"backbone.layers.{i}.", their = $"model.layers.{i}.";
            ours[our + "norm.weight"] = Take(their + "input_layernorm.weight");
            ours[our + "norm2.weight"] = Take(their + "post_attention_layernorm.weight");
            ours[our + "mixer.in_proj.weight"] = cat(new[] { Take(their + "self_attn.q_proj.weight"), Take(their + "self_attn.k_proj.weight"),
                                                              Take(their + "self_attn.v_proj.weight") }, 0);
            ours[our + "mixer.out_proj.weight"] = Take(their + "self_attn.o_proj.weight");
            ours[our + "mlp.fc1.weight"] = cat(new[] { Take(their + "mlp.up_proj.weight"), Take(their + "mlp.gate_proj.weight") }, 0);
            ours[our + "mlp.fc2.weight"] = Take(their + "mlp.down_proj.weight");
        }
        return ours;
    }

    private static int DtRank(int dModel, MambaOptions m) => m.DtRank > 0 ? m.DtRank : MambaOptions.AutoDtRank(dModel);
}
