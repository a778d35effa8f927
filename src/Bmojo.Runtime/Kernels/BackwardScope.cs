using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Kernels;

/// <summary>
/// Deterministic release of what a custom autograd function's <c>backward</c> makes. On CUDA, torch's autograd engine
/// calls <c>backward</c> on a device thread of its own, where no dispose scope of the caller is active, and TorchSharp
/// 0.107 disposes neither the incoming gradient's wrapper nor the returned gradients' wrappers: left alone, every
/// training step's saved tensors, temporaries and gradients stay alive until .NET's finalizers run, which with a
/// tiny managed heap is never soon enough (a 370M model ran a 139 GiB GPU out of memory in four steps). So a backward
/// opens a scope (<see cref="Begin"/>) holding its temporaries, the unpacked saved tensors and the incoming gradient,
/// and hands its results back through <see cref="HandBack"/>: kept out of the scope, and released at this thread's
/// next <see cref="Begin"/>, when torch already holds references of its own.
/// </summary>
internal static class BackwardScope
{
    [ThreadStatic] private static List<Tensor>? handedBack;

    /// <summary>Releases this thread's previous results and opens the scope of one backward, with the incoming
    /// gradient in it; call it before unpacking the saved tensors, so that they land in the scope too.</summary>
    public static DisposeScope Begin(Tensor gradOutput)
    {
        if (handedBack is not null)
        {
            foreach (Tensor t in handedBack) t.Dispose();
            handedBack.Clear();
        }
        DisposeScope scope = NewDisposeScope();
        scope.Attach(gradOutput);
        return scope;
    }

    /// <summary>The gradients to return, out of the scope and remembered for release at the next <see cref="Begin"/>.</summary>
    public static List<Tensor> HandBack(IEnumerable<Tensor?> gradients)
    {
        handedBack ??= [];
        var result = new List<Tensor>();
        foreach (Tensor? g in gradients)
        {
            if (g is not null && !handedBack.Any(h => ReferenceEquals(h, g)))   // Tensor.Equals compares values
            {
                g.DetachFromDisposeScope();
                handedBack.Add(g);
            }
            result.Add(g!);
        }
        return result;
    }
}
