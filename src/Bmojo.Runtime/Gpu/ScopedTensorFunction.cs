using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Gpu;

/// <summary>
/// Deterministic release of what a custom autograd function's <c>backward</c> makes. On CUDA, torch's autograd engine
/// calls <c>backward</c> on a device thread of its own, where no dispose scope of the caller is active, and TorchSharp
/// 0.107 disposes neither the incoming gradient's wrapper nor the returned gradients' wrappers: left alone, every
/// training step's saved tensors, temporaries and gradients stay alive until .NET's finalizers run, which with a
/// tiny managed heap is never soon enough (a 370M model ran a 139 GiB GPU out of memory in four steps). So the
/// backward of every function of ours runs here: <see cref="Gradients"/> runs in a scope holding its temporaries, the
/// unpacked saved tensors and the incoming gradient, and the gradients it returns are kept out of the scope and
/// released at this thread's next backward, when torch already holds references of its own.
/// </summary>
/// <typeparam name="T">The function itself.</typeparam>
public abstract class ScopedTensorFunction<T> : autograd.SingleTensorFunction<T> where T : ScopedTensorFunction<T>, new()
{
    [ThreadStatic] private static List<Tensor>? handedBack;

    public sealed override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        ReleaseHandedBack();
        using DisposeScope scope = NewDisposeScope();
        scope.Attach(grad_output);
        return HandBack(Gradients(ctx, grad_output));
    }

    /// <summary>The gradients of the inputs, in order (null for an input that is not a tensor or has none); unpack the
    /// saved tensors here, so that they are released with everything else this backward makes.</summary>
    protected abstract List<Tensor?> Gradients(autograd.AutogradContext ctx, Tensor gradOutput);

    private static void ReleaseHandedBack()
    {
        if (handedBack is null) return;
        foreach (Tensor t in handedBack) t.Dispose();
        handedBack.Clear();
    }

    private static List<Tensor> HandBack(List<Tensor?> gradients)
    {
        handedBack ??= [];
        foreach (Tensor? g in gradients)
            if (g is not null && !handedBack.Any(h => ReferenceEquals(h, g)))   // Tensor.Equals compares values
            {
                g.DetachFromDisposeScope();
                handedBack.Add(g);
            }
        return gradients!;
    }
}
