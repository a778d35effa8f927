using System.ComponentModel;
using Bmojo.Bench;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public sealed class BenchCpuScanSettings : CommandSettings
{
    [CommandOption("--runs <N>")]
    [Description("Timed runs per path and shape, after one warm-up (the median is reported).")]
    [DefaultValue(5)]
    public int Runs { get; init; } = 5;

    public override ValidationResult Validate() =>
        Runs > 0 ? ValidationResult.Success() : ValidationResult.Error($"--runs must be positive (got {Runs})");
}

/// <summary><c>bmojo bench cpu-scan</c>: the chunked and the plain C# selective scan on CPU tensors (docs/benchmarks.md).</summary>
public sealed class BenchCpuScanCommand(Streams streams) : Command<BenchCpuScanSettings>
{
    public override int Execute(CommandContext context, BenchCpuScanSettings settings, CancellationToken cancellation)
    {
        new CpuScanBenchmark(streams.Out, settings.Runs).Run();
        return 0;
    }
}
