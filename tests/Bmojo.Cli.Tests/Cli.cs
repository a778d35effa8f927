using Spectre.Console;

namespace Bmojo.Cli.Tests;

/// <summary>Runs <c>bmojo</c> in-process and captures what it prints.</summary>
internal static class Cli
{
    public sealed record Result(int ExitCode, string Output, string Errors, string Text);

    /// <summary>The canonical spec files, copied beside the test assembly.</summary>
    public static string Spec(string fileName) => Path.Combine(AppContext.BaseDirectory, "specs", fileName);

    public static Result Run(params string[] args) => Run(CancellationToken.None, args);

    public static Result Run(CancellationToken cancellation, params string[] args)
    {
        var output = new StringWriter();
        var text = new StringWriter();
        var errors = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 240;
        int exit = BmojoApp.Run(args, console, new Streams(text, errors), cancellation);
        return new Result(exit, output.ToString(), errors.ToString(), text.ToString());
    }
}
