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
/// TorchSharp's, unchanged. <see cref="LastStepFused"/> says which ran.
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

    public override Tensor step(Func<Tensor>? closure = null)
    {
        LastStepFused = closure is null && TryFusedStep();
        return LastStepFused ? null! : base.step(closure!);
    }

    private readonly record struct Work(Tensor Parameter, Tensor Gradient, State State, Options Options);

    private bool TryFusedStep()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var work = new List<Work>();
        Device? device = null;
        foreach (var group in _parameter_groups)
        {
            var options = (Options)group.Options;
            if (options.amsgrad == true || options.maximize == true) return false;
            foreach (Parameter parameter in group.Parameters)
            {
                Tensor? gradient = parameter.grad;
                if (gradient is null) continue;
                var state = (State)_state[parameter.Handle];
                if (!Fusable(parameter, gradient, state)) return false;
                device ??= parameter.device;
                if (parameter.device_type != device.type || parameter.device_index != device.index) return false;
                work.Add(new Work(parameter, gradient, state, options));
            }
        }
        if (device is null) return true;                       // no gradients: nothing to update, as TorchSharp's step
        if (device.type == DeviceType.CPU ? !kernelOnCpu : device.type != DeviceType.CUDA) return false;

        KernelHost host = KernelHost.For(device);
        using var views = new TorchInterop(host, Operation);
        var launches = new List<(Format Format, AdamWArguments Arguments)>(work.Count);
        foreach (Work w in work)
        {
            w.State.step += 1;
            Format format = w.Parameter.dtype != ScalarType.BFloat16 ? Format.Fp32
                          : w.Parameter.dim() > 0 && w.Parameter.shape[^1] % 2 == 0 ? Format.Bf16Pairs : Format.Bf16;
            launches.Add((format, Arguments(w, format, views)));
        }
        host.Launch(accelerator =>
        {
            var kernels = new[] { Fp32Kernel.On(accelerator), Bf16Kernel.On(accelerator), Bf16PairsKernel.On(accelerator) };
            foreach (var (format, arguments) in launches)
                kernels[(int)format](new KernelConfig(AdamWKernel.Groups(arguments.Count), AdamWKernel.GroupSize), arguments);
        });
        return true;
    }

    private static bool Fusable(Tensor parameter, Tensor gradient, State state)
    {
        ScalarType dtype = parameter.dtype;
        if (dtype != ScalarType.Float32 && dtype != ScalarType.BFloat16) return false;
        foreach (Tensor t in new[] { gradient, state.exp_avg, state.exp_avg_sq })
            if (t is null || t.dtype != dtype || !t.shape.SequenceEqual(parameter.shape) ||
                t.device_type != parameter.device_type || t.device_index != parameter.device_index)
                return false;
        return parameter.is_contiguous() && gradient.is_contiguous() && state.exp_avg.is_contiguous() && state.exp_avg_sq.is_contiguous();
    }

    private static AdamWArguments Arguments(Work w, Format format, TorchInterop views)
    {
        Options o = w.Options;
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value;
        double correction1 = 1 - Math.Pow(beta1, w.State.step), correction2 = 1 - Math.Pow(beta2, w.State.step);
        long[] shape = w.Parameter.shape;
        var arguments = new AdamWArguments
        {
            Count = w.Parameter.numel(),
            Decay = (float)(1 - lr * o.weight_decay!.Value),
            Beta1 = (float)beta1,
            OneMinusBeta1 = (float)(1 - beta1),
            Beta2 = (float)beta2,
            OneMinusBeta2 = (float)(1 - beta2),
            StepSize = (float)(lr / correction1),
            RootCorrection2 = (float)Math.Sqrt(correction2),
            Eps = (float)o.eps!.Value,
        };
        if (format == Format.Bf16Pairs)
        {
            arguments.Count /= 2;
            arguments.ParameterPairs = views.Bf16Pairs(w.Parameter, "parameter", shape);
            arguments.GradientPairs = views.Bf16Pairs(w.Gradient, "gradient", shape);
            arguments.ExpAvgPairs = views.Bf16Pairs(w.State.exp_avg, "exp_avg", shape);
            arguments.ExpAvgSqPairs = views.Bf16Pairs(w.State.exp_avg_sq, "exp_avg_sq", shape);
        }
        else if (format == Format.Bf16)
        {
            arguments.ParameterBf16 = views.Bf16(w.Parameter, "parameter", shape);
            arguments.GradientBf16 = views.Bf16(w.Gradient, "gradient", shape);
            arguments.ExpAvgBf16 = views.Bf16(w.State.exp_avg, "exp_avg", shape);
            arguments.ExpAvgSqBf16 = views.Bf16(w.State.exp_avg_sq, "exp_avg_sq", shape);
        }
        else
        {
            arguments.Parameter = views.Float32(w.Parameter, "parameter", shape);
            arguments.Gradient = views.Float32(w.Gradient, "gradient", shape);
            arguments.ExpAvg = views.Float32(w.State.exp_avg, "exp_avg", shape);
            arguments.ExpAvgSq = views.Float32(w.State.exp_avg_sq, "exp_avg_sq", shape);
        }
        return arguments;
    }
}
