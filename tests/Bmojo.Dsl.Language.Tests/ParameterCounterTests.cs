using System.Globalization;
using System.Text.RegularExpressions;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>Each formula of docs/architecture.md ("Parameter count") against numbers worked out by hand.</summary>
public sealed class ParameterCounterTests
{
    private static readonly MambaPlan SmallMamba = new(DState: 3, DConv: 2, Expand: 2, DtRank: 2, 0.001, 0.1, 1e-4, ConvBias: true, Bias: false);

    [Fact]
    public void Embedding_head_and_final_norm()
    {
        // V = 10, D = 4: embedding 40 + RMSNorm 4; untied adds lm_head 40; LayerNorm has weight and bias (8).
        Assert.Equal(44, ParameterCounter.Count(new ModelSizes(10, 4, 0, NormKind.RmsNorm, 1e-5, true), []));
        Assert.Equal(88, ParameterCounter.Count(new ModelSizes(10, 4, 0, NormKind.LayerNorm, 1e-5, false), []));
    }

    [Fact]
    public void Attention()
    {
        // D = 8, H = 2, Hkv = 1, Dh = 4: in_proj 8 * 4 * (2 + 2) = 128, out_proj 2 * 4 * 8 = 64.
        Assert.Equal(192, ParameterCounter.Mixer(new AttentionPlan(2, 1, null, 4, 10000, false), 8));
        // Biases: in_proj 4 * (2 + 2) = 16, out_proj 8.
        Assert.Equal(216, ParameterCounter.Mixer(new AttentionPlan(2, 1, null, 4, 10000, true), 8));
    }

    [Fact]
    public void Mamba()
    {
        // D = 4, d_inner = 8, N = 3, R = 2, d_conv 2: in_proj 4 * 16 = 64, conv1d 8 * 2 + 8 = 24, x_proj 8 * (2 + 6) = 64,
        // dt_proj 2 * 8 + 8 = 24, A_log 8 * 3 = 24, D 8, out_proj 8 * 4 = 32.
        Assert.Equal(240, ParameterCounter.Mixer(SmallMamba, 4));
        Assert.Equal(232, ParameterCounter.Mixer(SmallMamba with { ConvBias = false }, 4));
        // Projection biases: in_proj 16, out_proj 4.
        Assert.Equal(260, ParameterCounter.Mixer(SmallMamba with { Bias = true }, 4));
    }

    [Fact]
    public void Bmojo()
    {
        // D = 8, H = Hkv = 2, Dh = 4: attention in_proj 8 * 4 * 6 = 192 + out_proj 64 = 256.
        var attention = new AttentionPlan(2, 2, null, 4, 10000, false);
        // Fading SSM at D = 8 (d_inner 8, N 2, R 1, d_conv 2): in_proj 128, conv1d 24, x_proj 40, dt_proj 16, A_log 16, D 8, out_proj 64.
        var ssm = new MambaPlan(2, 2, 1, 1, 0.001, 0.1, 1e-4, true, false);
        Assert.Equal(296, ParameterCounter.Mixer(ssm, 8));
        var bmojo = new BmojoPlan(attention, ssm, 8, 8, 8, 1.0, PredictorKind.Identity, false, null);
        // + fading_proj 8 * 2 * 2 * 4 = 128.
        Assert.Equal(256 + 296 + 128, ParameterCounter.Mixer(bmojo, 8));
        Assert.Equal(256 + 296, ParameterCounter.Mixer(bmojo with { TiedFadingProjections = true }, 8));
        // + predictor 8 * 8.
        Assert.Equal(256 + 296 + 128 + 64, ParameterCounter.Mixer(bmojo with { Predictor = PredictorKind.Learned }, 8));
        // No SSM path: no SSM and no fading projections.
        Assert.Equal(256, ParameterCounter.Mixer(bmojo with { Fading = null, FadingTokens = 0 }, 8));
        // Biases: attention 4 * 6 + 8, fading_proj 2 * 2 * 4.
        var biased = bmojo with { Attention = attention with { Bias = true }, Fading = ssm with { Bias = true } };
        Assert.Equal(256 + 32 + 296 + 16 + 8 + 128 + 16, ParameterCounter.Mixer(biased, 8));
    }

    [Fact]
    public void Mlp()
    {
        // D = 4, hidden 6: plain fc1 24 + fc2 24; biases 6 + 4. Gated fc1 4 * 12 = 48 + fc2 24; biases 12 + 4.
        Assert.Equal(48, ParameterCounter.FeedForward(new MlpPlan(6, Activation.Gelu, false, false), 4));
        Assert.Equal(58, ParameterCounter.FeedForward(new MlpPlan(6, Activation.Gelu, false, true), 4));
        Assert.Equal(72, ParameterCounter.FeedForward(new MlpPlan(6, Activation.Silu, true, false), 4));
        Assert.Equal(88, ParameterCounter.FeedForward(new MlpPlan(6, Activation.Silu, true, true), 4));
    }

    [Fact]
    public void Mixture_of_experts()
    {
        // D = 4, 3 experts of a plain MLP of 6: router 4 * 3 = 12, experts 3 * 48.
        Assert.Equal(156, ParameterCounter.FeedForward(new MoePlan(3, 2, new MlpPlan(6, Activation.Gelu, false, false), 0.01), 4));
    }

    [Fact]
    public void A_whole_model_adds_a_norm_per_block_half()
    {
        // V = 10, D = 8, LayerNorm, tied: embedding 80 + norm_f 16;
        // layer 0: norm 16 + attention 192 (H 2, Hkv 1) + norm2 16 + MLP(6, plain) 8 * 6 * 2 = 96; layer 1: norm 16 + attention 192 only.
        var sizes = new ModelSizes(10, 8, 2, NormKind.LayerNorm, 1e-5, true);
        var attention = new AttentionPlan(2, 1, null, 4, 10000, false);
        LayerPlan[] layers = [new(0, attention, new MlpPlan(6, Activation.Gelu, false, false)), new(1, attention, null)];
        Assert.Equal(80 + 16 + (16 + 192 + 16 + 96) + (16 + 192), ParameterCounter.Count(sizes, layers));
    }

    [Fact]
    public void Every_full_size_spec_states_its_exact_count_in_its_comment()
    {
        var (models, _) = TestSpecs.CompileRepositorySpecs();
        foreach (ModelPlan model in models.Where(m => !m.Name.EndsWith("Tiny", StringComparison.Ordinal)))
        {
            string summary = string.Join(" ", model.Summary);
            Match stated = Regex.Match(summary, @"Parameters: (?:total )?([\d,]+)");
            Assert.True(stated.Success, $"{model.Name}'s comment states no parameter count");
            Assert.Equal(long.Parse(stated.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture), model.ParameterCount);
            Match active = Regex.Match(summary, @"active per token ([\d,]+)");
            if (active.Success)
                Assert.Equal(long.Parse(active.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture), ActiveCount(model));
        }
    }

    [Fact]
    public void The_bmojo_specs_are_within_ten_percent_of_the_transformer()
    {
        var (models, _) = TestSpecs.CompileRepositorySpecs();
        long transformer = models.Single(m => m.Name == "Transformer").ParameterCount;
        foreach (string name in new[] { "BMojo", "BMojoF" })
            Assert.InRange(Math.Abs(models.Single(m => m.Name == name).ParameterCount - transformer), 0, transformer / 10);
    }

    /// <summary>Parameters one token passes through: each MoE layer counts only top_k experts.</summary>
    private static long ActiveCount(ModelPlan model) =>
        model.ParameterCount - model.Layers.Select(l => l.FeedForward).OfType<MoePlan>()
            .Sum(moe => (moe.Experts - moe.TopK) * ParameterCounter.FeedForward(moe.Expert, model.Sizes.DModel));
}
