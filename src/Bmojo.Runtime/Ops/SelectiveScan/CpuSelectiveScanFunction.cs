using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// <see cref="CpuSelectiveScan"/> as a TorchSharp autograd function. Between the passes it keeps only the inputs:
/// the backward pass sweeps each channel forward again (keeping its L x N states in scratch memory of one thread),
/// then back. Inputs: u, delta, A, B, C, D, z, delta_bias, initial state (the last four may be null), delta_softplus.
/// Gradients come back in each input's dtype.
/// </summary>
public sealed class CpuSelectiveScanFunction : ScopedTensorFunction<CpuSelectiveScanFunction>
{
    private const string SoftplusKey = "delta_softplus";
    private const string PresentKey = "present";

    public override string Name => nameof(CpuSelectiveScanFunction);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        Tensor?[] x = vars.Take(9).Select(v => v as Tensor).ToArray();
        bool softplus = (bool)vars[9];
        ctx.save_for_backward(x.Where(t => t is not null).Select(t => t!).ToList());
        ctx.save_data(PresentKey, x.Select(t => t is not null).ToArray());
        ctx.save_data(SoftplusKey, softplus);
        return CpuSelectiveScan.Forward(x[0]!, x[1]!, x[2]!, x[3]!, x[4]!, x[5], x[6], x[7], softplus, x[8], keepFinalState: false).Output;
    }

    protected override List<Tensor?> Gradients(autograd.AutogradContext ctx, Tensor grad_output)
    {
        bool[] present = (bool[])ctx.get_data(PresentKey);
        bool softplus = (bool)ctx.get_data(SoftplusKey);
        Queue<Tensor> saved = new(ctx.get_saved_variables());
        Tensor?[] x = present.Select(p => p ? saved.Dequeue() : null).ToArray();

        CpuScanGradients g = CpuSelectiveScan.Backward(x[0]!, x[1]!, x[2]!, x[3]!, x[4]!, x[5], x[6], x[7], softplus, x[8], grad_output);
        Tensor?[] grads = [g.U, g.Delta, g.A, g.B, g.C, g.D, g.Z, g.DeltaBias, g.InitialState];
        var result = grads.Select((grad, i) => grad?.to_type(x[i]!.dtype)).ToList();
        result.Add(null);                                   // delta_softplus is not a tensor
        return result;
    }
}
