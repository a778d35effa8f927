using Bmojo.Runtime.Memory;
using Bmojo.Runtime.Ops.Innovation;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests.Ops.Innovation;

public sealed class InnovationSelectorTests
{
    [Fact]
    public void Innovation_is_the_mean_squared_difference_of_rms_normalised_vectors()
    {
        // norm([1, -1]) = [1, -1]; norm([2, 2]) = [1, 1]; difference [0, -2]: e = 4 / 2 = 2 (up to eps).
        Tensor u = tensor(new float[] { 1, -1, 3, 3 }, [1, 2, 2]);
        Tensor prediction = tensor(new float[] { 2, 2, 1, 1 }, [1, 2, 2]);
        TensorAssert.Values([2.0, 0.0], InnovationSelector.Innovation(u, prediction), atol: 1e-5);
    }

    [Fact]
    public void A_zero_prediction_gives_innovation_one_for_any_nonzero_input()
    {
        Tensor u = tensor(new float[] { 0.5f, -3, 7, 0.1f, 0.2f, 0.3f }, [1, 2, 3]);
        TensorAssert.Values([1.0, 1.0], InnovationSelector.Innovation(u, zeros_like(u)), atol: 1e-4);
    }

    [Fact]
    public void Previous_outputs_are_shifted_by_one_with_zero_or_the_carried_output_in_front()
    {
        Tensor y = tensor(new float[] { 1, 2, 3 }, [1, 3, 1]);
        TensorAssert.Values([0, 1, 2], InnovationSelector.PreviousOutputs(y, null), atol: 0);
        TensorAssert.Values([9, 1, 2], InnovationSelector.PreviousOutputs(y, tensor(new float[] { 9 }, [1, 1])), atol: 0);
    }

    [Fact]
    public void Selection_is_strictly_above_the_threshold_and_carries_no_gradient()
    {
        Tensor e = tensor(new float[] { 0.5f, 2f, 1f }, [1, 3]).requires_grad_();
        Tensor s = InnovationSelector.Select(e, 1.0);
        Assert.Equal(new[] { false, true, false }, s.data<bool>().ToArray());
        Assert.False(s.requires_grad);
        Assert.All(InnovationSelector.Select(e, -1e-9).data<bool>().ToArray(), Assert.True);
        Assert.All(InnovationSelector.Select(e, double.PositiveInfinity).data<bool>().ToArray(), Assert.False);
    }

    [Fact]
    public void Hand_made_sequence_selects_the_surprising_tokens()
    {
        // y_{t-1} predicts u_t exactly except at t = 2 (opposite direction: e = 8 / 2) and t = 0 (y_{-1} = 0: e = 1).
        Tensor u = tensor(new float[] { 1, 0, 1, 0, -1, 0, -1, 0 }, [1, 4, 2]);
        Tensor y = tensor(new float[] { 1, 0, 1, 0, -1, 0, 5, 5 }, [1, 4, 2]);
        Tensor e = InnovationSelector.Innovation(u, InnovationSelector.PreviousOutputs(y, null));
        TensorAssert.Values([1, 0, 4, 0], e, atol: 1e-5);   // t = 2: norm(u) = (-sqrt 2, 0), norm(y_1) = (sqrt 2, 0)
        Assert.Equal(new[] { true, false, true, false }, InnovationSelector.Select(e, 0.5).data<bool>().ToArray());
    }

    [Fact]
    public void Eidetic_memory_keeps_the_most_recent_selected_tokens_fifo()
    {
        // Every token selected, w = 1, m_e = 2: query t holds the two most recent of 0 .. t - 1.
        Tensor kept = InnovationSelector.EideticMemory(ones(1, 5, dtype: ScalarType.Bool), window: 1, capacity: 2);
        bool[] k = kept.flatten().data<bool>().ToArray();
        int[][] expected = [[], [0], [0, 1], [1, 2], [2, 3]];
        for (int t = 0; t < 5; t++)
            Assert.Equal(expected[t], Enumerable.Range(0, 5).Where(j => k[t * 5 + j]).ToArray());
    }

    [Fact]
    public void Capacity_counts_selected_tokens_only()
    {
        // Selected 0 and 3 only; w = 2, m_e = 1: token 0 stays until token 3 leaves the window (t = 5).
        Tensor selected = tensor(new[] { true, false, false, true, false, false }, [1, 6]);
        bool[] k = InnovationSelector.EideticMemory(selected, window: 2, capacity: 1).flatten().data<bool>().ToArray();
        int[][] expected = [[], [], [0], [0], [0], [3]];
        for (int t = 0; t < 6; t++)
            Assert.Equal(expected[t], Enumerable.Range(0, 6).Where(j => k[t * 6 + j]).ToArray());
    }
}
