using Bmojo.Runtime.Ops.AdamWStep;
using Bmojo.Runtime.Tests.Gpu;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Tests.Ops.AdamWStep;

/// <summary>The fused AdamW step against TorchSharp's <see cref="AdamW"/>, the reference it replaces: the same
/// parameters and moments after several steps (two groups with their own weight decay, a learning rate changed between
/// steps as a scheduler does, a parameter without a gradient, sizes from 1 element to more than one grid covers), on
/// ILGPU's CPU accelerator and on CUDA; bf16 against the same arithmetic in fp32, rounded once; and the cases that must
/// keep TorchSharp's step.</summary>
public sealed class FusedAdamWTests
{
    private const double Lr = 3e-3, Beta1 = 0.9, Beta2 = 0.95, Eps = 1e-8, Decay = 0.1;

    // Sizes: 1 element, odd, a matrix with an odd last dimension (bf16: one element a thread) and one with an even one
    // (bf16: pairs), and two larger than a grid of AdamWKernel.MaxGroups x GroupSize threads covers (odd; even in pairs).
    private const long Grid = AdamWKernel.MaxGroups * AdamWKernel.GroupSize;
    private static readonly long[][] Shapes = [[1], [37], [17, 33], [4, 6], [Grid + 77], [2 * Grid + 78]];

    private sealed class Setup(Parameter[] parameters, AdamW optimizer) : IDisposable
    {
        public Parameter[] Parameters { get; } = parameters;
        public AdamW Optimizer { get; } = optimizer;
        public AdamW.State State(int i) => (AdamW.State)Optimizer.state_dict().State[i];
        public void Dispose() => Optimizer.Dispose();
    }

    // Parameters 0..n-2 in a decayed group, the last one in a group without decay; the same values for both optimizers.
    private static Setup Build(Tensor[] initial, bool fused, bool kernelOnCpu = true, bool amsgrad = false)
    {
        Parameter[] parameters = initial.Select(t => new Parameter(t.clone(), requires_grad: true)).ToArray();
        var groups = new[]
        {
            new AdamW.ParamGroup(parameters[..^1], new AdamW.Options { weight_decay = Decay, amsgrad = amsgrad }),
            new AdamW.ParamGroup(parameters[^1..], new AdamW.Options { weight_decay = 0.0, amsgrad = amsgrad }),
        };
        AdamW optimizer = fused
            ? new FusedAdamW(groups, Lr, Beta1, Beta2, Eps, kernelOnCpu: kernelOnCpu)
            : new AdamW(groups, Lr, Beta1, Beta2, Eps);
        return new Setup(parameters, optimizer);
    }

    private static Tensor[] Initial(Device device, ScalarType dtype) =>
        Shapes.Select(s => randn(s, dtype: ScalarType.Float32).to(dtype).to(device)).ToArray();

    // Gradients for each step; parameter `skip` gets none at step 1 (its state must not advance then).
    private static void SetGradients(Setup setup, Tensor[] gradients, int? skip)
    {
        for (int i = 0; i < setup.Parameters.Length; i++)
            setup.Parameters[i].grad = i == skip ? null : gradients[i].clone();
    }

    private static void RunSteps(Setup setup, IReadOnlyList<Tensor[]> gradients)
    {
        for (int step = 0; step < gradients.Count; step++)
        {
            if (step == 2) foreach (var group in setup.Optimizer.ParamGroups) group.LearningRate = Lr / 3;   // a scheduler
            SetGradients(setup, gradients[step], skip: step == 1 ? 1 : null);
            setup.Optimizer.step();
        }
    }

    private static List<Tensor[]> Gradients(Tensor[] initial, int steps) =>
        Enumerable.Range(0, steps).Select(_ => initial.Select(p => (randn(p.shape) * 0.5).to(p.dtype).to(p.device)).ToArray()).ToList();

    private static void MatchesTorchSharpInFp32(Device device)
    {
        manual_seed(7);
        using var scope = NewDisposeScope();
        Tensor[] initial = Initial(device, ScalarType.Float32);
        var gradients = Gradients(initial, steps: 4);
        using Setup reference = Build(initial, fused: false), fused = Build(initial, fused: true);
        RunSteps(reference, gradients);
        RunSteps(fused, gradients);

        Assert.True(((FusedAdamW)fused.Optimizer).LastStepFused);
        for (int i = 0; i < initial.Length; i++)
        {
            Assert.Equal(reference.State(i).step, fused.State(i).step);
            TensorAssert.Close(reference.Parameters[i], fused.Parameters[i], atol: 1e-6, rtol: 1e-5, what: $"parameter {i}");
            TensorAssert.Close(reference.State(i).exp_avg, fused.State(i).exp_avg, atol: 1e-6, rtol: 1e-5, what: $"exp_avg {i}");
            TensorAssert.Close(reference.State(i).exp_avg_sq, fused.State(i).exp_avg_sq, atol: 1e-7, rtol: 1e-5, what: $"exp_avg_sq {i}");
        }
        Assert.Equal(3, fused.State(1).step);      // no gradient at step 1: skipped, as TorchSharp skips it
        Assert.False((fused.Parameters[0] == initial[0]).all().item<bool>());
    }

    [Fact]
    public void MatchesTorchSharpInFp32OnTheCpuAccelerator() => MatchesTorchSharpInFp32(CPU);

    [CudaFact]
    public void MatchesTorchSharpInFp32OnCuda() => MatchesTorchSharpInFp32(CUDA);

    /// <summary>bf16 parameters and moments: the fused step is the fp32 arithmetic rounded once to bf16, so it agrees
    /// with TorchSharp's step run in fp32 on the same (upcast) values to within bf16's half-ulp rounding, and is closer
    /// to it than TorchSharp's step in bf16, which rounds after each of its nine kernels.</summary>
    private static void RoundsOnceInBf16(Device device)
    {
        manual_seed(8);
        using var scope = NewDisposeScope();
        Tensor[] initial = Initial(device, ScalarType.BFloat16);
        Tensor[] gradients = initial.Select(p => (randn(p.shape) * 0.5).to(ScalarType.BFloat16).to(device)).ToArray();
        Tensor[] moment = initial.Select(p => (randn(p.shape) * 0.1).to(ScalarType.BFloat16).to(device)).ToArray();
        Tensor[] second = initial.Select(p => (rand(p.shape) * 0.1 + 0.01).to(ScalarType.BFloat16).to(device)).ToArray();

        Setup Run(ScalarType dtype, bool fused)
        {
            Setup setup = Build(initial.Select(t => t.to(dtype)).ToArray(), fused);
            for (int i = 0; i < initial.Length; i++)
            {
                setup.State(i).exp_avg.copy_(moment[i]);         // moments from earlier steps, so every term counts
                setup.State(i).exp_avg_sq.copy_(second[i]);
                setup.State(i).step = 5;
                setup.Parameters[i].grad = gradients[i].to(dtype);
            }
            setup.Optimizer.step();
            return setup;
        }

        using Setup exact = Run(ScalarType.Float32, fused: false), fused = Run(ScalarType.BFloat16, fused: true),
                    unfused = Run(ScalarType.BFloat16, fused: false);
        Assert.True(((FusedAdamW)fused.Optimizer).LastStepFused);
        double fusedError = 0, unfusedError = 0;
        for (int i = 0; i < initial.Length; i++)
        {
            Assert.Equal(ScalarType.BFloat16, fused.Parameters[i].dtype);
            // bf16 has 8 significant bits: rounding once is within 2^-9 relative; 2^-8 leaves room for fp32 op order,
            // and atol 1e-7 for results that cancel (m = b1 m + (1 - b1) g near 0, where the fp32 rounding of the terms,
            // below 0.5 here, ~3e-8, is all the difference).
            TensorAssert.Close(exact.Parameters[i], fused.Parameters[i], atol: 1e-7, rtol: 1.0 / 256, what: $"parameter {i}");
            TensorAssert.Close(exact.State(i).exp_avg, fused.State(i).exp_avg, atol: 1e-7, rtol: 1.0 / 256, what: $"exp_avg {i}");
            TensorAssert.Close(exact.State(i).exp_avg_sq, fused.State(i).exp_avg_sq, atol: 1e-7, rtol: 1.0 / 256, what: $"exp_avg_sq {i}");
            Tensor truth = exact.Parameters[i].detach().to_type(ScalarType.Float64);
            fusedError += (fused.Parameters[i].detach().to_type(ScalarType.Float64) - truth).abs().sum().item<double>();
            unfusedError += (unfused.Parameters[i].detach().to_type(ScalarType.Float64) - truth).abs().sum().item<double>();
        }
        Assert.True(fusedError <= unfusedError, $"fused bf16 error {fusedError:G4} > TorchSharp's bf16 step's {unfusedError:G4}");
    }

    [Fact]
    public void RoundsOnceInBf16OnTheCpuAccelerator() => RoundsOnceInBf16(CPU);

    [CudaFact]
    public void RoundsOnceInBf16OnCuda() => RoundsOnceInBf16(CUDA);

    /// <summary>The fused step keeps its views of a parameter's tensors while they keep their memory (gradients written
    /// in place, as backward accumulates into them after zero_grad) and makes new ones when a tensor moves (a new gradient
    /// tensor, moments replaced by a state load); the results follow TorchSharp's step throughout.</summary>
    [Fact]
    public void FollowsTensorsThatStayAndTensorsThatMove()
    {
        manual_seed(11);
        using var scope = NewDisposeScope();
        Tensor[] initial = Initial(CPU, ScalarType.Float32)[..4];
        var gradients = Gradients(initial, steps: 5);
        using Setup reference = Build(initial, fused: false), fused = Build(initial, fused: true);
        foreach (Setup setup in new[] { reference, fused })
            for (int i = 0; i < initial.Length; i++) setup.Parameters[i].grad = zeros_like(initial[i]);
        for (int step = 0; step < gradients.Count; step++)
        {
            foreach (Setup setup in new[] { reference, fused })
            {
                for (int i = 0; i < initial.Length; i++)
                    if (step == 3 && i == 2) setup.Parameters[i].grad = gradients[step][i].clone();     // moves
                    else setup.Parameters[i].grad!.copy_(gradients[step][i]);                              // stays
                if (step == 4)                                                                               // moments move
                {
                    AdamW.State state = setup.State(0);
                    Tensor m = state.exp_avg.clone(), v = state.exp_avg_sq.clone();
                    state.exp_avg = m;
                    state.exp_avg_sq = v;
                }
                setup.Optimizer.step();
            }
            Assert.Equal(initial.Length, ((FusedAdamW)fused.Optimizer).LastStepTimes!.Value.Kernels);
            for (int i = 0; i < initial.Length; i++)
                TensorAssert.Close(reference.Parameters[i], fused.Parameters[i], atol: 1e-6, rtol: 1e-5, what: $"step {step}, parameter {i}");
        }
    }

    [Fact]
    public void CpuParametersKeepTorchSharpsStepUnlessAskedForTheKernel()
    {
        manual_seed(9);
        using var scope = NewDisposeScope();
        Tensor[] initial = Initial(CPU, ScalarType.Float32);
        var gradients = Gradients(initial, steps: 2);
        using Setup reference = Build(initial, fused: false), plain = Build(initial, fused: true, kernelOnCpu: false);
        AssertTorchSharpsStep(reference, plain, gradients);
    }

    // Both optimizers run the same steps; the fused one must have taken TorchSharp's step, so the results are identical.
    private static void AssertTorchSharpsStep(Setup reference, Setup fused, IReadOnlyList<Tensor[]> gradients)
    {
        RunSteps(reference, gradients);
        RunSteps(fused, gradients);
        Assert.False(((FusedAdamW)fused.Optimizer).LastStepFused);
        for (int i = 0; i < reference.Parameters.Length; i++)
            Assert.True((reference.Parameters[i] == fused.Parameters[i]).all().item<bool>(), $"parameter {i} differs from TorchSharp's step");
    }

    [Fact]
    public void AmsgradAndClosuresKeepTorchSharpsStep()
    {
        manual_seed(10);
        using var scope = NewDisposeScope();
        Tensor[] initial = Initial(CPU, ScalarType.Float32)[..3];
        var gradients = Gradients(initial, steps: 1);
        using Setup reference = Build(initial, fused: false, amsgrad: true), fused = Build(initial, fused: true, amsgrad: true);
        AssertTorchSharpsStep(reference, fused, gradients);

        using Setup withClosure = Build(initial, fused: true);
        SetGradients(withClosure, gradients[0], skip: null);
        Tensor loss = withClosure.Optimizer.step(() => tensor(1.5f));
        Assert.False(((FusedAdamW)withClosure.Optimizer).LastStepFused);
        Assert.Equal(1.5f, loss.item<float>());
    }

    [Fact]
    public void TheTrainingOptimizerIsTheFusedOne()
    {
        using var model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3));
        var (optimizer, names) = ParameterGroups.AdamW(model, 1e-3, 0.1);
        Assert.IsType<FusedAdamW>(optimizer);
        Assert.Equal(4, names.Count);
    }
}
