using System.ComponentModel;
using Bmojo.Bench;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace Bmojo.Cli.Commands;

public sealed class BenchKernelsSettings : CommandSettings
{
    [CommandOption("--quick")]
    [Description("Small shapes (always used off CUDA), for a smoke run.")]
    public bool Quick { get; init; }

    [CommandOption("--cpu")]
    [Description("Run on the CPU (ILGPU's CPU accelerator) even where CUDA is available.")]
    public bool Cpu { get; init; }

    [CommandOption("--only <KERNEL>")]
    [Description("Time one kernel only: scan, bmojo or innovation.")]
    public string? Only { get; init; }

    public override ValidationResult Validate() =>
        Only is null or "scan" or "bmojo" or "innovation"
            ? ValidationResult.Success()
            : ValidationResult.Error($"--only must be one of: scan, bmojo, innovation (got '{Only}')");
}

/// <summary><c>bmojo bench kernels</c>: the fused ILGPU kernels against the reference paths and the device's own
/// ceilings, measured in one run (docs/benchmarks.md has the numbers and the method).</summary>
public sealed class BenchKernelsCommand(Streams streams) : Command<BenchKernelsSettings>
{
    public override int Execute(CommandContext context, BenchKernelsSettings settings, CancellationToken cancellation)
    {
        Device device = !settings.Cpu && cuda.is_available() ? CUDA : CPU;
        bool small = settings.Quick || device.type != TorchSharp.DeviceType.CUDA;
        var benchmark = new KernelBenchmark(small ? KernelBenchmarkOptions.Quick : KernelBenchmarkOptions.Issue, device, streams.Out);
        benchmark.Run(scan: settings.Only is null or "scan",
                      bmojo: settings.Only is null or "bmojo" ? small ? BmojoAttentionShape.Quick : BmojoAttentionShape.Issue : null,
                      innovation: settings.Only is null or "innovation" ? small ? InnovationShape.Quick : InnovationShape.Issue : null);
        return 0;
    }
}
