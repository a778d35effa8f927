using Bmojo.Runtime.Memory;
using Bmojo.Runtime.Ops.BmojoAttention;
using Bmojo.Runtime.Ops.Innovation;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.Innovation;

/// <summary>Inputs of the innovation test and the reference's answer for them: <see cref="InnovationSelector"/> for e
/// and s, <see cref="FusedBmojoAttention.Tables"/> for the tables.</summary>
/// <param name="U">The layer inputs (B, L, D).</param>
/// <param name="Prediction">y (B, L, D) when <paramref name="Shift"/>, else P y_{t-1} aligned with u.</param>
internal sealed record InnovationInputs(Tensor U, Tensor Prediction, bool Shift)
{
    /// <summary>Tokens the prediction gets nearly right (u_t scaled by c in [0.5, 2] plus 5% noise: e ~ 0.003) and,
    /// with probability <paramref name="surprise"/>, surprising ones (an unrelated vector: e ~ 2); with a shift, y_{-1}
    /// = 0 makes token 0 give e ~ 1. Any tau in [0.1, 0.9] selects exactly the surprising tokens (and token 0 with a
    /// shift), far from every e.</summary>
    public static InnovationInputs Predictable(long batch, long length, long model, double surprise, bool shift,
                                               Device device)
    {
        Tensor u = randn(batch, length, model, device: device);
        Tensor scale = rand(batch, length, 1, device: device) * 1.5 + 0.5;
        Tensor surprising = rand(batch, length, 1, device: device).lt(surprise);
        Tensor aligned = where(surprising, randn(batch, length, model, device: device),
                               u * scale + 0.05 * randn(batch, length, model, device: device));   // (B, L, D): P y_{t-1}
        if (!shift) return new InnovationInputs(u, aligned, shift);
        // y_t = aligned_{t+1}; the last y predicts nothing inside the sequence.
        Tensor y = cat([aligned.narrow(1, 1, length - 1), randn(batch, 1, model, device: device)], 1);
        return new InnovationInputs(u, y, shift);
    }

    /// <summary>Independent u and prediction: e spread continuously around 2, so a tau must be picked in a gap
    /// (<see cref="ThresholdInGap"/>).</summary>
    public static InnovationInputs Independent(long batch, long length, long model, bool shift, Device device) =>
        new(randn(batch, length, model, device: device), randn(batch, length, model, device: device), shift);

    /// <summary>P y_{t-1} aligned with u.</summary>
    public Tensor Aligned => Shift ? InnovationSelector.PreviousOutputs(Prediction, null) : Prediction;

    /// <summary>The reference innovation e (B, L).</summary>
    public Tensor Innovation => InnovationSelector.Innovation(U, Aligned);

    /// <summary>The reference s (B, L) and tables.</summary>
    public EideticSelection Reference(double threshold, int window)
    {
        Tensor selected = InnovationSelector.Select(Innovation, threshold);
        EideticTables tables = FusedBmojoAttention.Tables(selected, window);
        return new EideticSelection(selected, tables.Edge, tables.Positions, tables.Count);
    }

    /// <summary>A tau halfway across the widest gap between consecutive sorted e near the given share of them, with
    /// no e closer to it than <paramref name="margin"/> (asserted): fp32 rounding cannot put an e on the other side.</summary>
    public double ThresholdInGap(double share, double margin = 1e-4)
    {
        double[] e = Innovation.flatten().cpu().to_type(ScalarType.Float64).data<double>().ToArray();
        Array.Sort(e);
        int centre = (int)(share * (e.Length - 1)), reach = Math.Max(1, e.Length / 10);
        int best = -1;
        for (int i = Math.Max(0, centre - reach); i < Math.Min(e.Length - 1, centre + reach); i++)
            if (best < 0 || e[i + 1] - e[i] > e[best + 1] - e[best]) best = i;
        Assert.True(best >= 0 && e[best + 1] - e[best] > 2 * margin,
                    $"no gap of {2 * margin} between innovations near the {share:P0} quantile");
        return (e[best] + e[best + 1]) / 2;
    }
}
