using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Runtime;
using Device = TorchSharp.torch.Device;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.AdamWStep;

/// <summary>
/// TorchSharp's <see cref="AdamW"/> with its step fused into one ILGPU kernel a parameter on CUDA
/// (<see cref="AdamWKernel"/>): the same state (<see cref="AdamW.State"/>: step, exp_avg, exp_avg_sq, so checkpoints,
/// <c>state_dict</c> and learning-rate schedulers see no difference), the same options and groups, the same arithmetic.
/// TorchSharp's step runs nine torch kernels a parameter (plus a tensor handle for each intermediate); a 370M Mamba's
/// ~500 parameters made that 42 ms a step on the H200, most of it launch overhead (docs/benchmarks.md).
/// <para>
/// The fused step runs when every parameter with a gradient is on one CUDA device (or, for tests, on the CPU with
/// <c>kernelOnCpu</c>: ILGPU's CPU accelerator), its gradient and both moments have its dtype (fp32 or bf16) and all
/// four are contiguous, no group asks for amsgrad or maximize and no closure is given. Otherwise the step is
/// TorchSharp's, unchanged. <see cref="LastStepFused"/> says which ran. The kernels' views of a parameter's four
/// tensors are made once and kept while the tensors keep their memory (the usual case: backward accumulates into the
/// gradients that zero_grad zeroed in place), so a step costs a few pointer reads a parameter on the host.
/// </para>
/// </summary>
public sealed class FusedAdamW : AdamW
{
    private const string Operation = "fused AdamW";
    private static readonly StreamKernel<AdamWArguments> Fp32Kernel = new(AdamWKernel.Fp32);
    private static readonly StreamKernel<AdamWArguments> Bf16Kernel = new(AdamWKernel.Bf16);
    private static readonly StreamKernel<AdamWArguments> Bf16PairsKernel = new(AdamWKernel.Bf16Pairs);

    private enum Format { Fp32, Bf16, Bf16Pairs }

    private readonly bool kernelOnCpu;

    /// <param name="kernelOnCpu">Run the kernel on ILGPU's CPU accelerator for CPU parameters (tests of the kernel
    /// without a GPU); by default CPU parameters take TorchSharp's step, which is faster there.</param>
    public FusedAdamW(IEnumerable<ParamGroup> groups, double lr, double beta1, double beta2, double eps = 1e-8,
                      double weightDecay = 0, bool kernelOnCpu = false)
        : base(groups, lr, beta1, beta2, eps, weightDecay)
    {
        this.kernelOnCpu = kernelOnCpu;
    }

    /// <summary>True when the last <see cref="step"/> ran the fused kernel, false when it ran TorchSharp's.</summary>
    public bool LastStepFused { get; private set; }

    /// <summary>Where the last fused step's time went, in seconds: collecting and checking the tensors and making their
    /// views (host), and <see cref="KernelHost.Launch"/> (waiting for torch, enqueueing the kernels, waiting for them);
    /// and how many kernels it launched. Null when the last step was TorchSharp's.</summary>
    public (double Prepare, double Launch, int Kernels)? LastStepTimes { get; private set; }

    public override Tensor step(Func<Tensor>? closure = null)
    {
        LastStepTimes = null;
        LastStepFused = closure is null && TryFusedStep();
        return LastStepFused ? null! : base.step(closure!);
    }

    // A parameter's launch as last built: the data pointers of its four tensors, its host and format, and the kernel
    // arguments with views over that memory (kept from step to step: making the views cost ~15 µs a parameter).
    private sealed class Entry(IntPtr[] pointers, KernelHost host, Format format, AdamWArguments arguments, TorchInterop views)
        : IDisposable
    {
        public IntPtr[] Pointers { get; } = pointers;
        public KernelHost Host { get; } = host;
        public Format Format { get; } = format;
        public AdamWArguments Arguments = arguments;
        public void Dispose() => views.Dispose();
    }

    private readonly Dictionary<IntPtr, Entry> entries = [];         // by the parameter's handle

    private bool TryFusedStep()
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var work = new List<(Entry Entry, State State, Options Options)>();
        KernelHost? host = null;
        foreach (var group in _parameter_groups)
        {
            var options = (Options)group.Options;
            if (options.amsgrad == true || options.maximize == true) return false;
            foreach (Parameter parameter in group.Parameters)
            {
                Tensor? gradient = parameter.grad;
                if (gradient is null) continue;
                var state = (State)_state[parameter.Handle];
                Entry? entry = Current(parameter, gradient, state);
                if (entry is null || (host is not null && entry.Host != host)) return false;
                host = entry.Host;
                work.Add((entry, state, options));
            }
        }
        if (host is null) return true;                         // no gradients: nothing to update, as TorchSharp's step
        if (!host.IsCuda && !kernelOnCpu) return false;

        foreach (var (entry, state, options) in work)
        {
            state.step += 1;
            SetScalars(ref entry.Arguments, options, state.step);
        }
        long prepared = System.Diagnostics.Stopwatch.GetTimestamp();
        host.Launch(accelerator =>
        {
            var kernels = new[] { Fp32Kernel.On(accelerator), Bf16Kernel.On(accelerator), Bf16PairsKernel.On(accelerator) };
            foreach (var (entry, _, _) in work)
                kernels[(int)entry.Format](new KernelConfig(AdamWKernel.Groups(entry.Arguments.Count), AdamWKernel.GroupSize),
                                           entry.Arguments);
        });
        LastStepTimes = (System.Diagnostics.Stopwatch.GetElapsedTime(started, prepared).TotalSeconds,
                         System.Diagnostics.Stopwatch.GetElapsedTime(prepared).TotalSeconds, work.Count);
        return true;
    }

    // The parameter's entry, reused while its four tensors keep their memory (a tensor that keeps its data pointer keeps
    // its dtype, size and layout: parameters and moments are never reallocated in place, and a gradient, when autograd
    // makes a new one, takes the parameter's layout); rebuilt after a change, null when the tensors cannot be fused.
    private Entry? Current(Tensor parameter, Tensor gradient, State state)
    {
        // An empty parameter has no data pointer to view: TorchSharp's step takes it (and the rest).
        if (state.exp_avg is null || state.exp_avg_sq is null || parameter.numel() == 0) return null;
        Tensor[] tensors = [parameter, gradient, state.exp_avg, state.exp_avg_sq];
        IntPtr[] pointers = tensors.Select(TorchInterop.DataPointer).ToArray();
        if (entries.TryGetValue(parameter.Handle, out Entry? entry))
        {
            if (entry.Pointers.SequenceEqual(pointers)) return entry;
            entries.Remove(parameter.Handle);
            entry.Dispose();
        }
        if (!Fusable(parameter, gradient, state)) return null;
        if (parameter.device_type is not (DeviceType.CUDA or DeviceType.CPU)) return null;
        KernelHost host = KernelHost.For(parameter.device);
        Format format = parameter.dtype != ScalarType.BFloat16 ? Format.Fp32
                      : parameter.dim() > 0 && parameter.shape[^1] % 2 == 0 ? Format.Bf16Pairs : Format.Bf16;
        var views = new TorchInterop(host, Operation);
        entry = new Entry(pointers, host, format, Views(tensors, format, views), views);
        entries[parameter.Handle] = entry;
        return entry;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (Entry entry in entries.Values) entry.Dispose();
            entries.Clear();
        }
        base.Dispose(disposing);
    }

    private static bool Fusable(Tensor parameter, Tensor gradient, State state)
    {
        ScalarType dtype = parameter.dtype;
        if (dtype != ScalarType.Float32 && dtype != ScalarType.BFloat16) return false;
        foreach (Tensor t in new[] { gradient, state.exp_avg, state.exp_avg_sq })
            if (t.dtype != dtype || !t.shape.SequenceEqual(parameter.shape) ||
                t.device_type != parameter.device_type || t.device_index != parameter.device_index)
                return false;
        return parameter.is_contiguous() && gradient.is_contiguous() && state.exp_avg.is_contiguous() && state.exp_avg_sq.is_contiguous();
    }

    // The step's scalars, computed in double and rounded to fp32 as torch rounds a scalar for an fp32 op.
    private static void SetScalars(ref AdamWArguments a, Options o, long step)
    {
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value;
        double correction1 = 1 - Math.Pow(beta1, step), correction2 = 1 - Math.Pow(beta2, step);
        a.Decay = (float)(1 - lr * o.weight_decay!.Value);
        a.Beta1 = (float)beta1;
        a.OneMinusBeta1 = (float)(1 - beta1);
        a.Beta2 = (float)beta2;
        a.OneMinusBeta2 = (float)(1 - beta2);
        a.StepSize = (float)(lr / correction1);
        a.RootCorrection2 = (float)Math.Sqrt(correction2);
        a.Eps = (float)o.eps!.Value;
    }

    // Views of parameter, gradient, exp_avg and exp_avg_sq in the kernel's format.
    private static AdamWArguments Views(Tensor[] t, Format format, TorchInterop views)
    {
        long[] shape = t[0].shape;
        string[] names = ["parameter", "gradient", "exp_avg", "exp_avg_sq"];
        var arguments = new AdamWArguments { Count = t[0].numel() };
        switch (format)
        {
            case Format.Bf16Pairs:
                arguments.Count /= 2;
                arguments.ParameterPairs = views.Bf16Pairs(t[0], names[0], shape);
                arguments.GradientPairs = views.Bf16Pairs(t[1], names[1], shape);
                arguments.ExpAvgPairs = views.Bf16Pairs(t[2], names[2], shape);
                arguments.ExpAvgSqPairs = views.Bf16Pairs(t[3], names[3], shape);
                break;
            case Format.Bf16:
                arguments.ParameterBf16 = views.Bf16(t[0], names[0], shape);
                arguments.GradientBf16 = views.Bf16(t[1], names[1], shape);
                arguments.ExpAvgBf16 = views.Bf16(t[2], names[2], shape);
                arguments.ExpAvgSqBf16 = views.Bf16(t[3], names[3], shape);
                break;
            default:
                arguments.Parameter = views.Float32(t[0], names[0], shape);
                arguments.Gradient = views.Float32(t[1], names[1], shape);
                arguments.ExpAvg = views.Float32(t[2], names[2], shape);
                arguments.ExpAvgSq = views.Float32(t[3], names[3], shape);
                break;
        }
        return arguments;
    }
}
