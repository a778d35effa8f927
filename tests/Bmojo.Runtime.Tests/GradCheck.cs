using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

/// <summary>Float64 gradient check: central differences against autograd on a few random coordinates of each tensor.</summary>
internal static class GradCheck
{
    /// <param name="loss">Recomputes the scalar loss from the current values of <paramref name="inputs"/>.</param>
    /// <param name="inputs">Float64 leaves (parameters or inputs) that require grad.</param>
    public static void Run(Func<Tensor> loss, IEnumerable<(string Name, Tensor Tensor)> inputs,
                           int coordinates = 4, double eps = 1e-6, double atol = 1e-7, double rtol = 1e-5, int seed = 0)
    {
        var named = inputs.ToList();
        foreach (var (_, t) in named) t.grad?.zero_();
        loss().backward();
        var random = new Random(seed);
        foreach (var (name, t) in named)
        {
            Assert.Equal(ScalarType.Float64, t.dtype);
            Assert.True(t.grad is not null, $"{name} got no gradient");
            Tensor flatGrad = t.grad!.reshape(-1);
            for (int c = 0; c < Math.Min(coordinates, t.numel()); c++)
            {
                long i = random.NextInt64(t.numel());
                double analytic = flatGrad[i].item<double>();
                double numeric = CentralDifference(loss, t, i, eps);
                Assert.True(Math.Abs(analytic - numeric) <= atol + rtol * Math.Abs(numeric),
                            $"d loss / d {name}[{i}]: autograd {analytic:G10}, central difference {numeric:G10}");
            }
        }
    }

    private static double CentralDifference(Func<Tensor> loss, Tensor t, long i, double eps)
    {
        using var noGrad = no_grad();
        Tensor element = t.view(-1)[i];
        double original = element.item<double>();
        element.fill_(original + eps);
        double plus = loss().item<double>();
        element.fill_(original - eps);
        double minus = loss().item<double>();
        element.fill_(original);
        return (plus - minus) / (2 * eps);
    }

    /// <summary>The module's parameters by state-dict name, for <see cref="Run"/>.</summary>
    public static IEnumerable<(string, Tensor)> Parameters(nn.Module module) =>
        module.named_parameters().Select(p => (p.name, (Tensor)p.parameter));
}
