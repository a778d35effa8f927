using Bmojo.Runtime.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Kernels;

/// <summary>
/// The selective scan as a TorchSharp autograd function: the forward pass is the fused kernel
/// (<see cref="FusedSelectiveScan"/>); the backward pass recomputes the scan through
/// <see cref="SelectiveScanReference"/> with autograd on and differentiates that. There is no fused backward kernel
/// yet, so training pays the reference's backward cost; the gradients are the reference's exactly.
/// Call <see cref="Apply"/>; the optional inputs take part in the graph when given.
/// </summary>
public sealed class SelectiveScanFunction : autograd.SingleTensorFunction<SelectiveScanFunction>
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
        ctx.save_for_backward(inputs.Where(t => t is not null).Select(t => t!).ToList());
        ctx.save_data(PresentKey, inputs.Select(t => t is not null).ToArray());
        ctx.save_data(SoftplusKey, softplus);
        return FusedSelectiveScan.Run(inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!, inputs[4]!, inputs[5], inputs[6], inputs[7], softplus);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        bool[] present = (bool[])ctx.get_data(PresentKey);
        bool softplus = (bool)ctx.get_data(SoftplusKey);
        Queue<Tensor> saved = new(ctx.get_saved_variables());
        Tensor?[] inputs = present.Select(p => p ? saved.Dequeue().detach().requires_grad_(true) : null).ToArray();

        using var grad = enable_grad();
        Tensor y = SelectiveScanReference.Run(inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!, inputs[4]!,
                                              inputs[5], inputs[6], inputs[7], softplus);
        Tensor[] leaves = inputs.Where(t => t is not null).Select(t => t!).ToArray();
        Queue<Tensor> grads = new(autograd.grad(new[] { y }, leaves, new[] { grad_output }));
        var result = present.Select(p => p ? grads.Dequeue() : null).ToList();
        result.Add(null);                                   // delta_softplus is not a tensor
        return result!;
    }

    private static Tensor?[] Inputs(object[] vars) => vars.Take(8).Select(v => v as Tensor).ToArray();
}
