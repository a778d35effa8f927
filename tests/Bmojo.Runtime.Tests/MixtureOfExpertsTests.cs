using Bmojo.Runtime.Blocks;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

public sealed class MixtureOfExpertsTests
{
    private static readonly MlpOptions Expert = new(Hidden: 5, Activation.Silu, Gated: true);

    [Fact]
    public void HasTheReferenceNamesAndTheFormulaCount()
    {
        using var moe = new MixtureOfExperts(6, new MoeOptions(Experts: 3, TopK: 2, Expert));
        var expected = new[] { "router.weight" }
            .Concat(Enumerable.Range(0, 3).SelectMany(e => new[] { $"experts.{e}.fc1.weight", $"experts.{e}.fc2.weight" }));
        Assert.Equal(expected.Order(), moe.state_dict().Keys.Order());
        long mlp = 6 * 2 * 5 + 5 * 6;
        Assert.Equal(6 * 3 + 3 * mlp, moe.parameters().Sum(p => p.numel()));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void EachTokenGetsItsTopKExpertsWithRenormalisedWeights(int topK)
    {
        manual_seed(32);
        using var moe = new MixtureOfExperts(6, new MoeOptions(Experts: 4, TopK: topK, Expert));
        Tensor x = randn(2, 5, 6);
        Tensor actual = moe.forward(x);

        // Dense oracle: every expert on every token, then each token picks its k largest router probabilities.
        var state = moe.state_dict();
        Tensor tokens = x.reshape(10, 6);
        double[,] probabilities = ToArray(nn.functional.linear(tokens, state["router.weight"]).softmax(-1));
        var children = moe.named_modules().Where(m => m.name.StartsWith("experts.") && m.name.Count(c => c == '.') == 1)
                          .Select(m => (Mlp)m.module).ToArray();
        Tensor[] outputs = children.Select(expert => expert.forward(tokens)).ToArray();
        var expected = zeros(10, 6);
        for (int t = 0; t < 10; t++)
        {
            int[] top = Enumerable.Range(0, 4).OrderByDescending(e => probabilities[t, e]).Take(topK).ToArray();
            double total = top.Sum(e => probabilities[t, e]);
            foreach (int e in top) expected[t] += outputs[e][t] * (probabilities[t, e] / total);
        }
        TensorAssert.Close(expected.reshape(2, 5, 6), actual, atol: 1e-5, what: "moe output");
    }

    /// <summary>
    /// Router = identity (D = E = 2). Tokens (ln 3, 0), (0, ln 3), (ln 3, 0): probabilities (3/4, 1/4), (1/4, 3/4), (3/4, 1/4).
    /// Top-1: expert 0 gets 2 of the 3 assignments, expert 1 gets 1: f = (2/3, 1/3); P = mean = (7/12, 5/12).
    /// Loss = w * E * (2/3 * 7/12 + 1/3 * 5/12) = w * 2 * 19/36 = w * 19/18.
    /// Top-2: every token goes to both: f = (1/2, 1/2), loss = w * 2 * (7/24 + 5/24) = w.
    /// </summary>
    [Theory]
    [InlineData(1, 19.0 / 18.0)]
    [InlineData(2, 1.0)]
    public void AuxLossMatchesTheHandComputation(int topK, double unweighted)
    {
        using var moe = new MixtureOfExperts(2, new MoeOptions(Experts: 2, TopK: topK, Expert, AuxLossWeight: 0.5));
        Assert.Null(moe.AuxLoss);
        using (no_grad()) moe.state_dict()["router.weight"].copy_(eye(2));
        double l3 = Math.Log(3);
        moe.forward(tensor(new[] { l3, 0, 0, l3, l3, 0 }).to_type(ScalarType.Float32).reshape(1, 3, 2));
        TensorAssert.Values(new[] { 0.5 * unweighted }, moe.AuxLoss!, 1e-6, "aux loss");
    }

    [Fact]
    public void AnExpertWithNoTokensIsNotRun()
    {
        // Router rows (1, 0) and (-1, 0) with inputs whose first coordinate is positive: top-1 is always expert 0.
        using var moe = new MixtureOfExperts(2, new MoeOptions(Experts: 2, TopK: 1, Expert));
        using (no_grad()) moe.state_dict()["router.weight"].copy_(tensor(new[] { 1.0f, 0, -1, 0 }).reshape(2, 2));
        Tensor x = cat(new[] { rand(4, 1) + 0.1, randn(4, 1) }, 1).reshape(1, 4, 2);
        moe.forward(x).sum().backward();
        var grads = moe.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        Assert.NotNull(grads["experts.0.fc1.weight"]);
        Assert.Null(grads["experts.1.fc1.weight"]);
    }

    [Fact]
    public void GradientsMatchCentralDifferences()
    {
        manual_seed(33);
        using var moe = new MixtureOfExperts(4, new MoeOptions(Experts: 3, TopK: 2, Expert with { Bias = true }, AuxLossWeight: 0.1));
        moe.to(ScalarType.Float64);
        Tensor x = randn(2, 3, 4, ScalarType.Float64).requires_grad_();
        Tensor weight = randn(2, 3, 4, ScalarType.Float64);
        GradCheck.Run(() => (moe.forward(x) * weight).sum() + moe.AuxLoss!, GradCheck.Parameters(moe).Append(("x", x)));
    }

    [Fact]
    public void RejectsTopKAboveTheExpertCount()
    {
        var error = Assert.Throws<ArgumentException>(() => new MixtureOfExperts(4, new MoeOptions(Experts: 2, TopK: 3, Expert)));
        Assert.Contains("top_k must be in [1, experts=2], got 3", error.Message);
    }

    private static double[,] ToArray(Tensor matrix)
    {
        var result = new double[matrix.shape[0], matrix.shape[1]];
        for (int i = 0; i < result.GetLength(0); i++)
            for (int j = 0; j < result.GetLength(1); j++)
                result[i, j] = matrix[i, j].to_type(ScalarType.Float64).item<double>();
        return result;
    }
}
