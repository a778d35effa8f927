using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.Innovation;

/// <summary>
/// The innovation test of B'MOJO (ours, after the paper's description: a token is stored when it is hard to predict
/// from the fading state). <c>e_t = || norm(u_t) - norm(P y_{t-1}) ||^2 / D</c> with <c>y_{-1} = 0</c> (the paper's
/// <c>y_0 = 0</c>, positions here count from 0) and <c>norm</c> the parameter-free RMS normalisation
/// <c>x / sqrt(mean(x^2) + eps)</c>; token t is selected (<c>s_t = 1</c>) iff <c>e_t &gt; tau</c>. Selection is
/// discrete: everything here runs without gradient. The FIFO capacity rule of the eidetic memory lives here too.
/// </summary>
public static class InnovationSelector
{
    /// <summary>eps of the parameter-free RMS normalisation (norm(0) = 0).</summary>
    public const double NormEps = 1e-6;

    /// <summary>The predictions' inputs <c>y_{t-1}</c> for a chunk: <paramref name="y"/> shifted right by one,
    /// with <paramref name="previous"/> (the last output before the chunk, <c>(B, D)</c>) or zero in front.</summary>
    /// <param name="y">SSM outputs of the chunk <c>(B, T, D)</c>.</param>
    public static Tensor PreviousOutputs(Tensor y, Tensor? previous)
    {
        using var scope = NewDisposeScope();
        Tensor first = previous is null ? zeros_like(y[.., ..1]) : previous.unsqueeze(1);   // (B, 1, D)
        return cat([first, y[.., ..^1]], dim: 1).MoveToOuterDisposeScope();                     // (B, T, D)
    }

    /// <summary>The innovation <c>e_t</c> of every token: <c>(B, T, D), (B, T, D) -> (B, T)</c>, fp32 or fp64.</summary>
    /// <param name="u">The layer inputs.</param>
    /// <param name="prediction"><c>P y_{t-1}</c>, aligned with <paramref name="u"/>.</param>
    public static Tensor Innovation(Tensor u, Tensor prediction)
    {
        if (!u.shape.SequenceEqual(prediction.shape))
            throw new ArgumentException($"innovation test: u ({string.Join(", ", u.shape)}) and its prediction "
                                        + $"({string.Join(", ", prediction.shape)}) must have the same shape");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        ScalarType compute = u.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor diff = RmsNormalise(u.to_type(compute)) - RmsNormalise(prediction.to_type(compute));
        return diff.square().mean([-1]).MoveToOuterDisposeScope();                               // (B, T)
    }

    /// <summary>The parameter-free RMS normalisation over the last dimension.</summary>
    public static Tensor RmsNormalise(Tensor x) => x * (x.square().mean([-1], keepdim: true) + NormEps).rsqrt();

    /// <summary><c>s_t = e_t &gt; tau</c> as a bool tensor.</summary>
    public static Tensor Select(Tensor innovation, double threshold)
    {
        using var noGrad = no_grad();
        return innovation.gt(threshold);
    }

    /// <summary>
    /// The eidetic memory seen by each query: <c>kept[b, t, i]</c> is true iff candidate i is selected, has left the
    /// window (<c>j &lt;= t - w</c>, j its position) and is among the most recent <paramref name="capacity"/> such
    /// candidates: <c>S[t-w] - S[j] &lt; m_e</c> with S the prefix sum of s (FIFO eviction).
    /// </summary>
    /// <param name="queryPositions">Positions t of the queries <c>(T)</c>.</param>
    /// <param name="candidatePositions">Positions j of the candidates <c>(B or 1, K)</c>; the selected ones must be in
    /// increasing order (unselected entries, e.g. empty memory slots, may hold anything).</param>
    /// <param name="candidateSelected">s of the candidates <c>(B, K)</c> bool.</param>
    /// <returns><c>(B, T, K)</c> bool.</returns>
    public static Tensor EideticMemory(Tensor queryPositions, Tensor candidatePositions, Tensor candidateSelected,
                                       int window, int capacity)
    {
        using var scope = NewDisposeScope();
        Tensor edge = (queryPositions - window).view(1, -1, 1);                                  // (1, T, 1): t - w
        Tensor eligible = candidateSelected.unsqueeze(1) & candidatePositions.unsqueeze(1).le(edge); // (B, T, K)
        Tensor atEdge = eligible.to_type(ScalarType.Int64).sum([-1], keepdim: true);            // (B, T, 1): S[t-w]
        Tensor prefix = candidateSelected.to_type(ScalarType.Int64).cumsum(1).unsqueeze(1);     // (B, 1, K): S[j]
        return (eligible & (atEdge - prefix).lt(capacity)).MoveToOuterDisposeScope();
    }

    /// <summary>The eidetic memory of every query of a whole sequence: <c>(B, L) -> (B, L, L)</c> bool.</summary>
    public static Tensor EideticMemory(Tensor selected, int window, int capacity)
    {
        using var scope = NewDisposeScope();
        Tensor positions = arange(selected.shape[1], device: selected.device);
        return EideticMemory(positions, positions.unsqueeze(0), selected, window, capacity).MoveToOuterDisposeScope();
    }
}
