using System.Runtime.InteropServices;
using Bmojo.Cli;
using Spectre.Console;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // First Ctrl-C: finish the current step, save, stop. A second one ends the process at once.
    if (cancellation.IsCancellationRequested) return;
    e.Cancel = true;
    Console.Error.WriteLine("stopping after the current step (Ctrl-C again to abort)...");
    cancellation.Cancel();
};
// SIGTERM (what SLURM, Kubernetes and `timeout` send) is a first Ctrl-C: the run stops after the current step, saves
// and exits 130 (ExitCodes.Interrupted). A second SIGTERM ends the process at once, as the runtime's default does.
using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    if (cancellation.IsCancellationRequested) return;
    context.Cancel = true;
    Console.Error.WriteLine("SIGTERM: stopping after the current step and saving (SIGTERM again to abort)...");
    cancellation.Cancel();
});
IAnsiConsole console = AnsiConsole.Console;
if (ConsoleWidth.Resolve(Environment.GetEnvironmentVariable("COLUMNS"), Console.IsOutputRedirected) is int width)
    console.Profile.Width = width;
return BmojoApp.Run(args, console, new Streams(Console.Out, Console.Error), cancellation.Token);
