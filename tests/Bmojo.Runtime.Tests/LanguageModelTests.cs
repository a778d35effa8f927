using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

/// <summary>The base class of generated models, with a hand-written subclass of the shape the generator writes.</summary>
public sealed class LanguageModelTests
{
    private const int V = 40, D = 16;
    private static readonly NormOptions Rms = new(NormKind.RmsNorm);
    private static readonly MambaOptions Mamba = new(DState: 4, DConv: 3, Expand: 2);
    private static readonly AttentionOptions Attention = new(Heads: 4, KvHeads: 2, RotaryDim: 4);
    private static readonly InferenceMemory AnyMemory = new(0, 0, null, 0);

    private static ModelSettings Settings(bool tied, int layers = 2) => new(
        "Small", V, D, Rms, tied,
        Enumerable.Range(0, layers).Select(i => new LayerSettings(i, i == 0 ? Mamba : Attention, null, AnyMemory)).ToArray(),
        ParameterCount: 0, KernelPolicy.Auto);

    /// <summary>Like a generated class: settings, a static layer builder, and nothing else.</summary>
    private sealed class Small(ModelSettings settings, KernelPolicy? kernels = null, int blocks = 2)
        : LanguageModel(settings, kernels, policy => Layers(policy, blocks), device: null)
    {
        private static Block[] Layers(KernelPolicy kernels, int blocks) => new[]
        {
            new Block(D, 0, new MambaMixer(D, 0, Mamba, kernels), Rms, null),
            new Block(D, 1, new AttentionMixer(D, 1, Attention, kernels), Rms, null),
        }.Take(blocks).ToArray();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_head_is_the_embedding_when_tied_and_lm_head_otherwise(bool tied)
    {
        manual_seed(1);
        using var model = new Small(Settings(tied));
        string[] names = model.state_dict().Keys.ToArray();
        Assert.Contains("backbone.embedding.weight", names);
        Assert.Equal(!tied, names.Contains("lm_head.weight"));
        Assert.All(names, name => Assert.True(name.StartsWith("backbone.") || name == "lm_head.weight", name));
        Tensor tokens = randint(0, V, [2, 6], dtype: ScalarType.Int64);
        Tensor logits = model.forward(tokens);
        Assert.Equal(new long[] { 2, 6, V }, logits.shape);
    }

    [Fact]
    public void An_untied_model_has_exactly_one_more_V_by_D_matrix()
    {
        using var tied = new Small(Settings(tied: true));
        using var untied = new Small(Settings(tied: false));
        Assert.Equal((long)V * D, untied.parameters().Sum(p => p.numel()) - tied.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Chunks_through_the_cache_give_the_logits_of_the_whole_sequence()
    {
        manual_seed(2);
        using var model = new Small(Settings(tied: false));
        Tensor tokens = randint(0, V, [2, 9], dtype: ScalarType.Int64);
        using var noGrad = no_grad();
        Tensor whole = model.forward(tokens);
        using ModelCache cache = model.AllocateCache(2);
        Tensor pieces = cat([model.Forward(tokens[.., ..5], cache), model.Forward(tokens[.., 5..], cache)], 1);
        Assert.Equal(9, cache.Position);
        TensorAssert.Close(whole, pieces, atol: 1e-5, rtol: 1e-4, what: "cached vs whole");
        Assert.Null(model.AuxLoss);
    }

    [Fact]
    public void The_policy_is_the_settings_one_unless_the_constructor_is_given_another()
    {
        using var byDefault = new Small(Settings(tied: true) with { Kernels = KernelPolicy.Unfused });
        Assert.Equal(KernelPolicy.Unfused, byDefault.Kernels);
        Assert.All(byDefault.modules().OfType<Mixer>(), mixer => Assert.Same(KernelPolicy.Unfused, mixer.Kernels));
        Assert.Equal(ScanPath.Unfused, byDefault.modules().OfType<MambaMixer>().Single().ScanPath);

        var given = new KernelPolicy(Scan: ScanPath.Sequential);
        using var model = new Small(Settings(tied: true) with { Kernels = KernelPolicy.Unfused }, given);
        Assert.Same(given, model.Kernels);
        Assert.Same(given, model.Settings.Kernels);
        Assert.All(model.modules().OfType<Mixer>(), mixer => Assert.Same(given, mixer.Kernels));
    }

    [Fact]
    public void Blocks_that_do_not_match_the_settings_layers_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new Small(Settings(tied: true, layers: 2), blocks: 1));
        Assert.StartsWith("Small: 1 blocks built for 2 layers", error.Message);
    }
}
