using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.Ssd;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

public sealed class SsdMixerTests
{
    // d_model 8, expand 2: d_inner 16, 4 heads of 4, 2 groups of B/C with N = 3; conv over 16 + 2·2·3 = 28 channels.
    private static readonly SsdOptions Small = new(DState: 3, DConv: 3, Expand: 2, HeadDim: 4, NGroups: 2, ChunkSize: 4);

    private static SsdMixer Float64(SsdOptions options, int seed = 0)
    {
        torch.manual_seed(seed);
        var mixer = new SsdMixer(8, 0, options);
        mixer.to(ScalarType.Float64);
        return mixer;
    }

    [Theory]
    [InlineData(false, true, 1)]
    [InlineData(true, false, 2)]
    public void Has_the_Mamba2_names_and_the_formula_count(bool bias, bool convBias, int groups)
    {
        const int D = 24;
        var options = new SsdOptions(DState: 16, DConv: 4, Expand: 2, HeadDim: 8, NGroups: groups, ConvBias: convBias, Bias: bias);
        using var mixer = new SsdMixer(D, 0, options);
        var expectedNames = new List<string> { "dt_bias", "A_log", "D", "in_proj.weight", "conv1d.weight", "norm.weight", "out_proj.weight" };
        if (bias) expectedNames.AddRange(new[] { "in_proj.bias", "out_proj.bias" });
        if (convBias) expectedNames.Add("conv1d.bias");
        Assert.Equal(expectedNames.Order(), mixer.state_dict().Keys.Order());

        long inner = 2 * D, H = inner / 8, G = groups, N = 16, conv = inner + 2 * G * N;   // 48, 6 heads
        long inProj = inner + conv + H;                                                       // z, xBC, dt
        long formula = D * inProj + (bias ? inProj : 0) + conv * 4 + (convBias ? conv : 0) + 3 * H + inner
                     + inner * D + (bias ? D : 0);
        Assert.Equal(formula, mixer.parameters().Sum(p => p.numel()));
        Assert.Equal(H, mixer.Heads);
        Assert.Equal(new long[] { conv, 1, 4 }, mixer.state_dict()["conv1d.weight"].shape);
        Assert.Equal(new long[] { H }, mixer.state_dict()["A_log"].shape);
    }

    [Fact]
    public void Initialises_like_Mamba2()
    {
        using var mixer = new SsdMixer(64, 0, new SsdOptions(DState: 8, HeadDim: 8, DtMin: 0.001, DtMax: 0.1));
        var state = mixer.state_dict();
        Tensor a = exp(state["A_log"]);                                                      // A = -a, a ~ U(1, 16), per head
        Assert.Equal(new long[] { 16 }, a.shape);
        Assert.True(a.min().item<float>() >= 1f && a.max().item<float>() <= 16f, $"exp(A_log) in [{a.min().item<float>()}, {a.max().item<float>()}]");
        TensorAssert.Close(ones(16), state["D"], 0.0, what: "D");
        TensorAssert.Close(ones(128), state["norm.weight"], 0.0, what: "norm.weight");
        Tensor dt = nn.functional.softplus(state["dt_bias"]);
        Assert.True(dt.min().item<float>() >= 0.001f * 0.999f && dt.max().item<float>() <= 0.1f * 1.001f,
                    $"softplus(dt_bias) in [{dt.min().item<float>()}, {dt.max().item<float>()}]");
        Assert.Equal(new[] { "A_log", "D", "dt_bias" }, mixer.NoWeightDecayParameters().Select(p => Name(mixer, p)).Order());
    }

    private static string Name(nn.Module module, Tensor p) => module.named_parameters().Single(n => n.parameter.Handle == p.Handle).name;

    [Fact]
    public void Token_by_token_through_the_cache_equals_the_full_forward()
    {
        using var scope = NewDisposeScope();
        using var mixer = Float64(Small);
        Tensor x = randn(2, 11, 8, ScalarType.Float64);
        Tensor whole = mixer.forward(x);
        Assert.Equal(new MixerPath(Ssd: SsdPath.Chunked), mixer.LastPath);

        using var cache = mixer.AllocateCache(2);
        var steps = new List<Tensor>();
        for (int t = 0; t < 11; t++)
        {
            steps.Add(mixer.Forward(x[.., t..(t + 1)], cache));
            Assert.Equal(new MixerPath(Ssd: SsdPath.Step), mixer.LastPath);
        }
        Assert.Equal(11, cache.Position);
        TensorAssert.Close(whole, cat(steps, 1), 1e-12, 1e-10, "token by token");
    }

    [Theory]
    [InlineData(7)]     // prefill of a whole chunk and a bit (chunk 4)
    [InlineData(1)]     // a one-token prefill goes through the step
    [InlineData(2)]     // prefill shorter than d_conv - 1 + 1: the conv context is partly the zero start
    public void Prefill_then_chunks_and_steps_equal_the_full_forward(int prefill)
    {
        using var scope = NewDisposeScope();
        using var mixer = Float64(Small, seed: 1);
        Tensor x = randn(3, 16, 8, ScalarType.Float64);
        Tensor whole = mixer.forward(x);

        using var cache = (SsdCache)mixer.AllocateCache(3);
        var pieces = new List<Tensor> { mixer.Forward(x[.., ..prefill], cache) };
        pieces.Add(mixer.Forward(x[.., prefill..(prefill + 5)], cache));                    // a chunk through the chunked path
        Assert.Equal(new MixerPath(Ssd: SsdPath.Chunked), mixer.LastPath);
        for (int t = prefill + 5; t < 16; t++) pieces.Add(mixer.Forward(x[.., t..(t + 1)], cache));
        Assert.Equal(16, cache.Position);
        Assert.Equal(new long[] { 3, 4, 4, 3 }, cache.SsmState.shape);                      // (B, H, P, N)
        Assert.Equal(new long[] { 3, 28, 2 }, cache.ConvState.shape);                       // (B, d_inner + 2GN, d_conv - 1)
        TensorAssert.Close(whole, cat(pieces, 1), 1e-12, 1e-10, $"prefill {prefill} + chunk + steps");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(16)]
    [InlineData(256)]
    public void The_chunk_size_does_not_change_the_function(int chunk)
    {
        using var scope = NewDisposeScope();
        using var reference = Float64(Small with { ChunkSize = 4 }, seed: 2);
        using var other = Float64(Small with { ChunkSize = chunk }, seed: 5);
        other.load_state_dict(reference.state_dict());
        Tensor x = randn(2, 13, 8, ScalarType.Float64);
        TensorAssert.Close(reference.forward(x), other.forward(x), 1e-12, 1e-10, $"chunk {chunk} vs 4");
    }

    [Fact]
    public void Gradients_of_the_whole_mixer_match_central_differences()
    {
        using var scope = NewDisposeScope();
        using var mixer = Float64(Small, seed: 3);
        Tensor x = randn(1, 9, 8, ScalarType.Float64).requires_grad_();
        Tensor w = randn(1, 9, 8, ScalarType.Float64);
        GradCheck.Run(() => (mixer.forward(x) * w).sum(), GradCheck.Parameters(mixer).Append(("x", x)), coordinates: 3);
    }

    [Fact]
    public void A_float32_mixer_runs_in_float32_and_keeps_an_fp32_state()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(4);
        using var mixer = new SsdMixer(8, 0, Small);
        Tensor x = randn(2, 6, 8);
        Tensor y = mixer.forward(x);
        Assert.Equal(ScalarType.Float32, y.dtype);
        using var cache = (SsdCache)mixer.AllocateCache(2);
        Tensor stepped = cat(Enumerable.Range(0, 6).Select(t => mixer.Forward(x[.., t..(t + 1)], cache)).ToArray(), 1);
        Assert.Equal(ScalarType.Float32, cache.SsmState.dtype);
        TensorAssert.Close(y, stepped, 1e-5, 1e-4, "float32 steps");
    }

    [Fact]
    public void A_log_D_and_dt_bias_stay_fp32_when_cast_to_bf16_and_the_forward_still_runs()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(6);
        using var mixer = new SsdMixer(8, 0, Small);
        var before = mixer.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
        Tensor x = randn(2, 6, 8);
        Tensor expected = mixer.forward(x);

        mixer.to(ScalarType.BFloat16);
        var after = mixer.state_dict();
        foreach (string name in new[] { "A_log", "D", "dt_bias" })
        {
            Assert.Equal(ScalarType.Float32, after[name].dtype);
            TensorAssert.Close(before[name], after[name], 0.0, what: name + " after the cast");
        }
        foreach (string name in new[] { "in_proj.weight", "conv1d.weight", "norm.weight", "out_proj.weight" })
            Assert.Equal(ScalarType.BFloat16, after[name].dtype);
        // The kept tensors are the registered parameters: the ones the optimizer sees and weight decay leaves out.
        Assert.Equal(new[] { "A_log", "D", "dt_bias" }, ParameterGroups.NoWeightDecay(mixer).Select(p => Name(mixer, p)).Order());
        Assert.All(ParameterGroups.NoWeightDecay(mixer), p => Assert.Equal(ScalarType.Float32, p.dtype));

        Tensor actual = mixer.forward(x.to_type(ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, actual.dtype);
        // bf16 weights and activations (8-bit mantissa) against the fp32 module.
        TensorAssert.Close(expected, actual, atol: 0.03, rtol: 0.05, what: "bf16 forward");
        using var cache = (SsdCache)mixer.AllocateCache(2);
        Assert.Equal(ScalarType.Float32, cache.SsmState.dtype);
        Assert.Equal(ScalarType.BFloat16, mixer.Forward(x[.., ..1].to_type(ScalarType.BFloat16), cache).dtype);
    }

    [Fact]
    public void Bad_options_inputs_and_caches_are_one_line_errors()
    {
        var error = Assert.Throws<ArgumentException>(() => new SsdMixer(8, 3, Small with { HeadDim = 5 }));
        Assert.StartsWith("SsdMixer (layer 3): headdim (5) must divide d_inner (16)", error.Message);
        error = Assert.Throws<ArgumentException>(() => new SsdMixer(8, 3, Small with { NGroups = 3 }));
        Assert.StartsWith("SsdMixer (layer 3): ngroups (3) must divide heads (4)", error.Message);
        using var mixer = new SsdMixer(8, 1, Small);
        error = Assert.Throws<ArgumentException>(() => mixer.forward(randn(2, 5, 7)));
        Assert.StartsWith("SsdMixer (layer 1): input must be (B, L >= 1, D=8), got (2, 5, 7)", error.Message);
        using var mamba = new MambaMixer(8, 0, new MambaOptions()).AllocateCache(1);
        error = Assert.Throws<ArgumentException>(() => mixer.Forward(randn(1, 1, 8), mamba));
        Assert.StartsWith("SsdMixer (layer 1): expected an SsdCache, got MambaCache", error.Message);
    }
}
