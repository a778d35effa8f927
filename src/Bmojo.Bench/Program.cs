using Bmojo.Runtime;
using Bmojo.Bench;
using static TorchSharp.torch;

// bench kernels [--quick] [--cpu] [--only scan|bmojo|tc|innovation]
//                                      times the fused kernels (the issue's shapes on CUDA; --quick: small shapes)
// bench train-step [--quick] [--cpu] [--batch N] [--length L] [--models A,B] [--steps N] [--dtype bf16|fp32] ...
//                                      times a whole training step of BMojo, Transformer and Mamba (L 2048 on CUDA;
//                                      the tiny specs with --quick and off CUDA); on CUDA each model in its own process
// bench cpu-scan [--runs N]             times the chunked and the plain C# selective scan on CPU tensors
// bench tests <Tests.dll> [filter] [--cuda-only]  runs an xUnit assembly's tests without the SDK (for the GPU machine)
// bench ptx <dir> [filter]             compiles the kernels to PTX for sm_90 (no GPU needed) and summarises them
string verb = args.Length > 0 ? args[0] : "kernels";
switch (verb)
{
    case "kernels":
        Device device = !args.Contains("--cpu") && cuda.is_available() ? CUDA : CPU;
        bool small = args.Contains("--quick") || device.type != TorchSharp.DeviceType.CUDA;
        string only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault() ?? "";
        if (only != "" && !KernelBenchmark.Kernels.Contains(only))
        {
            Console.Error.WriteLine($"--only must be one of: {string.Join(", ", KernelBenchmark.Kernels)} (got '{only}')");
            return 2;
        }
        new KernelBenchmark(small ? KernelBenchmarkOptions.Quick : KernelBenchmarkOptions.Issue, device, Console.Out).Run(
            only == "" ? KernelBenchmark.Kernels.ToHashSet() : [only],
            small ? BmojoAttentionShape.Quick : BmojoAttentionShape.Issue,
            small ? InnovationShape.Quick : InnovationShape.Issue);
        return 0;
    case "train-step":
        return TrainStep(args[1..]);
    case "cpu-scan":
        int runs = int.Parse(args.SkipWhile(a => a != "--runs").Skip(1).FirstOrDefault() ?? "5");
        new CpuScanBenchmark(Console.Out, runs).Run();
        return 0;
    case "ptx" when args.Length >= 2:
        return new PtxDump(Console.Out).Run(args[1], args.Length > 2 ? args[2] : "") == 0 ? 0 : 1;
    case "tests" when args.Length >= 2:
        string[] rest = args[2..].Where(a => a != "--cuda-only").ToArray();
        return new TestAssemblyRunner(Console.Out).Run(args[1], rest.FirstOrDefault() ?? "", args.Contains("--cuda-only")) == 0 ? 0 : 1;
    default:
        Console.Error.WriteLine("usage: Bmojo.Bench kernels [--quick] [--cpu] [--only scan|bmojo|tc|innovation] | Bmojo.Bench " + TrainingStepArguments.Usage
                                + " | Bmojo.Bench cpu-scan [--runs N] | Bmojo.Bench tests <Tests.dll> [filter] [--cuda-only] | Bmojo.Bench ptx <dir> [filter]");
        return 2;
}

static int TrainStep(string[] args)
{
    (TrainingStepArguments? parsed, string? error) = TrainingStepArguments.Parse(args);
    if (parsed is null)
    {
        Console.Error.WriteLine($"error: {error}");
        return 2;
    }
    bool onCuda = !parsed.Cpu && cuda.is_available();
    Device device = onCuda ? CUDA : CPU;
    TrainingStepOptions options = parsed.Options(onCuda);
    if (parsed.Child)
    {
        var bench = new TrainingStepBenchmark(options, device, Console.Out);
        ModelEntry model = BenchModels.Find(options.Models[0])!;
        TrainingStepResult result;
        try
        {
            result = bench.Measure(model, options.TimeLimitSeconds, bench.Baseline(),
                                   beforeBreakdown: r => Console.WriteLine(TrainingStepProcesses.ResultLine(r)));
        }
        catch (Exception e)                                  // the baseline, before the model: still a result line
        {
            result = new TrainingStepResult(model.Name, model.Settings.ParameterCount, TrainingStepBenchmark.Describe(e), null,
                                            options.TokensPerStep, null, null, 0, null, []);
        }
        Console.WriteLine(TrainingStepProcesses.ResultLine(result));
        return 0;
    }
    IReadOnlyList<TrainingStepResult> results = parsed.Processes ?? onCuda
        ? new TrainingStepProcesses(options, parsed.Cpu, Console.Out).Run(TrainingStepBenchmark.DeviceName(device))
        : new TrainingStepBenchmark(options, device, Console.Out).Run();
    return results.All(r => r.Error is null) ? 0 : 1;
}
