using System.Diagnostics;
using Bmojo.Runtime;
using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.AdamWStep;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Bench;

/// <summary>
/// <c>bench train-step</c>: a whole training step of each model at one shape, as <c>bmojo train</c> takes it — forward
/// on random tokens (B, L), cross-entropy of the fp32 logits against the next tokens (+ the model's auxiliary loss),
/// backward, AdamW step (<see cref="TrainingOptimizer"/>), zero_grad — timed with the device synchronised before and
/// after each step (<see cref="DeviceTimer"/>), after warm-up steps. Reports the kernel paths the mixers took, device
/// memory (<see cref="DeviceMemory"/>) and, optionally, a breakdown (<see cref="LayerBreakdown"/>). A model that fails
/// (out of memory, an exception) gives a row with its error; the others still run.
/// </summary>
public sealed class TrainingStepBenchmark
{
    private readonly TrainingStepOptions options;
    private readonly Device device;
    private readonly TextWriter output;
    private readonly DeviceTimer timer;

    public TrainingStepBenchmark(TrainingStepOptions options, Device device, TextWriter output)
    {
        this.options = options;
        this.device = device;
        this.output = output;
        timer = new DeviceTimer(device);
    }

    /// <summary>Every model in this process, then the summary.</summary>
    public IReadOnlyList<TrainingStepResult> Run()
    {
        output.WriteLine(TrainingStepReport.Header(options, DeviceName(device), "all models in this process"));
        var clock = Stopwatch.StartNew();
        long? baseline = Baseline();
        var results = new List<TrainingStepResult>();
        for (int i = 0; i < options.Models.Count; i++)
        {
            double share = (options.TimeLimitSeconds - clock.Elapsed.TotalSeconds) / (options.Models.Count - i);
            results.Add(Measure(BenchModels.Find(options.Models[i])!, share, baseline));
        }
        TrainingStepReport.Write(results, options, output, sharedProcess: results.Count > 1 && device.type == DeviceType.CUDA);
        return results;
    }

    /// <summary>The device and, on CUDA, the GPU's name and memory as ILGPU reports them.</summary>
    public static string DeviceName(Device device)
    {
        if (device.type != DeviceType.CUDA) return device.ToString();
        try
        {
            var accelerator = KernelHost.For(device).Accelerator;
            return $"{device} ({accelerator.Name}, {accelerator.MemorySize / (double)(1L << 30):F1} GiB)";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return device.ToString();
        }
    }

    /// <summary>Device memory in use before any model: the contexts (torch's and ILGPU's) and nothing else.</summary>
    public long? Baseline()
    {
        if (device.type != DeviceType.CUDA) return null;
        using (var scope = NewDisposeScope()) ones(1, device: device).sum().item<float>();     // torch's context
        return DeviceMemory.InUse(device);
    }

    /// <summary>One model, never throwing: a failure is the result's error.</summary>
    /// <param name="timeLimitSeconds">This model's share of the time limit; fewer steps are timed when they would not fit.</param>
    /// <param name="baseline">From <see cref="Baseline"/>.</param>
    /// <param name="beforeBreakdown">Called with the result so far when a breakdown follows (a parent process keeps it
    /// should the breakdown not finish).</param>
    public TrainingStepResult Measure(ModelEntry model, double timeLimitSeconds, long? baseline,
                                      Action<TrainingStepResult>? beforeBreakdown = null)
    {
        var clock = Stopwatch.StartNew();
        output.WriteLine($"{model.Name}: building ({model.Settings.ParameterCount:N0} parameters, {model.Settings.Layers.Count} layers)");
        var result = new TrainingStepResult(model.Name, model.Settings.ParameterCount, null, null, options.TokensPerStep,
                                            null, null, 0, null, []);
        LanguageModel? module = null;
        ModelSettings settings = model.Settings;                  // then the built model's: its kernel policy
        AdamW? optimizer = null;
        var batches = new List<(Tensor Input, Tensor Target)>();
        try
        {
            manual_seed(20261201);
            module = model.Create(device);
            settings = module.Settings;
            if (options.Dtype != ScalarType.Float32) module.to(options.Dtype);
            module.train();
            optimizer = TrainingOptimizer.Create(module);
            result = result with { Parameters = module.parameters().Sum(p => p.numel()), BuildSeconds = clock.Elapsed.TotalSeconds };
            output.WriteLine($"{model.Name}: built in {result.BuildSeconds:F1} s; {result.Parameters:N0} parameters");
            for (int i = 0; i < 3; i++) batches.Add(Batch(model.Settings.Vocab));

            int runs = WarmUp(model, module, optimizer, batches, clock, timeLimitSeconds);
            Timing step = timer.Measure(0, runs, i => Step(model, module, optimizer, batches[i % batches.Count]));
            result = result with
            {
                StepSeconds = step,
                MemoryBytes = DeviceMemory.InUse(device) - baseline,
                Paths = KernelPaths(module),
            };
            output.WriteLine($"{model.Name}: step {step.Milliseconds}, {result.TokensPerSecond:N0} tokens/s; {result.Paths}");
            result = result with { OptimizerSeconds = OptimizerStep(model, module, optimizer, batches[0]) };
            if (optimizer is FusedAdamW { LastStepFused: true })
                result = result with { ReferenceOptimizerSeconds = ReferenceOptimizerStep(model, module, batches[0]) };
        }
        catch (Exception e)
        {
            result = result with { Error = Describe(e) };
            output.WriteLine($"{model.Name}: FAILED: {result.Error}");
        }
        finally
        {
            foreach ((Tensor input, Tensor target) in batches)
            {
                input.Dispose();
                target.Dispose();
            }
            optimizer?.Dispose();
            module?.Dispose();
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        if (!options.Breakdown) return result;
        double left = timeLimitSeconds - clock.Elapsed.TotalSeconds;
        if (left < 2 * (result.StepSeconds?.Median ?? 0) + 5)
        {
            output.WriteLine($"{model.Name}: breakdown skipped: {left:F0} s left of this model's share of the time limit");
            return result with { BreakdownNote = $"skipped: {left:F0} s left of this model's share of the time limit" };
        }
        beforeBreakdown?.Invoke(result);
        var rows = new List<BreakdownRow>(new LayerBreakdown(options, device, timer, output).Measure(settings))
        {
            new("AdamW step (timed alone)", BreakdownKind.Optimizer, result.OptimizerSeconds, 1, true,
                result.OptimizerSeconds is null ? "not measured: the step or its timing failed" : null),
        };
        if (result.ReferenceOptimizerSeconds is double reference)
            rows.Add(new("  TorchSharp's AdamW step (the reference, not in the step)", BreakdownKind.Optimizer, reference, 1, false,
                         result.OptimizerSeconds is double fused ? $"the fused step is {reference / fused:F1}x faster" : null));
        return result with { Breakdown = rows };
    }

    /// <summary>The reason a measurement failed, in one line.</summary>
    public static string Describe(Exception e)
    {
        string first = e.Message.Split('\n', 2)[0].Trim();
        return e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
            ? $"out of device memory ({first})"
            : $"{e.GetType().Name}: {first}";
    }

    // The warm-up steps, each timed; returns how many steps to time so that they take at most half the time left.
    private int WarmUp(ModelEntry model, LanguageModel module, AdamW optimizer, List<(Tensor, Tensor)> batches,
                       Stopwatch clock, double limit)
    {
        double last = 0;
        for (int i = 0; i < options.Warmup; i++)
        {
            Timing one = timer.Measure(0, 1, _ => Step(model, module, optimizer, batches[i % batches.Count]));
            last = one.Median;
            output.WriteLine($"{model.Name}: warm-up step {i + 1}: {last * 1e3:F1} ms");
            if (clock.Elapsed.TotalSeconds + last > limit / 2) break;                  // the rest of the warm-up would not fit
        }
        double left = limit - clock.Elapsed.TotalSeconds;
        int fit = last > 0 ? (int)Math.Floor(left / 2 / last) : options.Steps;
        int runs = Math.Clamp(fit, 1, options.Steps);
        if (runs < options.Steps)
            output.WriteLine($"{model.Name}: timing {runs} steps, not {options.Steps}: {options.Steps} would not fit this model's "
                             + $"share of the time limit ({limit:F0} s)");
        return runs;
    }

    private (Tensor Input, Tensor Target) Batch(int vocab)
    {
        using var scope = NewDisposeScope();
        Tensor tokens = randint(0, vocab, [options.Batch, options.Length + 1], ScalarType.Int64, device);   // (B, L + 1)
        Tensor input = tokens.narrow(1, 0, options.Length).contiguous();                                 // (B, L)
        Tensor target = tokens.narrow(1, 1, options.Length).contiguous();                                // (B, L): next tokens
        return (input.DetachFromDisposeScope(), target.DetachFromDisposeScope());
    }

    private static Tensor Loss(ModelEntry model, LanguageModel module, (Tensor Input, Tensor Target) batch)
    {
        Tensor logits = module.forward(batch.Input);                                                     // (B, L, V)
        Tensor loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to_type(ScalarType.Float32),
                                                  batch.Target.reshape(-1));
        return module.AuxLoss is Tensor aux ? loss + aux : loss;
    }

    private static void Step(ModelEntry model, LanguageModel module, AdamW optimizer, (Tensor, Tensor) batch)
    {
        using var scope = NewDisposeScope();
        Loss(model, module, batch).backward();
        optimizer.step();
        optimizer.zero_grad();
    }

    // One AdamW step alone, with the gradients of one more backward in place; null when that fails (the step's time stands).
    private double? OptimizerStep(ModelEntry model, LanguageModel module, AdamW optimizer, (Tensor, Tensor) batch) =>
        TimeAlone(model, module, () => optimizer, batch, "AdamW step alone", optimizer => optimizer switch
        {
            FusedAdamW { LastStepFused: true, LastStepTimes: var (prepare, launch, kernels) } =>
                $"fused: {kernels} kernels; the last step {prepare * 1e3:F2} ms preparing, {launch * 1e3:F2} ms launching and waiting",
            _ => "TorchSharp's",
        });

    // TorchSharp's own AdamW step alone on the same kind of gradients (its own moments, as a fresh optimizer's): the
    // reference the fused step replaces. It moves the parameters, which nothing timed reads after.
    private double? ReferenceOptimizerStep(ModelEntry model, LanguageModel module, (Tensor, Tensor) batch)
    {
        AdamW? reference = null;
        try
        {
            return TimeAlone(model, module, () => reference = TrainingOptimizer.Create(module, fused: false), batch,
                             "TorchSharp's AdamW step alone", _ => "the fused step's reference");
        }
        finally
        {
            reference?.Dispose();
        }
    }

    // The optimizer's step timed alone on the gradients of one more backward, reported as "label time (what)"; null,
    // reported, when building it, the backward or the timing fails. The gradients are zeroed after.
    private double? TimeAlone(ModelEntry model, LanguageModel module, Func<AdamW> build, (Tensor, Tensor) batch,
                              string label, Func<AdamW, string> what)
    {
        AdamW? optimizer = null;
        try
        {
            optimizer = build();
            using (var scope = NewDisposeScope()) Loss(model, module, batch).backward();
            Timing step = timer.Measure(1, 3, _ => optimizer.step());
            output.WriteLine($"{model.Name}: {label} {step.Milliseconds} ({what(optimizer)})");
            return step.Median;
        }
        catch (Exception e)
        {
            output.WriteLine($"{model.Name}: {label}: FAILED: {Describe(e)}");
            return null;
        }
        finally
        {
            optimizer?.zero_grad();
        }
    }

    /// <summary>The paths the mixers' last forward took, counted: "scan Fused x14; B'MOJO attention Blockwise x14".</summary>
    public static string KernelPaths(nn.Module module)
    {
        var modules = module.modules().Prepend(module).ToList();
        var parts = new List<string>();
        parts.AddRange(modules.OfType<MambaMixer>().GroupBy(m => m.LastPath?.Scan)
                              .Select(g => $"scan {g.Key?.ToString() ?? "not run"} x{g.Count()}"));
        parts.AddRange(modules.OfType<BmojoMixer>().GroupBy(m => m.LastPath?.BmojoAttention)
                              .Select(g => $"B'MOJO attention {g.Key?.ToString() ?? "not run"} x{g.Count()}"));
        int attention = modules.OfType<AttentionMixer>().Count();
        if (attention > 0) parts.Add($"attention torch SDPA x{attention}");
        return parts.Count == 0 ? "no mixer" : string.Join("; ", parts);
    }
}
