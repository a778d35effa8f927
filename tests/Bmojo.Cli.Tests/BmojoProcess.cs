using System.Diagnostics;
using System.Text;

namespace Bmojo.Cli.Tests;

/// <summary>A real <c>bmojo</c> process (the bmojo.dll beside the tests, through the dotnet host that runs them), its
/// output read as it comes: for what only a process shows (signals, exit codes set by the runtime). The static
/// <see cref="Run(IReadOnlyDictionary{string, string?}?, string[])"/> runs one to its end with its output redirected, as a
/// script or a pipe would, in the given environment.</summary>
internal sealed class BmojoProcess : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new(), errors = new();

    private BmojoProcess(string[] args)
    {
        string bmojo = typeof(BmojoApp).Assembly.Location;
        string? current = Environment.ProcessPath;
        string host = current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } sdkHost ? sdkHost
            : "dotnet";
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(bmojo);
        foreach (string arg in args) info.ArgumentList.Add(arg);
        process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {host} {bmojo}");
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static BmojoProcess Start(params string[] args) => new(args);

    /// <summary>Runs to the end (at most <paramref name="timeout"/>).</summary>
    public static (int ExitCode, string Output, string Errors) Run(TimeSpan timeout, params string[] args)
    {
        using var bmojo = Start(args);
        int exit = bmojo.WaitForExit(timeout);
        return (exit, bmojo.Output, bmojo.Errors);
    }

    public int Id => process.Id;

    public bool HasExited => process.HasExited;

    public string Output { get { lock (output) return output.ToString(); } }

    public string Errors { get { lock (errors) return errors.ToString(); } }

    /// <summary>Sends a signal (Process.Kill can only send SIGKILL) through kill(1).</summary>
    public void Signal(string name)
    {
        using Process kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + name, Id.ToString() }, UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"bmojo did not end within {timeout}; output: {Output} errors: {Errors}");
        }
        process.WaitForExit();   // the output read to its end
        return process.ExitCode;
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
    }

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
