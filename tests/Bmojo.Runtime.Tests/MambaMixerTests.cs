using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

public sealed class MambaMixerTests
{
    private static readonly MambaOptions Small = new(DState: 3, DConv: 3, Expand: 2, DtRank: 2);

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void HasTheReferenceNamesAndTheFormulaCount(bool bias, bool convBias)
    {
        const int D = 24;
        var options = new MambaOptions(DState: 16, DConv: 4, Expand: 2, ConvBias: convBias, Bias: bias);
        using var mixer = new MambaMixer(D, 0, options);
        var expectedNames = new List<string> { "A_log", "D", "in_proj.weight", "conv1d.weight", "x_proj.weight",
                                               "dt_proj.weight", "dt_proj.bias", "out_proj.weight" };
        if (bias) expectedNames.AddRange(new[] { "in_proj.bias", "out_proj.bias" });
        if (convBias) expectedNames.Add("conv1d.bias");
        Assert.Equal(expectedNames.Order(), mixer.state_dict().Keys.Order());

        long dInner = 2 * D, R = MambaOptions.AutoDtRank(D), N = 16;                       // R = ceil(24 / 16) = 2
        long formula = D * 2 * dInner + (bias ? 2 * dInner : 0)                              // in_proj
                     + dInner * 4 + (convBias ? dInner : 0)                                  // conv1d
                     + dInner * (R + 2 * N)                                                  // x_proj
                     + R * dInner + dInner                                                   // dt_proj
                     + dInner * N + dInner                                                   // A_log, D
                     + dInner * D + (bias ? D : 0);                                          // out_proj
        Assert.Equal(formula, mixer.parameters().Sum(p => p.numel()));
        Assert.Equal(new long[] { dInner, 1, 4 }, mixer.state_dict()["conv1d.weight"].shape);
    }

    [Fact]
    public void InitialisesLikeTheReference()
    {
        var options = new MambaOptions(DState: 4, DtMin: 0.001, DtMax: 0.1);
        using var mixer = new MambaMixer(32, 0, options);
        var state = mixer.state_dict();
        // A_log = log(1..N) in every channel; D = 1.
        Tensor expectedALog = log(arange(1, 5, dtype: ScalarType.Float32)).expand(64, 4);
        TensorAssert.Close(expectedALog, state["A_log"], 0.0, what: "A_log");
        TensorAssert.Close(ones(64), state["D"], 0.0, what: "D");
        // softplus(dt bias) is the sampled dt, inside [dt_min, dt_max]; the weight is within ±dt_rank^-0.5 (dt_rank 2).
        Tensor dt = nn.functional.softplus(state["dt_proj.bias"]);
        Assert.True(dt.min().item<float>() >= 0.001f * 0.999f && dt.max().item<float>() <= 0.1f * 1.001f,
                    $"softplus(dt bias) in [{dt.min().item<float>()}, {dt.max().item<float>()}]");
        Assert.True(state["dt_proj.weight"].abs().max().item<float>() <= Math.Pow(2, -0.5));
        // Log-uniform: about half the dt values below the geometric mean sqrt(0.001 * 0.1) = 0.01.
        double belowMean = (dt < 0.01).to_type(ScalarType.Float32).mean().item<float>();
        Assert.InRange(belowMean, 0.25, 0.75);
        Assert.Equal(new[] { "A_log", "D", "dt_proj.bias" }, Names(mixer, ParameterGroups.NoWeightDecay(mixer)).Order());
        Assert.Equal(new[] { "A_log", "D", "dt_proj.bias", "dt_proj.weight" }, Names(mixer, ParameterGroups.NoReinit(mixer)).Order());
    }

    [Fact]
    public void KeepsALogDAndTheDtBiasInFp32WhenCastToBf16()
    {
        manual_seed(5);
        using var mixer = new MambaMixer(8, 0, Small);
        var before = mixer.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
        Tensor x = randn(2, 6, 8);
        Tensor expected = mixer.forward(x);

        mixer.to(ScalarType.BFloat16);
        var after = mixer.state_dict();
        foreach (string name in new[] { "A_log", "D", "dt_proj.bias" })
        {
            Assert.Equal(ScalarType.Float32, after[name].dtype);
            TensorAssert.Close(before[name], after[name], 0.0, what: name + " after the cast");
        }
        Assert.Equal(ScalarType.BFloat16, after["in_proj.weight"].dtype);
        Assert.Equal(ScalarType.BFloat16, after["dt_proj.weight"].dtype);
        Assert.Equal(new[] { "A_log", "D", "dt_proj.bias" }, Names(mixer, ParameterGroups.NoWeightDecay(mixer)).Order());

        Tensor actual = mixer.forward(x.to_type(ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, actual.dtype);
        // bf16 weights and activations (8-bit mantissa) against the fp32 module.
        TensorAssert.Close(expected, actual, atol: 0.03, rtol: 0.05, what: "bf16 forward");
    }

    [Theory]
    [InlineData(ScanPath.Chunked)]
    [InlineData(ScanPath.Sequential)]
    public void GradientsMatchCentralDifferences(ScanPath path)
    {
        manual_seed(6);
        using var mixer = new MambaMixer(4, 0, Small with { Bias = true }, new KernelPolicy(Scan: path));
        mixer.to(ScalarType.Float64);
        Tensor x = randn(2, 5, 4, ScalarType.Float64).requires_grad_();
        Tensor weight = randn(2, 5, 4, ScalarType.Float64);
        GradCheck.Run(() => (mixer.forward(x) * weight).sum(), GradCheck.Parameters(mixer).Append(("x", x)));
    }

    [Fact]
    public void ScanPathsGiveTheSameOutput()
    {
        manual_seed(7);
        using var mixer = new MambaMixer(16, 0, new MambaOptions(DState: 8), new KernelPolicy(Scan: ScanPath.Sequential));
        Tensor x = randn(2, 100, 16);
        Assert.Equal(ScanPath.Sequential, mixer.ScanPath);
        Tensor sequential = mixer.forward(x);
        using var chunked = new MambaMixer(16, 0, new MambaOptions(DState: 8), new KernelPolicy(Scan: ScanPath.Chunked));
        chunked.load_state_dict(mixer.state_dict());
        TensorAssert.Close(sequential, chunked.forward(x), atol: 1e-5, rtol: 1e-4, what: "chunked vs sequential");
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void RecurrentRunsEqualTheFullForward(int dConv)
    {
        manual_seed(8);
        using var mixer = new MambaMixer(8, 0, Small with { DConv = dConv });
        Tensor x = randn(2, 12, 8);
        Tensor full = mixer.forward(x);
        using var cache = (MambaCache)mixer.AllocateCache(2);
        // Chunks of 5 (prefill), 1, 1, 3, 1, 1 tokens.
        var pieces = new List<Tensor>();
        foreach (var (start, length) in new[] { (0, 5), (5, 1), (6, 1), (7, 3), (10, 1), (11, 1) })
            pieces.Add(mixer.Forward(x[.., start..(start + length)], cache));
        TensorAssert.Close(full, cat(pieces, 1), atol: 1e-4, what: "recurrent vs full");
        Assert.Equal(12, cache.Position);
        Assert.Equal(new long[] { 2, 16, dConv - 1 }, cache.ConvState.shape);
        Assert.Equal(new long[] { 2, 16, 3 }, cache.SsmState.shape);
    }

    [Fact]
    public void RejectsBadInputWithAClearMessage()
    {
        using var mixer = new MambaMixer(8, 3, Small);
        var error = Assert.Throws<ArgumentException>(() => mixer.forward(randn(2, 5, 7)));
        Assert.Contains("MambaMixer (layer 3): input must be (B, L >= 1, D=8), got (2, 5, 7)", error.Message);
        var badOptions = Assert.Throws<ArgumentException>(() => new MambaMixer(8, 1, Small with { DState = 0 }));
        Assert.Contains("MambaMixer (layer 1): d_state must be at least 1", badOptions.Message);
    }

    private static IEnumerable<string> Names(nn.Module module, IEnumerable<TorchSharp.Modules.Parameter> parameters)
    {
        var handles = parameters.Select(p => p.Handle).ToHashSet();
        return module.named_parameters().Where(p => handles.Contains(p.parameter.Handle)).Select(p => p.name);
    }
}
