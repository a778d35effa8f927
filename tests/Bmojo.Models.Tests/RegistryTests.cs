using Bmojo.Runtime;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Models.Tests;

/// <summary>The generated registry is the one way to every canonical model: each entry builds its class, with the
/// kernel policy it is given reaching every mixer, and the base class runs its forwards.</summary>
public sealed class RegistryTests
{
    public static TheoryData<string> AllModels => new(GeneratedModels.All.Select(model => model.Name));

    public static TheoryData<string> TinyModels =>
        new(GeneratedModels.All.Where(model => model.Name.EndsWith("Tiny", StringComparison.Ordinal)).Select(model => model.Name));

    [Fact]
    public void The_registry_of_the_assembly_is_its_generated_list_and_is_in_the_global_one()
    {
        IReadOnlyList<ModelEntry> registered = ModelRegistry.Of(typeof(BmojoModels).Assembly);
        Assert.Equal(BmojoModels.All, registered);
        Assert.All(registered, model => Assert.Contains(model, ModelRegistry.All));
        Assert.Same(GeneratedModels.Named("MambaTiny"), ModelRegistry.Find(typeof(BmojoModels).Assembly, "mambatiny"));
        Assert.Null(ModelRegistry.Find(typeof(BmojoModels).Assembly, "NoSuchModel"));
        Assert.Empty(ModelRegistry.Of(typeof(ModelRegistry).Assembly));              // the runtime has no specs
    }

    [Fact]
    public void Each_entry_builds_its_own_class_with_the_settings_it_lists()
    {
        Assert.IsType<TransformerTiny>(GeneratedModels.Named(nameof(TransformerTiny)).Create());
        using LanguageModel bmojo = GeneratedModels.Named(nameof(BMojoTiny)).Create();
        Assert.IsType<BMojoTiny>(bmojo);
        Assert.Equal(BMojoTiny.SpecSettings, bmojo.Settings);                        // the build's policy: Auto
        Assert.Equal(KernelPolicy.Auto, bmojo.Kernels);
    }

    [Theory]
    [MemberData(nameof(TinyModels))]
    public void The_paths_a_tiny_model_ran_are_the_ones_its_policy_names(string name)
    {
        ModelEntry entry = GeneratedModels.Named(name);
        using var _ = NewDisposeScope();
        manual_seed(3);
        using LanguageModel model = entry.Create(kernels: new KernelPolicy(ScanPath.Chunked, BmojoPath.Reference));
        Tensor tokens = randint(0, entry.Settings.Vocab, new long[] { 1, 9 }, dtype: ScalarType.Int64);
        using (no_grad()) model.forward(tokens);

        Assert.All(model.modules().OfType<IMixer>(), m => Assert.NotNull(m.LastPath));
        Assert.All(model.modules().OfType<MambaMixer>(), m => Assert.Equal(new MixerPath(Scan: ScanPath.Chunked), m.LastPath));
        Assert.All(model.modules().OfType<BmojoMixer>(), m => Assert.Equal(BmojoPath.Reference, m.LastPath?.BmojoAttention));
        Assert.All(model.modules().OfType<AttentionMixer>(), m => Assert.Equal(new MixerPath(TorchAttention: true), m.LastPath));
        Assert.All(model.modules().OfType<SsdMixer>(), m => Assert.Equal(new MixerPath(Ssd: Bmojo.Runtime.Ops.Ssd.SsdPath.Chunked), m.LastPath));
    }

    [Theory]
    [MemberData(nameof(TinyModels))]
    public void Two_policies_give_the_same_logits_with_the_same_weights(string name)
    {
        ModelEntry entry = GeneratedModels.Named(name);
        using var _ = NewDisposeScope();
        manual_seed(4);
        using LanguageModel auto = entry.Create();
        using LanguageModel exact = entry.Create(kernels: new KernelPolicy(ScanPath.Sequential, BmojoPath.Reference));
        exact.load_state_dict(auto.state_dict());
        Tensor tokens = randint(0, entry.Settings.Vocab, new long[] { 2, 20 }, dtype: ScalarType.Int64);
        using (no_grad())
        {
            double gap = (auto.forward(tokens) - exact.forward(tokens)).abs().max().item<float>();
            Assert.True(gap < 1e-4, $"{name}: Auto and the reference paths differ by {gap}");
        }
    }
}

/// <summary>In the meta-device collection: building on <c>meta</c> changes TorchSharp's process-wide default device.</summary>
[Collection(nameof(DefaultDeviceCollection))]
public sealed class KernelPolicyReachTests
{
    public static TheoryData<string> AllModels => RegistryTests.AllModels;

    /// <summary>Built on the meta device (shapes only), so the full-size models cost no memory.</summary>
    [Theory]
    [MemberData(nameof(AllModels))]
    public void The_kernel_policy_given_to_the_constructor_reaches_every_mixer_and_stays(string name)
    {
        ModelEntry entry = GeneratedModels.Named(name);
        var policy = new KernelPolicy(ScanPath.Sequential, BmojoPath.Reference);
        Device previous = get_default_device();
        set_default_device(META);
        try
        {
            using LanguageModel model = entry.Create(kernels: policy);
            Assert.Equal(policy, model.Kernels);
            Assert.Equal(entry.Settings with { Kernels = policy }, model.Settings);
            List<Mixer> mixers = model.modules().OfType<Mixer>().ToList();
            Assert.True(mixers.Count >= entry.Settings.Layers.Count, $"{name}: {mixers.Count} mixers");
            Assert.All(mixers, mixer => Assert.Same(policy, mixer.Kernels));
            Assert.All(mixers.OfType<MambaMixer>(), mamba => Assert.Equal(ScanPath.Sequential, mamba.ScanPath));
            Assert.All(mixers, mixer => Assert.Null(mixer.LastPath));
        }
        finally
        {
            set_default_device(previous);
        }
    }
}
