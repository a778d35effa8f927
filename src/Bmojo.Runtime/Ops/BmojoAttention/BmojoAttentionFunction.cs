using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.BmojoAttention;

/// <summary>
/// The B'MOJO softmax as a TorchSharp autograd function. bf16 inputs with heads of at most 64 run both passes on the
/// tensor cores (<see cref="TensorCoreAttention"/>): the forward pass keeps O and the rows' log-sum-exp, the backward
/// pass recomputes the probabilities tile by tile, O(L) memory throughout. Other inputs run the fp32 forward kernel
/// (<see cref="FusedBmojoAttention"/>) and a backward pass that is not fused: it recomputes the forward with the
/// blockwise TorchSharp path (<see cref="BmojoBlockwise"/>, O(L (w + m_f + m_e)) memory, tested equal to the masked
/// reference) and takes its gradients with torch's autograd.
/// </summary>
public sealed class BmojoAttentionFunction : ScopedTensorFunction<BmojoAttentionFunction>
{
    private const string SettingsKey = "settings";

    public override string Name => nameof(BmojoAttentionFunction);

    /// <summary>True when both passes of these queries <c>(B, H, L, Dh)</c> are fused: bf16, heads of at most 64.</summary>
    public static bool FusesBothPasses(Tensor q) => TensorCoreAttention.Handles(q);

    /// <summary><see cref="FusedBmojoAttention.Run"/>, differentiable in q, k, v, kf and vf.</summary>
    /// <param name="blockSize">Query block length of the blockwise recompute in the backward pass of the fp32 path.</param>
    public static Tensor Apply(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, Tensor selected,
                               int window, int fadingTokens, int eideticCapacity, int blockSize = 64) =>
        Apply(q, k, v, kf, vf, selected, window, fadingTokens, eideticCapacity, blockSize, tables: null);

    /// <summary><see cref="Apply(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, int, int, int, int)"/> with the eidetic
    /// tables of <paramref name="selected"/> already made (the fused innovation pass makes them with s).</summary>
    internal static Tensor Apply(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, Tensor selected,
                                 int window, int fadingTokens, int eideticCapacity, int blockSize, EideticTables? tables)
    {
        if (blockSize < 1)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "B'MOJO attention: block size must be >= 1");
        return apply(q, k, v, kf, vf, selected, new Settings(window, fadingTokens, eideticCapacity, blockSize, tables));
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        Tensor[] inputs = vars.Take(6).Cast<Tensor>().ToArray();
        var settings = (Settings)vars[6];
        ctx.save_data(SettingsKey, settings);
        if (!TensorCoreAttention.Handles(inputs[0]))
        {
            ctx.save_for_backward(inputs.ToList());
            return settings.Tables is null
                ? FusedBmojoAttention.Run(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5],
                                          settings.Window, settings.FadingTokens, settings.EideticCapacity)
                : FusedBmojoAttention.Run(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], settings.Tables,
                                          settings.Window, settings.FadingTokens, settings.EideticCapacity, queriesPerBlock: null);
        }
        EideticTables tables = settings.Tables ?? FusedBmojoAttention.Tables(inputs[5], settings.Window);
        (Tensor output, Tensor lse) = TensorCoreAttention.Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], tables,
                                                                  settings.Window, settings.FadingTokens, settings.EideticCapacity);
        ctx.save_for_backward([.. inputs.Take(5), tables.Edge, tables.Positions, tables.Count, output, lse]);
        return output.narrow(3, 0, inputs[0].shape[3]).contiguous();
    }

    protected override List<Tensor?> Gradients(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var settings = (Settings)ctx.get_data(SettingsKey);
        List<Tensor> saved = ctx.get_saved_variables();
        List<Tensor?> result = [.. saved.Count == 6 ? Blockwise(saved, settings, grad_output) : TensorCores(saved, settings, grad_output)];
        result.Add(null);                                   // selected: discrete, no gradient
        result.Add(null);                                   // settings
        return result;
    }

    private static List<Tensor> TensorCores(List<Tensor> saved, Settings settings, Tensor gradOutput)
    {
        var tables = new EideticTables(saved[5], saved[6], saved[7]);
        BmojoAttentionGradients g = TensorCoreAttention.Backward(saved[0], saved[1], saved[2], saved[3], saved[4], tables,
                                                                 settings.Window, settings.FadingTokens, settings.EideticCapacity,
                                                                 saved[8], saved[9], gradOutput);
        return [g.Q, g.K, g.V, g.Kf, g.Vf];
    }

    private static List<Tensor> Blockwise(List<Tensor> saved, Settings settings, Tensor gradOutput)
    {
        using var grad = enable_grad();
        List<Tensor> leaves = saved.Take(5).Select(t => t.detach().requires_grad_(true)).ToList();
        Tensor o = BmojoBlockwise.Run(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], saved[5], settings.Window,
                                      settings.FadingTokens, settings.EideticCapacity, plan: null, settings.BlockSize);
        o.backward([gradOutput.to_type(o.dtype)]);
        // A source the settings leave unused (kf, vf with m_f = 0; k, v with w = 0 and m_e = 0) gets no gradient.
        return leaves.Select(leaf => leaf.grad ?? zeros_like(leaf)).ToList();
    }

    // Tables: the eidetic tables when the caller made them (null: made here from s).
    private sealed record Settings(int Window, int FadingTokens, int EideticCapacity, int BlockSize, EideticTables? Tables);
}
