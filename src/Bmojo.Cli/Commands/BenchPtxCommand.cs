using System.ComponentModel;
using Bmojo.Bench;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public sealed class BenchPtxSettings : CommandSettings
{
    [CommandArgument(0, "<DIR>")]
    [Description("Where to write one .ptx file per kernel (made if missing).")]
    public string Directory { get; init; } = "";

    [CommandArgument(1, "[FILTER]")]
    [Description("Only the kernels whose name contains this text.")]
    public string Filter { get; init; } = "";
}

/// <summary><c>bmojo bench ptx</c>: compiles every fused kernel to PTX for sm_90 without a GPU and summarises each
/// (local memory, tensor-core, special-function, shared-memory and barrier instructions); exit code 1 when one fails.</summary>
public sealed class BenchPtxCommand(Streams streams) : Command<BenchPtxSettings>
{
    public override int Execute(CommandContext context, BenchPtxSettings settings, CancellationToken cancellation) =>
        new PtxDump(streams.Out).Run(settings.Directory, settings.Filter) == 0 ? 0 : 1;
}
