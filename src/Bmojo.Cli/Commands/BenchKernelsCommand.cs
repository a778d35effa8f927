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
    [ShownDefault("all")]
    [Description("Time one kernel only: scan, bmojo (the fp32 B'MOJO attention), tc (the bf16 tensor-core B'MOJO attention, forward and backward) or innovation.")]
    public string? Only { get; init; }

    public override ValidationResult Validate() =>
        Only is null || KernelBenchmark.Kernels.Contains(Only)
            ? ValidationResult.Success()
            : ValidationResult.Error($"--only must be one of: {string.Join(", ", KernelBenchmark.Kernels)} (got '{Only}')");
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
        benchmark.Run(settings.Only is null ? KernelBenchmark.Kernels.ToHashSet() : [settings.Only],
                      small ? BmojoAttentionShape.Quick : BmojoAttentionShape.Issue,
                      small ? InnovationShape.Quick : InnovationShape.Issue);
        return 0;
    }
}
