using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// The selective scan as a TorchSharp autograd function, both passes fused: the forward pass is
/// <see cref="FusedSelectiveScan"/>, the backward pass <see cref="FusedSelectiveScanBackward"/>. Between the two it
/// keeps the inputs and the state before every chunk of the kernels (B, d_inner, ⌈L / chunk⌉, N): chunks of 8 steps
/// for N &lt;= 16 (at N = 16 twice the size of u), of 2^⌈log2 N⌉ steps above (the size of u at N = 32); the backward
/// pass recomputes the states inside each chunk, so nothing of size (B, d_inner, L, N) is kept.
/// Call <see cref="Apply"/>; the optional inputs take part in the graph when given. Gradients come back in each
/// input's dtype.
/// </summary>
public sealed class SelectiveScanFunction : ScopedTensorFunction<SelectiveScanFunction>
{
    private const string SoftplusKey = "delta_softplus";
    private const string PresentKey = "present";

    public override string Name => nameof(SelectiveScanFunction);

    /// <summary><c>y</c> of <see cref="SelectiveScanReference.Run"/>, differentiable in every tensor argument.</summary>
    public static Tensor Apply(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D = null, Tensor? z = null,
                               Tensor? deltaBias = null, bool deltaSoftplus = false) =>
        apply(u, delta, A, B, C, D!, z!, deltaBias!, deltaSoftplus);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        Tensor?[] inputs = Inputs(vars);
        bool softplus = (bool)vars[8];
        (Tensor y, Tensor checkpoints) = FusedSelectiveScan.RunForTraining(
            inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!, inputs[4]!, inputs[5], inputs[6], inputs[7], softplus);
        ctx.save_for_backward(inputs.Where(t => t is not null).Select(t => t!).Append(checkpoints).ToList());
        ctx.save_data(PresentKey, inputs.Select(t => t is not null).ToArray());
        ctx.save_data(SoftplusKey, softplus);
        return y;
    }

    protected override List<Tensor?> Gradients(autograd.AutogradContext ctx, Tensor grad_output)
    {
        bool[] present = (bool[])ctx.get_data(PresentKey);
        bool softplus = (bool)ctx.get_data(SoftplusKey);
        Queue<Tensor> saved = new(ctx.get_saved_variables());
        Tensor?[] inputs = present.Select(p => p ? saved.Dequeue() : null).ToArray();
        Tensor checkpoints = saved.Dequeue();

        SelectiveScanGradients g = FusedSelectiveScanBackward.Run(inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!, inputs[4]!,
                                                                  inputs[5], inputs[6], inputs[7], softplus, grad_output, checkpoints);
        Tensor?[] grads = [g.U, g.Delta, g.A, g.B, g.C, g.D, g.Z, g.DeltaBias];
        var result = grads.Select((grad, i) => grad is null ? null : grad.to_type(inputs[i]!.dtype)).ToList();
        result.Add(null);                                   // delta_softplus is not a tensor
        return result;
    }

    private static Tensor?[] Inputs(object[] vars) => vars.Take(8).Select(v => v as Tensor).ToArray();
}
