using System.Diagnostics;
using System.Text;

namespace Bmojo.Cli.Tests;

/// <summary>Runs the real <c>bmojo</c> (the built bmojo.dll beside the test assembly) as a child process with its
/// output redirected, as a script or a pipe would: what the exit code and the printed text are there.</summary>
internal static class BmojoProcess
{
    public sealed record Result(int ExitCode, string Output, string Errors)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Errors}";
    }

    public static Result Run(IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bmojo.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        start.Environment.Remove("COLUMNS");
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(key);
            else start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var errors = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (errors) errors.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bmojo {string.Join(' ', args)} did not finish in 5 minutes");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, output.ToString(), errors.ToString());
    }

    public static Result Run(params string[] args) => Run(null, args);
}
