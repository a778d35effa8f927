using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;
using static Bmojo.Runtime.Tests.BmojoFixtures;

namespace Bmojo.Runtime.Tests;

public sealed class BmojoMixerTests
{
    // window, fading tokens, eidetic capacity, tau, SSM path, length, retrieval (top-k, chunk size; 0: off)
    public static TheoryData<int, int, int, double, bool, int, int, int> Cases => new()
    {
        { 3, 2, 4, 2.0, true, 13, 0, 0 },                       // all four sources, odd L, several blocks
        { 20, 3, 0, 2.0, true, 13, 0, 0 },                      // w >= L, m_e = 0
        { 2, 2, 3, double.PositiveInfinity, true, 11, 0, 0 },   // empty eidetic memory
        { 0, 2, 2, 2.0, true, 9, 0, 0 },                        // no window: fading tokens and memory only
        { 3, 0, 2, -1.0, false, 10, 0, 0 },                     // no SSM path, every token selected
        { 2, 1, 2, -1.0, true, 17, 2, 3 },                      // retrieval: chunks of 3, top-2
        { 1, 2, 1, 2.0, true, 19, 1, 2 },                       // retrieval with innovation-selected tokens
    };

    /// <summary>The cases without retrieval (the banded path has none).</summary>
    public static TheoryData<int, int, int, double, bool, int, int, int> CasesWithoutRetrieval()
    {
        var cases = new TheoryData<int, int, int, double, bool, int, int, int>();
        foreach (object[] row in Cases.Where(row => (int)row[6] == 0))
            cases.Add((int)row[0], (int)row[1], (int)row[2], (double)row[3], (bool)row[4], (int)row[5], (int)row[6], (int)row[7]);
        return cases;
    }

    private static BmojoOptions Case(int w, int mf, int me, double tau, bool ssm, int topK, int chunk) =>
        Options(w, mf, me, tau, ssm, topK == 0 ? null : new RetrievalOptions(topK, chunk));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Blockwise_equals_reference_values_and_gradients(int w, int mf, int me, double tau, bool ssm, int length, int topK, int chunk)
    {
        manual_seed(31);
        using var reference = Mixer(Case(w, mf, me, tau, ssm, topK, chunk), BmojoPath.Reference);
        using var blockwise = Copy(reference, Case(w, mf, me, tau, ssm, topK, chunk), BmojoPath.Blockwise);
        Tensor x = randn(2, length, D);
        Tensor xr = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
        Tensor weight = randn(2, length, D);
        Tensor yr = reference.forward(xr), yb = blockwise.forward(xb);
        TensorAssert.Close(yr, yb, atol: 1e-5, what: "blockwise vs reference");
        (yr * weight).sum().backward();
        (yb * weight).sum().backward();
        TensorAssert.Close(xr.grad!, xb.grad!, atol: 1e-5, what: "d/dx");
        // A parameter no attended key depends on (fading_proj when no fading token is in reach) has no gradient on
        // the blockwise path, which never gathers such keys, and a zero one on the reference path.
        foreach (var (name, p) in reference.named_parameters())
            TensorAssert.Close(p.grad ?? zeros_like(p), Parameter(blockwise, name).grad ?? zeros_like(p), atol: 1e-5, what: $"d/d {name}");
    }

    [Theory]
    [MemberData(nameof(CasesWithoutRetrieval))]
    public void Banded_equals_reference_values_and_gradients(int w, int mf, int me, double tau, bool ssm, int length, int topK, int chunk)
    {
        // Blocks of 4 queries, and the default block (longer than these sequences: one block).
        foreach (int? block in new int?[] { 4, null })
        {
            var options = Case(w, mf, me, tau, ssm, topK, chunk);
            CheckBanded(w, mf, me, tau, ssm, length, topK, chunk, block is int c ? options with { BandedBlockSize = c } : options);
        }
    }

    private void CheckBanded(int w, int mf, int me, double tau, bool ssm, int length, int topK, int chunk, BmojoOptions options)
    {
        manual_seed(37);
        using var reference = Mixer(Case(w, mf, me, tau, ssm, topK, chunk), BmojoPath.Reference);
        using var banded = Copy(reference, options, BmojoPath.Banded);
        Tensor x = randn(2, length, D);
        Tensor xr = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
        Tensor weight = randn(2, length, D);
        Tensor yr = reference.forward(xr), yb = banded.forward(xb);
        Assert.Equal(BmojoPath.Banded, banded.LastPath!.BmojoAttention);
        TensorAssert.Close(yr, yb, atol: 1e-5, what: "banded vs reference");
        (yr * weight).sum().backward();
        (yb * weight).sum().backward();
        TensorAssert.Close(xr.grad!, xb.grad!, atol: 1e-5, what: "d/dx");
        foreach (var (name, p) in reference.named_parameters())
            TensorAssert.Close(p.grad ?? zeros_like(p), Parameter(banded, name).grad ?? zeros_like(p), atol: 1e-5, what: $"d/d {name}");
    }

    [Fact]
    public void Refuses_a_banded_block_size_below_one()
    {
        var error = Assert.Throws<ArgumentException>(() => Mixer(Options(2, 2, 2, 1.0) with { BandedBlockSize = 0 }, BmojoPath.Banded));
        Assert.Contains("banded block size (0) must be >= 1", error.Message);
    }

    [Fact]
    public void Banded_refuses_retrieval()
    {
        var error = Assert.Throws<ArgumentException>(() => Mixer(Options(2, 2, 2, 1.0, retrieval: new RetrievalOptions(1, 4)), BmojoPath.Banded));
        Assert.Contains("the banded path has no retrieval", error.Message);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Recurrent_equals_the_full_forward(int w, int mf, int me, double tau, bool ssm, int length, int topK, int chunk)
    {
        manual_seed(32);
        using var mixer = Mixer(Case(w, mf, me, tau, ssm, topK, chunk), BmojoPath.Reference);
        Tensor x = randn(2, length, D);
        using var noGrad = no_grad();
        Tensor full = mixer.forward(x);
        int prefill = length / 2;
        int[] prefillThenTokens = [prefill, .. Enumerable.Repeat(1, length - prefill)];
        TensorAssert.Close(full, Recurrent(mixer, x, prefillThenTokens), atol: 1e-4, what: "prefill + token by token");
        TensorAssert.Close(full, Recurrent(mixer, x, 4, 1, 2, length - 7), atol: 1e-4, what: "uneven chunks");
        TensorAssert.Close(full, Recurrent(mixer, x, length), atol: 1e-4, what: "one chunk");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Sequences_shorter_than_a_block_or_a_retrieval_chunk(int length)
    {
        manual_seed(36);
        var retrieval = new RetrievalOptions(2, ChunkSize: 8);
        using var reference = Mixer(Options(2, 2, 2, -1.0, retrieval: retrieval), BmojoPath.Reference);
        using var blockwise = Copy(reference, Options(2, 2, 2, -1.0, retrieval: retrieval, blockSize: 64));
        Tensor x = randn(2, length, D);
        using var noGrad = no_grad();
        Tensor full = reference.forward(x);
        TensorAssert.Close(full, blockwise.forward(x), atol: 1e-5, what: "blockwise");
        TensorAssert.Close(full, Recurrent(reference, x, [.. Enumerable.Repeat(1, length)]), atol: 1e-5, what: "token by token");
    }

    [Theory]
    [InlineData(BmojoPath.Blockwise)]
    [InlineData(BmojoPath.Reference)]
    public void Gradients_match_central_differences_in_float64(BmojoPath path)
    {
        manual_seed(33);
        BmojoOptions options = Options(2, 1, 2, 2.0, retrieval: new RetrievalOptions(1, 2), blockSize: 3,
                                       heads: 2, kvHeads: 1) with { Predictor = Predictor.Learned };
        using var mixer = new BmojoMixer(8, 0, options, Policy(path));
        mixer.to(ScalarType.Float64);
        Tensor x = randn(1, 9, 8, ScalarType.Float64).requires_grad_();
        Tensor weight = randn(1, 9, 8, ScalarType.Float64);
        GradCheck.Run(() => (mixer.forward(x) * weight).sum(),
                      GradCheck.Parameters(mixer).Where(p => !p.Item1.StartsWith("predictor")).Append(("x", x)));
    }

    [Theory]
    [InlineData(true, false, Predictor.Identity, false)]
    [InlineData(true, true, Predictor.Learned, true)]
    [InlineData(false, false, Predictor.Identity, true)]
    public void Has_the_formula_names_and_count(bool ssm, bool tied, Predictor predictor, bool bias)
    {
        const int d = 24, heads = 6, kvHeads = 2, dh = d / heads;
        var options = new BmojoOptions(new AttentionOptions(heads, kvHeads, Bias: bias), ssm ? new MambaOptions() : null,
                                       Window: 4, FadingTokens: 4, EideticCapacity: 8, Threshold: 1.0, predictor, tied);
        using var mixer = new BmojoMixer(d, 0, options);
        using var mamba = new MambaMixer(d, 0, new MambaOptions());
        long attention = d * dh * (heads + 2 * kvHeads) + (bias ? dh * (heads + 2 * kvHeads) : 0)
                         + heads * dh * d + (bias ? d : 0);
        long formula = (ssm ? mamba.parameters().Sum(p => p.numel()) : 0) + attention
                       + (tied || !ssm ? 0 : d * 2 * kvHeads * dh + (bias ? 2 * kvHeads * dh : 0))
                       + (predictor == Predictor.Learned ? d * d : 0);
        Assert.Equal(formula, mixer.parameters().Sum(p => p.numel()));
        var names = mixer.state_dict().Keys.ToList();
        Assert.Equal(ssm, names.Contains("ssm.A_log"));
        Assert.Equal(ssm && !tied, names.Contains("fading_proj.weight"));
        Assert.Equal(predictor == Predictor.Learned, names.Contains("predictor.weight"));
        Assert.Contains("in_proj.weight", names);
        Assert.Contains("out_proj.weight", names);
        Assert.Equal(ssm ? 3 : 0, ParameterGroups.NoWeightDecay(mixer).Count);
    }

    [Fact]
    public void Tied_fading_projections_use_the_key_and_value_rows_of_in_proj()
    {
        manual_seed(34);
        using var tied = new BmojoMixer(D, 0, Options(2, 2, 0, 1.0) with { TiedFadingProjections = true });
        using var untied = Mixer(Options(2, 2, 0, 1.0));
        untied.load_state_dict(tied.state_dict(), strict: false);
        using (no_grad())
        {
            Parameter(untied, "fading_proj.weight").copy_(Parameter(tied, "in_proj.weight").narrow(0, 16, 16));
            Parameter(untied, "fading_proj.bias").copy_(Parameter(tied, "in_proj.bias").narrow(0, 16, 16));
        }
        Tensor x = randn(1, 8, D);
        TensorAssert.Close(untied.forward(x), tied.forward(x), atol: 1e-6, what: "tied vs copied rows");
    }

    [Fact]
    public void The_eidetic_memory_and_retrieval_change_the_output()
    {
        manual_seed(35);
        using var bmojoF = Mixer(Options(2, 1, 0, -1.0));
        using var eidetic = Copy(bmojoF, Options(2, 1, 3, -1.0));
        using var retrieval = Copy(bmojoF, Options(2, 1, 3, -1.0, retrieval: new RetrievalOptions(1, 2)));
        Tensor x = randn(1, 16, D);
        Tensor f = bmojoF.forward(x), e = eidetic.forward(x), r = retrieval.forward(x);
        // Before any token leaves the window (t < w) all three agree; later the extra sources are attended.
        TensorAssert.Close(f.narrow(1, 0, 2), e.narrow(1, 0, 2), atol: 1e-6, what: "first tokens");
        Assert.True((f - e).abs().max().item<float>() > 1e-3, "the eidetic memory had no effect");
        // Retrieval starts at query chunk 2 at the earliest (positions >= 4).
        TensorAssert.Close(e.narrow(1, 0, 4), r.narrow(1, 0, 4), atol: 1e-6, what: "before the first visible chunk");
        Assert.True((e - r).abs().max().item<float>() > 1e-3, "retrieval had no effect");
    }

    [Theory]
    [InlineData(0, 0, 0, "window >= 1 or fading_tokens >= 1")]
    [InlineData(0, 3, 0, "window >= 1 or fading_tokens >= 1")]   // fading tokens without an SSM path do not count
    [InlineData(-1, 1, 0, "must be >= 0")]
    [InlineData(2, 1, -4, "must be >= 0")]
    public void Rejects_settings_that_leave_a_query_nothing_or_are_negative(int w, int mf, int me, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => new BmojoMixer(D, 3, Options(w, mf, me, 1.0, fading: mf != 3)));
        Assert.Contains("layer 3", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Rejects_a_wrong_input_shape_and_a_foreign_cache()
    {
        using var mixer = Mixer(Options(2, 1, 1, 1.0));
        Assert.Contains("(B, L >= 1, D=16)", Assert.Throws<ArgumentException>(() => mixer.forward(randn(1, 4, 8))).Message);
        using var other = new AttentionMixer(D, 0, new AttentionOptions(4, 2));
        using IMixerCache foreign = other.AllocateCache(1);
        Assert.Contains("cache", Assert.Throws<ArgumentException>(() => mixer.Forward(randn(1, 4, D), foreign)).Message);
    }
}
