using Bmojo.Runtime;
using System.Diagnostics;
using System.Text.Json;
using static TorchSharp.torch;

namespace Bmojo.Bench;

/// <summary>The command that starts another <c>bench train-step</c> process (<c>bmojo bench train-step</c>): a program and
/// the arguments before the options.</summary>
public sealed record TrainingStepCommand(string FileName, IReadOnlyList<string> Arguments);

/// <summary>
/// Runs each model of a <c>train-step</c> run in a child process (<c>bmojo bench train-step --child --models X</c>), one
/// after another: each gets a fresh CUDA context and caching allocator, so its memory number is its own, a crash or a
/// broken CUDA context costs one row, and a child that overruns its share of the time limit is killed. The parent
/// forwards the children's lines, reads each one's result line and prints the summary.
/// </summary>
public sealed class TrainingStepProcesses
{
    /// <summary>What a child writes before its result (JSON), as its last line.</summary>
    public const string ResultPrefix = "train-step result: ";

    private const double GraceSeconds = 30;          // start-up, and a child's own overrun before it is killed
    private const double MinimumSeconds = 20;        // a share below this is not worth starting a process for

    private readonly TrainingStepOptions options;
    private readonly bool cpu;
    private readonly TextWriter output;
    private readonly TrainingStepCommand command;
    private readonly object gate = new();

    /// <param name="command">Starts a <c>bench train-step</c> process; each child gets <c>--child</c> and the options.</param>
    public TrainingStepProcesses(TrainingStepOptions options, bool cpu, TextWriter output, TrainingStepCommand command)
    {
        this.options = options;
        this.cpu = cpu;
        this.output = output;
        this.command = command;
    }

    public IReadOnlyList<TrainingStepResult> Run(string device)
    {
        output.WriteLine(TrainingStepReport.Header(options, device, "each model in a process of its own"));
        var clock = Stopwatch.StartNew();
        var results = new List<TrainingStepResult>();
        for (int i = 0; i < options.Models.Count; i++)
        {
            ModelEntry model = BenchModels.Find(options.Models[i])!;
            double left = options.TimeLimitSeconds - clock.Elapsed.TotalSeconds;
            double share = left / (options.Models.Count - i) - GraceSeconds;    // a child is killed GraceSeconds after its share
            results.Add(share >= MinimumSeconds ? Child(model, share)
                : Failed(model, $"not run: {Math.Max(0, left):F0} s of the time limit left for {options.Models.Count - i} model(s)"));
        }
        TrainingStepReport.Write(results, options, output, sharedProcess: false);
        return results;
    }

    /// <summary>What a child does: measures the one model of <paramref name="options"/> and writes its result line
    /// (before the breakdown, and again at the end; also when the model fails).</summary>
    public static void RunChild(TrainingStepOptions options, Device device, TextWriter output)
    {
        var bench = new TrainingStepBenchmark(options, device, output);
        ModelEntry model = BenchModels.Find(options.Models[0])!;
        TrainingStepResult result;
        try
        {
            result = bench.Measure(model, options.TimeLimitSeconds, bench.Baseline(),
                                   beforeBreakdown: r => output.WriteLine(ResultLine(r)));
        }
        catch (Exception e)                                  // the baseline, before the model: still a result line
        {
            result = new TrainingStepResult(model.Name, model.Settings.ParameterCount, TrainingStepBenchmark.Describe(e), null,
                                            options.TokensPerStep, null, null, 0, null, []);
        }
        output.WriteLine(ResultLine(result));
    }

    /// <summary>The line a child ends with.</summary>
    public static string ResultLine(TrainingStepResult result) => ResultPrefix + JsonSerializer.Serialize(result);

    /// <summary>The result in a child's line, or null when the line is not one.</summary>
    public static TrainingStepResult? ParseResult(string line) =>
        line.StartsWith(ResultPrefix, StringComparison.Ordinal)
            ? JsonSerializer.Deserialize<TrainingStepResult>(line[ResultPrefix.Length..])
            : null;

    private TrainingStepResult Failed(ModelEntry model, string error) =>
        new(model.Name, model.Settings.ParameterCount, error, null, options.TokensPerStep, null, null, 0, null, []);

    private TrainingStepResult Child(ModelEntry model, double seconds)
    {
        var start = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in command.Arguments.Append("--child").Concat((options with { Models = [model.Name], TimeLimitSeconds = seconds }).ToArguments()))
            start.ArgumentList.Add(arg);
        if (cpu) start.ArgumentList.Add("--cpu");

        TrainingStepResult? result = null;
        var errors = new Queue<string>();
        try
        {
            using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                try
                {
                    if (ParseResult(e.Data) is TrainingStepResult parsed) result = parsed;
                    else Forward("  " + e.Data);
                }
                catch (JsonException error)
                {
                    Forward($"  ! unreadable result line ({error.Message}): {e.Data}");
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                Forward("  ! " + e.Data);
                lock (gate)
                {
                    errors.Enqueue(e.Data);
                    if (errors.Count > 5) errors.Dequeue();
                }
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            string? stopped = null;
            if (!process.WaitForExit(TimeSpan.FromSeconds(seconds + GraceSeconds)))
            {
                process.Kill(entireProcessTree: true);
                stopped = $"killed after {seconds + GraceSeconds:F0} s, over its share of the time limit";
            }
            process.WaitForExit();                                        // the last lines of output
            string tail;
            lock (gate) tail = string.Join(" | ", errors);
            stopped ??= process.ExitCode == 0 ? null
                : $"the process exited with code {process.ExitCode}" + (tail.Length > 0 ? $": {tail}" : "");
            // A child writes its result before the breakdown and again after it: the first alone means the breakdown did not end.
            return result switch
            {
                null => Failed(model, stopped ?? "the process ended without a result"),
                _ when stopped is not null && options.Breakdown && result.Breakdown.Count == 0 && result.BreakdownNote is null =>
                    result with { BreakdownNote = $"not finished: {stopped}" },
                _ => result,
            };
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return Failed(model, $"could not run a process for {model.Name}: {e.Message}");
        }
    }

    private void Forward(string line)
    {
        lock (gate) output.WriteLine(line);
    }
}
