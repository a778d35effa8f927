using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Kernels;

/// <summary>
/// The B'MOJO softmax as a TorchSharp autograd function: the forward pass is the fused kernel
/// (<see cref="FusedBmojoAttention"/>); the backward pass is not fused: it recomputes the forward with the blockwise
/// TorchSharp path (<see cref="BmojoBlockwise"/>, O(L (w + m_f + m_e)) memory, tested equal to the masked reference)
/// and takes its gradients with torch's autograd. Between the passes it keeps only the inputs.
/// </summary>
public sealed class BmojoAttentionFunction : autograd.SingleTensorFunction<BmojoAttentionFunction>
{
    private const string SettingsKey = "settings";

    public override string Name => nameof(BmojoAttentionFunction);

    /// <summary><see cref="FusedBmojoAttention.Run"/>, differentiable in q, k, v, kf and vf.</summary>
    /// <param name="blockSize">Query block length of the blockwise recompute in the backward pass.</param>
    public static Tensor Apply(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, Tensor selected,
                               int window, int fadingTokens, int eideticCapacity, int blockSize = 64)
    {
        if (blockSize < 1)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "B'MOJO attention: block size must be >= 1");
        return apply(q, k, v, kf, vf, selected, new Settings(window, fadingTokens, eideticCapacity, blockSize));
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        Tensor[] inputs = vars.Take(6).Cast<Tensor>().ToArray();
        var settings = (Settings)vars[6];
        ctx.save_for_backward(inputs.ToList());
        ctx.save_data(SettingsKey, settings);
        return FusedBmojoAttention.Run(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5],
                                       settings.Window, settings.FadingTokens, settings.EideticCapacity);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var settings = (Settings)ctx.get_data(SettingsKey);
        List<Tensor> saved = ctx.get_saved_variables();
        using var grad = enable_grad();
        List<Tensor> leaves = saved.Take(5).Select(t => t.detach().requires_grad_(true)).ToList();
        Tensor o = BmojoBlockwise.Run(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], saved[5], settings.Window,
                                      settings.FadingTokens, settings.EideticCapacity, plan: null, settings.BlockSize);
        o.backward([grad_output.to_type(o.dtype)]);
        // A source the settings leave unused (kf, vf with m_f = 0; k, v with w = 0 and m_e = 0) gets no gradient.
        List<Tensor> result = leaves.Select(leaf => leaf.grad ?? zeros_like(leaf)).ToList();
        result.Add(null!);                                  // selected: discrete, no gradient
        result.Add(null!);                                  // settings
        return result;
    }

    private sealed record Settings(int Window, int FadingTokens, int EideticCapacity, int BlockSize);
}
