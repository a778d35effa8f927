using Bmojo.Bench;
using static TorchSharp.torch;

// bench kernels [--quick] [--cpu] [--only scan|bmojo]
//                                      times the fused kernels (the issue's shapes on CUDA; --quick: small shapes)
// bench train-step [--quick] [--cpu] [--batch N] [--length L] [--models A,B] [--steps N] [--dtype bf16|fp32] ...
//                                      times a whole training step of BMojo, Transformer and Mamba (L 2048 on CUDA;
//                                      the tiny specs with --quick and off CUDA); on CUDA each model in its own process
// bench cpu-scan [--runs N]             times the chunked and the plain C# selective scan on CPU tensors
// bench tests <Tests.dll> [filter]     runs an xUnit assembly's tests without the SDK (for the GPU machine)
// bench ptx <dir> [filter]             compiles the kernels to PTX for sm_90 (no GPU needed) and summarises them
string verb = args.Length > 0 ? args[0] : "kernels";
switch (verb)
{
    case "kernels":
        bool quick = args.Contains("--quick");
        Device device = !args.Contains("--cpu") && cuda.is_available() ? CUDA : CPU;
        var options = quick || device.type != TorchSharp.DeviceType.CUDA ? KernelBenchmarkOptions.Quick : KernelBenchmarkOptions.Issue;
        string only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault() ?? "";
        var bmojo = quick || device.type != TorchSharp.DeviceType.CUDA ? BmojoAttentionShape.Quick : BmojoAttentionShape.Issue;
        new KernelBenchmark(options, device, Console.Out).Run(scan: only != "bmojo", bmojo: only == "scan" ? null : bmojo);
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
        return new TestAssemblyRunner(Console.Out).Run(args[1], args.Length > 2 ? args[2] : "") == 0 ? 0 : 1;
    default:
        Console.Error.WriteLine("usage: Bmojo.Bench kernels [--quick] [--cpu] [--only scan|bmojo] | Bmojo.Bench " + TrainingStepArguments.Usage
                                + " | Bmojo.Bench cpu-scan [--runs N] | Bmojo.Bench tests <Tests.dll> [filter] | Bmojo.Bench ptx <dir> [filter]");
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
        BenchModel model = BenchModels.Find(options.Models[0])!;
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
