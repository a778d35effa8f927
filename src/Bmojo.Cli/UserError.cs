namespace Bmojo.Cli;

/// <summary>A problem with what the user asked for (options, spec, checkpoint): the CLI prints the message alone,
/// never a stack trace, and exits with <see cref="ExitCode"/>.</summary>
public sealed class UserError(string message, int exitCode = ExitCodes.InputError) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
