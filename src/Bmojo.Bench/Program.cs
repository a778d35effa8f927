using Bmojo.Bench;
using static TorchSharp.torch;

// bench kernels [--quick] [--cpu] [--only scan|bmojo|tc|innovation]
//                                      times the fused kernels (the issue's shapes on CUDA; --quick: small shapes)
// bench cpu-scan [--runs N]             times the chunked and the plain C# selective scan on CPU tensors
// bench tests <Tests.dll> [filter]     runs an xUnit assembly's tests without the SDK (for the GPU machine)
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
    case "cpu-scan":
        int runs = int.Parse(args.SkipWhile(a => a != "--runs").Skip(1).FirstOrDefault() ?? "5");
        new CpuScanBenchmark(Console.Out, runs).Run();
        return 0;
    case "ptx" when args.Length >= 2:
        return new PtxDump(Console.Out).Run(args[1], args.Length > 2 ? args[2] : "") == 0 ? 0 : 1;
    case "tests" when args.Length >= 2:
        return new TestAssemblyRunner(Console.Out).Run(args[1], args.Length > 2 ? args[2] : "") == 0 ? 0 : 1;
    default:
        Console.Error.WriteLine("usage: Bmojo.Bench kernels [--quick] [--cpu] [--only scan|bmojo|tc|innovation] | Bmojo.Bench cpu-scan [--runs N] | Bmojo.Bench tests <Tests.dll> [filter] | Bmojo.Bench ptx <dir> [filter]");
        return 2;
}
