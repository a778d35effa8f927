using Bmojo.Bench;
using static TorchSharp.torch;

// bench kernels [--quick] [--cpu]      times the fused kernels (the issue's shape on CUDA; --quick: a small shape)
// bench tests <Tests.dll> [filter]     runs an xUnit assembly's tests without the SDK (for the GPU machine)
string verb = args.Length > 0 ? args[0] : "kernels";
switch (verb)
{
    case "kernels":
        bool quick = args.Contains("--quick");
        Device device = !args.Contains("--cpu") && cuda.is_available() ? CUDA : CPU;
        var options = quick || device.type != TorchSharp.DeviceType.CUDA ? KernelBenchmarkOptions.Quick : KernelBenchmarkOptions.Issue;
        new KernelBenchmark(options, device, Console.Out).Run();
        return 0;
    case "tests" when args.Length >= 2:
        return new TestAssemblyRunner(Console.Out).Run(args[1], args.Length > 2 ? args[2] : "") == 0 ? 0 : 1;
    default:
        Console.Error.WriteLine("usage: Bmojo.Bench kernels [--quick] [--cpu] | Bmojo.Bench tests <Tests.dll> [filter]");
        return 2;
}
