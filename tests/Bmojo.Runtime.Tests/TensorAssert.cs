using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

/// <summary>Element-wise closeness assertions that report the worst element.</summary>
internal static class TensorAssert
{
    /// <summary>|actual - expected| &lt;= atol + rtol * |expected| everywhere, shapes equal.</summary>
    public static void Close(Tensor expected, Tensor actual, double atol, double rtol = 0.0, string what = "tensor")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        Tensor e = expected.detach().to_type(ScalarType.Float64).cpu();
        Tensor a = actual.detach().to_type(ScalarType.Float64).cpu();
        Tensor excess = (a - e).abs() - (atol + rtol * e.abs());
        double worst = excess.max().item<double>();
        if (worst > 0 || double.IsNaN(worst))
        {
            long at = excess.flatten().argmax().item<long>();
            double ev = e.flatten()[at].item<double>(), av = a.flatten()[at].item<double>();
            Assert.Fail($"{what}: element {at} is {av:G9}, expected {ev:G9} (|diff| {Math.Abs(av - ev):G3} > atol {atol:G3} + rtol {rtol:G3}·|expected|)");
        }
    }

    public static void Values(double[] expected, Tensor actual, double atol, string what = "tensor")
    {
        double[] got = actual.detach().to_type(ScalarType.Float64).cpu().flatten().data<double>().ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - got[i]) <= atol, $"{what}[{i}] = {got[i]:G9}, expected {expected[i]:G9}");
    }
}
