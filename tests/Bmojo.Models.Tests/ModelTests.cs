using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Models.Tests;

public sealed class ModelTests
{
    public static TheoryData<string> TinyModels =>
        new(GeneratedModels.All.Where(model => model.Name.EndsWith("Tiny", StringComparison.Ordinal)).Select(model => model.Name));

    [Fact]
    public void Every_spec_made_a_model_a_full_size_one_and_a_tiny_one_for_each_architecture()
    {
        string[] expected =
        {
            "BMojo", "BMojoF", "BMojoFTiny", "BMojoTiny", "Jamba", "JambaTiny", "Mamba", "Mamba2", "Mamba2Tiny", "MambaTiny", "Transformer",
            "TransformerTiny",
        };
        Assert.Equal(expected, GeneratedModels.All.Select(model => model.Name));
        Assert.Equal(expected, BmojoModels.All.Select(model => model.Name));
        Assert.All(GeneratedModels.All, model => Assert.Equal(model.Name, model.Settings.Name));
    }

    [Theory]
    [MemberData(nameof(TinyModels))]
    public void A_tiny_model_runs_a_forward_pass_on_the_cpu_to_logits_of_shape_B_L_V(string name)
    {
        ModelEntry entry = GeneratedModels.Named(name);
        using var _ = torch.NewDisposeScope();
        torch.manual_seed(1);
        using LanguageModel model = entry.Create();
        int vocab = entry.Settings.Vocab;
        Tensor tokens = torch.randint(0, vocab, new long[] { 2, 12 }, dtype: ScalarType.Int64);

        Tensor logits = model.forward(tokens);

        Assert.Equal(new long[] { 2, 12, vocab }, logits.shape);
        Assert.True(logits.isfinite().all().item<bool>(), $"{name} produced non-finite logits");
    }

    [Theory]
    [MemberData(nameof(TinyModels))]
    public void Prefill_then_token_by_token_through_the_cache_gives_the_logits_of_the_whole_sequence(string name)
    {
        ModelEntry entry = GeneratedModels.Named(name);
        using var _ = torch.NewDisposeScope();
        torch.manual_seed(2);
        using LanguageModel model = entry.Create();
        model.eval();
        using var noGrad = torch.no_grad();
        // 24 tokens: longer than the tiny B'MOJO specs' window + fading band (8 + 8), so tokens leave the window,
        // pass the innovation test or not, and enter and leave the eidetic memory while decoding.
        const int length = 24, prefill = 10;
        Tensor tokens = torch.randint(0, entry.Settings.Vocab, new long[] { 2, length }, dtype: ScalarType.Int64);
        Tensor whole = model.forward(tokens);  // (B, L, V)

        using ModelCache cache = model.AllocateCache(2);
        var pieces = new List<Tensor> { model.Forward(tokens[.., ..prefill], cache) };            // (B, 10, V)
        for (int t = prefill; t < length; t++)
            pieces.Add(model.Forward(tokens[.., t..(t + 1)], cache));                               // (B, 1, V)

        Assert.Equal(length, cache.Position);
        Tensor recurrent = torch.cat(pieces, dim: 1);
        double error = (recurrent - whole).abs().max().item<float>();
        Assert.True(error < 1e-4, $"{name}: prefill + token-by-token logits differ from the whole-sequence ones by {error}");
    }

    [Theory]
    [MemberData(nameof(TinyModels))]
    public void State_dict_names_follow_the_mamba_reference(string name)
    {
        ModelEntry entry = GeneratedModels.Named(name);
        using var _ = torch.NewDisposeScope();
        using LanguageModel model = entry.Create();
        string[] names = model.state_dict().Keys.ToArray();

        Assert.Contains("backbone.embedding.weight", names);
        Assert.Contains("backbone.norm_f.weight", names);
        Assert.Contains(names, key => key.StartsWith("backbone.layers.0.mixer.", StringComparison.Ordinal));
        Assert.Equal(!entry.Settings.TiedEmbeddings, names.Contains("lm_head.weight"));
    }
}
