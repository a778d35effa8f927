using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>The <c>ssd</c> kind (Mamba-2): its keys' defaults and ranges, its cross-key errors at their place, its
/// parameter count, memory and texts.</summary>
public sealed class SsdKindTests
{
    private const string Head = "model A {\n  vocab = 64\n  d_model = 64\n  layers = 2\n";

    private static SsdPlan Ssd(string component) =>
        Assert.IsType<SsdPlan>(TestSpecs.Model(Head + $"  mixer = {component}\n}}").Layers[0].Mixer);

    private static Diagnostic Error(string component) =>
        Assert.Single(TestSpecs.Compile(("specs/x.arch", Head + $"  mixer = {component}\n}}")).Diagnostics);

    [Fact]
    public void Defaults_are_Mamba2s()
    {
        // d_model 64: d_inner 128, the default headdim 64 gives 2 heads.
        Assert.Equal(new SsdPlan(DState: 128, DConv: 4, Expand: 2, HeadDim: 64, Heads: 2, NGroups: 1, ChunkSize: 256,
                                 DtMin: 0.001, DtMax: 0.1, DtInitFloor: 1e-4, ConvBias: true, Bias: false), Ssd("ssd"));
    }

    [Fact]
    public void Every_key_is_read()
    {
        Assert.Equal(new SsdPlan(64, 2, 4, 32, 8, 2, 64, 0.002, 0.2, 1e-3, false, true), Ssd(
            "ssd { d_state = 64, d_conv = 2, expand = 4, headdim = 32, ngroups = 2, chunk_size = 64, dt_min = 0.002, " +
            "dt_max = 0.2, dt_init_floor = 1e-3, conv_bias = false, bias = true }"));
    }

    [Fact]
    public void Heads_sets_the_head_size_instead_of_headdim()
    {
        SsdPlan ssd = Ssd("ssd { heads = 8, ngroups = 4 }");
        Assert.Equal((8, 16, 4), (ssd.Heads, ssd.HeadDim, ssd.NGroups));
    }

    [Theory]
    [InlineData("ssd { d_state = ⟦0⟧ }", "BMJ0200", "d_state must be in 1..256, got 0")]
    [InlineData("ssd { d_state = ⟦512⟧ }", "BMJ0200", "d_state must be in 1..256, got 512")]
    [InlineData("ssd { chunk_size = ⟦0⟧ }", "BMJ0200", "chunk_size must be in 1..16777216, got 0")]
    [InlineData("ssd { expand = ⟦17⟧ }", "BMJ0200", "expand must be in 1..16, got 17")]
    [InlineData("ssd { headdim = ⟦48⟧ }", "BMJ0208", "headdim (48) must divide d_inner = expand * d_model (128)")]
    [InlineData("ssd { heads = ⟦3⟧ }", "BMJ0208", "heads (3) must divide d_inner = expand * d_model (128)")]
    [InlineData("ssd { headdim = 16, ngroups = ⟦3⟧ }", "BMJ0208", "ngroups (3) must divide heads (8)")]
    [InlineData("ssd { heads = 4, ⟦headdim⟧ = 32 }", "BMJ0109",
                "'headdim' does not apply to ssd: 'heads' is stated, which sets headdim = d_inner / heads; state one of the two")]
    [InlineData("ssd { dt_min = ⟦0.5⟧ }", "BMJ0205", "dt_min (0.5) must be less than dt_max (0.1)")]
    [InlineData("ssd { ⟦head_dim⟧ = 32 }", "BMJ0101", "unknown key 'head_dim' in ssd; did you mean 'headdim'?")]
    [InlineData("ssd { headdim = ⟦yes⟧ }", "BMJ0104", "'headdim' expects an integer, got 'yes'")]
    public void Bad_keys_are_errors_at_their_value(string component, string id, string message)
    {
        var expected = Markup.Parse(Head + $"  mixer = {component}\n}}");
        var (models, diagnostics) = TestSpecs.Compile(("specs/x.arch", expected.Text));
        Diagnostic diagnostic = Assert.Single(diagnostics);
        Assert.Equal((id, message), (diagnostic.Id, diagnostic.Message));
        Assert.Equal(expected.Start, diagnostic.Start);
        Assert.Equal(expected.End, diagnostic.End);
        Assert.Empty(models);
    }

    [Fact]
    public void A_default_headdim_that_does_not_divide_is_reported_at_the_kind_with_file_line_and_column()
    {
        // d_model 40, expand 2: d_inner 80, and the default headdim 64 does not divide it.
        var (_, diagnostics) = TestSpecs.Compile(("specs/x.arch", "model A {\n  vocab = 64\n  d_model = 40\n  layers = 2\n  mixer = ssd\n}"));
        Assert.Equal("specs/x.arch(5,11): error BMJ0208: headdim (64) must divide d_inner = expand * d_model (80)",
                     Assert.Single(diagnostics).ToString());
        Assert.Equal("specs/x.arch(5,27): error BMJ0200: d_state must be in 1..256, got 0", Error("ssd { d_state = 0 }").ToString());
    }

    [Theory]
    [InlineData("ssd", 64)]
    [InlineData("ssd { d_state = 16, headdim = 16, ngroups = 2, conv_bias = false, bias = true }", 64)]
    [InlineData("ssd { d_state = 128, headdim = 64 }", 1024)]
    public void The_parameter_count_is_Mamba2s_module(string component, int d)
    {
        SsdPlan ssd = Assert.IsType<SsdPlan>(TestSpecs.Model(
            $"model A {{\n  vocab = 64\n  d_model = {d}\n  layers = 1\n  mixer = {component}\n}}").Layers[0].Mixer);
        long inner = 2L * d, h = ssd.Heads, gn = (long)ssd.NGroups * ssd.DState, conv = inner + 2 * gn;
        long expected = d * (2 * inner + 2 * gn + h) + (ssd.Bias ? 2 * inner + 2 * gn + h : 0)   // in_proj: z, x, B, C, dt
                      + conv * ssd.DConv + (ssd.ConvBias ? conv : 0)                                // conv1d over x, B, C
                      + 3 * h                                                                       // dt_bias, A_log, D
                      + inner                                                                       // norm
                      + inner * d + (ssd.Bias ? d : 0);                                             // out_proj
        Assert.Equal(expected, ComponentKindRegistry.Of(ssd).Parameters(ssd, d));
        if (d == 1024) Assert.Equal(6_600_032, expected);                                          // Mamba-2-370M's mixer
    }

    [Fact]
    public void The_repository_specs_have_the_commented_counts_and_memory()
    {
        var (models, diagnostics) = TestSpecs.CompileRepositorySpecs();
        Assert.Empty(diagnostics);
        ModelPlan full = models.Single(m => m.Name == "Mamba2"), tiny = models.Single(m => m.Name == "Mamba2Tiny");
        Assert.Equal(368_346_624, full.ParameterCount);
        Assert.Equal(32, ((SsdPlan)full.Layers[0].Mixer).Heads);
        SsdPlan ssd = Assert.IsType<SsdPlan>(tiny.Layers[0].Mixer);
        Assert.Equal((16, 16, 8, 16), (ssd.DState, ssd.HeadDim, ssd.Heads, ssd.ChunkSize));
        // SSM state H·P·N = 8·16·16 plus conv state (d_inner + 2·G·N)·(d_conv - 1) = 160·3, per layer.
        Assert.Equal(new MemoryPlan(2_048 + 480, 0, 0, 0), ComponentKindRegistry.Of(ssd).Memory(ssd, 64));
    }

    [Fact]
    public void Describes_itself_short_and_in_full()
    {
        SsdPlan ssd = Ssd("ssd { d_state = 64, headdim = 16, ngroups = 2, chunk_size = 64 }");
        Assert.Equal("ssd(d_state 64)", ssd.Describe());
        Assert.Equal("ssd(d_state 64, 8 heads of 16, 2 groups, chunk 64)", ssd.Detail());
        Assert.Equal("ssd(d_state 128, 2 heads of 64, chunk 256)", Ssd("ssd").Detail());
    }
}
