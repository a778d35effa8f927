using Bmojo.Runtime.Blocks;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

public sealed class MlpTests
{
    [Theory]
    [InlineData(true, false, Activation.Silu)]
    [InlineData(false, true, Activation.Gelu)]
    [InlineData(true, true, Activation.Relu)]
    public void ComputesTheMlpFormulaWithReferenceNamesAndCount(bool gated, bool bias, Activation activation)
    {
        manual_seed(30);
        const long D = 6, H = 10;
        using var mlp = new Mlp((int)D, new MlpOptions((int)H, activation, gated, bias));
        var state = mlp.state_dict();
        var expectedNames = bias ? new[] { "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight" } : new[] { "fc1.weight", "fc2.weight" };
        Assert.Equal(expectedNames, state.Keys.Order());
        long formula = gated ? D * 2 * H + (bias ? 2 * H : 0) + H * D + (bias ? D : 0)
                             : D * H + (bias ? H : 0) + H * D + (bias ? D : 0);
        Assert.Equal(formula, mlp.parameters().Sum(p => p.numel()));

        Tensor x = randn(2, 3, D);
        Tensor h = nn.functional.linear(x, state["fc1.weight"], bias ? state["fc1.bias"] : null);
        Func<Tensor, Tensor> act = activation switch
        {
            Activation.Silu => t => t * sigmoid(t),
            Activation.Relu => t => t.clamp_min(0),
            _ => t => 0.5 * t * (1 + tanh(Math.Sqrt(2 / Math.PI) * (t + 0.044715 * t.pow(3)))),
        };
        Tensor inner = gated ? h[.., .., ..(int)H] * act(h[.., .., (int)H..]) : act(h);
        Tensor expected = nn.functional.linear(inner, state["fc2.weight"], bias ? state["fc2.bias"] : null);
        TensorAssert.Close(expected, mlp.forward(x), atol: 1e-6, what: "mlp");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GradientsMatchCentralDifferences(bool gated)
    {
        manual_seed(31);
        using var mlp = new Mlp(4, new MlpOptions(6, Activation.Gelu, gated, Bias: true));
        mlp.to(ScalarType.Float64);
        Tensor x = randn(3, 4, ScalarType.Float64).requires_grad_();
        Tensor weight = randn(3, 4, ScalarType.Float64);
        GradCheck.Run(() => (mlp.forward(x) * weight).sum(), GradCheck.Parameters(mlp).Append(("x", x)));
    }

    [Fact]
    public void RmsNormMatchesTheHandComputation()
    {
        // x = (3, 4): mean(x^2) = 12.5, so x / sqrt(12.5) = (0.8485..., 1.1313...); weight (1, 2) doubles the second.
        using var norm = new RmsNorm(2, eps: 0.0);
        using (no_grad()) norm.state_dict()["weight"].copy_(tensor(new[] { 1.0f, 2.0f }));
        TensorAssert.Values(new[] { 3 / Math.Sqrt(12.5), 8 / Math.Sqrt(12.5) }, norm.forward(tensor(new[] { 3.0f, 4.0f })), 1e-6, "rmsnorm");
        Assert.Equal(new[] { "weight" }, norm.state_dict().Keys);
        using var layerNorm = Norms.Create(8, new NormOptions(NormKind.LayerNorm));
        Assert.Equal(new[] { "bias", "weight" }, layerNorm.state_dict().Keys.Order());
        Assert.Equal(Norms.ParameterCount(8, new NormOptions(NormKind.LayerNorm)), layerNorm.parameters().Sum(p => p.numel()));
    }
}
