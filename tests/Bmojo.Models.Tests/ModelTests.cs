using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Models.Tests;

public sealed class ModelTests
{
    public static TheoryData<string> TinyModels =>
        new(GeneratedModels.All.Where(type => type.Name.EndsWith("Tiny", StringComparison.Ordinal)).Select(type => type.Name));

    public static TheoryData<string> AllModels => new(GeneratedModels.All.Select(type => type.Name));

    [Fact]
    public void Every_spec_made_a_model_a_full_size_one_and_a_tiny_one_for_each_architecture()
    {
        string[] expected =
        {
            "BMojo", "BMojoF", "BMojoFTiny", "BMojoTiny", "Jamba", "JambaTiny", "Mamba", "MambaTiny", "Transformer",
            "TransformerTiny",
        };
        Assert.Equal(expected, GeneratedModels.All.Select(type => type.Name));
    }

    [Theory]
    [MemberData(nameof(TinyModels))]
    public void A_tiny_model_runs_a_forward_pass_on_the_cpu_to_logits_of_shape_B_L_V(string name)
    {
        Type type = GeneratedModels.Named(name);
        using var _ = torch.NewDisposeScope();
        torch.manual_seed(1);
        using nn.Module<Tensor, Tensor> model = GeneratedModels.Create(type);
        int vocab = GeneratedModels.Settings(type).Vocab;
        Tensor tokens = torch.randint(0, vocab, new long[] { 2, 12 }, dtype: ScalarType.Int64);

        Tensor logits = model.forward(tokens);

        Assert.Equal(new long[] { 2, 12, vocab }, logits.shape);
        Assert.True(logits.isfinite().all().item<bool>(), $"{name} produced non-finite logits");
    }

    [Theory]
    [MemberData(nameof(AllModels))]
    public void The_built_model_has_exactly_the_parameter_count_the_generator_computed(string name)
    {
        Type type = GeneratedModels.Named(name);
        using var _ = torch.NewDisposeScope();
        using nn.Module<Tensor, Tensor> model = GeneratedModels.Create(type);

        long actual = model.parameters().Sum(parameter => parameter.numel());

        Assert.Equal(GeneratedModels.ParameterCount(type), actual);
        Assert.Equal(GeneratedModels.ParameterCount(type), GeneratedModels.Settings(type).ParameterCount);
    }

    [Theory]
    [MemberData(nameof(TinyModels))]
    public void State_dict_names_follow_the_mamba_reference(string name)
    {
        Type type = GeneratedModels.Named(name);
        using var _ = torch.NewDisposeScope();
        using nn.Module<Tensor, Tensor> model = GeneratedModels.Create(type);
        string[] names = model.state_dict().Keys.ToArray();

        Assert.Contains("backbone.embedding.weight", names);
        Assert.Contains("backbone.norm_f.weight", names);
        Assert.Contains(names, key => key.StartsWith("backbone.layers.0.mixer.", StringComparison.Ordinal));
        Assert.Equal(!GeneratedModels.Settings(type).TiedEmbeddings, names.Contains("lm_head.weight"));
    }
}
