using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bmojo.Cli.Training;

/// <summary>When a run saves besides its evaluations, its end and Ctrl-C/SIGTERM.</summary>
/// <param name="Every">Save every N steps; 0: not by steps.</param>
/// <param name="Minutes">Save when this many minutes passed since the last save; 0: not by time.</param>
/// <param name="Keep">Keep the last K periodic saves as NAME.step-NNNNNN.EXT beside the checkpoint (older ones are
/// removed); 0: only the checkpoint itself, which is always the latest.</param>
public sealed record SaveSchedule(int Every, double Minutes, int Keep)
{
    public static SaveSchedule Default { get; } = new(0, 10, 3);
}

/// <summary>
/// The files beside a run's checkpoint: the checkpoint itself (checked writable before step 1, saved periodically,
/// and, when a save fails, rescued to the temporary folder so the run is never lost), the last <see cref="SaveSchedule.Keep"/>
/// periodic copies, and the step log <c>NAME.log.jsonl</c> (one JSON object per step: step, loss, lr, tokens/s,
/// the process's working set).
/// </summary>
public sealed class RunFiles : IDisposable
{
    private static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    private readonly Action<string> save;
    private readonly Func<int> step;
    private readonly SaveSchedule schedule;
    private readonly TextWriter warnings;
    private readonly Stopwatch sinceSave = Stopwatch.StartNew();
    private StreamWriter? log;
    private int savedAt = -1;

    /// <param name="save">Writes the run's whole state to a path (atomically).</param>
    /// <param name="step">The run's current step.</param>
    /// <param name="warnings">Where a problem that does not stop the run is told (the log or a periodic copy could not be written).</param>
    public RunFiles(string checkpoint, Action<string> save, Func<int> step, SaveSchedule schedule, TextWriter warnings)
    {
        Checkpoint = checkpoint;
        this.save = save;
        this.step = step;
        this.schedule = schedule;
        this.warnings = warnings;
        Log = LogPath(checkpoint);
        OpenLog(step());
    }

    public string Checkpoint { get; }

    /// <summary>The step log: the checkpoint's path without its extension + <c>.log.jsonl</c>.</summary>
    public string Log { get; }

    public static string LogPath(string checkpoint) =>
        Path.Combine(Path.GetDirectoryName(checkpoint) ?? "", Path.GetFileNameWithoutExtension(checkpoint) + ".log.jsonl");

    /// <summary>A periodic copy: NAME.step-000500.EXT beside the checkpoint.</summary>
    public static string StepPath(string checkpoint, int step)
    {
        string extension = Path.GetExtension(checkpoint) is { Length: > 0 } e ? e : ".safetensors";
        return Path.Combine(Path.GetDirectoryName(checkpoint) ?? "",
            $"{Path.GetFileNameWithoutExtension(checkpoint)}.step-{step.ToString("D6", CultureInfo.InvariantCulture)}{extension}");
    }

    /// <summary>Creates the checkpoint's folder if missing and writes (then removes) a probe file in it, so a path
    /// that cannot be written fails before step 1, not after the training.</summary>
    /// <exception cref="UserError">The folder cannot be created or written, or the path is a folder.</exception>
    public static void CheckWritable(string checkpoint)
    {
        string full;
        try
        {
            full = Path.GetFullPath(checkpoint);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UserError($"cannot write the checkpoint '{checkpoint}': {e.Message}");
        }
        if (Directory.Exists(full)) throw new UserError($"cannot write the checkpoint '{checkpoint}': it is a folder");
        string directory = Path.GetDirectoryName(full)!;
        string probe = Path.Combine(directory, $".{Path.GetFileName(full)}.probe-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(directory);
            using (var stream = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None)) stream.WriteByte(0);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot write the checkpoint '{checkpoint}': {Reason(e, full)}");
        }
    }

    /// <summary>The first part of <paramref name="directory"/> that is a file (so no folder can be made there), or null.</summary>
    private static string? FileOnPath(string directory)
    {
        for (string? d = directory; !string.IsNullOrEmpty(d); d = Path.GetDirectoryName(d))
            if (File.Exists(d)) return d;
        return null;
    }

    /// <summary>Records a step in the log.</summary>
    public void Logged(int stepNumber, double loss, double learningRate, long tokens, TimeSpan elapsed)
    {
        if (log is null) return;
        double seconds = elapsed.TotalSeconds;
        var entry = new LogEntry(stepNumber, loss, learningRate, tokens, seconds > 0 ? Math.Round(tokens / seconds, 1) : 0,
                                 Environment.WorkingSet, DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        try
        {
            log.WriteLine(JsonSerializer.Serialize(entry, Json));
        }
        catch (IOException e)
        {
            warnings.WriteLine($"warning: cannot write the log {Log} ({Reason(e)}); training goes on without it");
            CloseLog();
        }
    }

    /// <summary>After a step: saves the checkpoint (and a periodic copy) when <see cref="SaveSchedule.Every"/> steps or
    /// <see cref="SaveSchedule.Minutes"/> minutes are due. Not on the last step, which the caller saves.</summary>
    public void AfterStep(bool finished)
    {
        if (finished) return;
        int now = step();
        bool due = (schedule.Every > 0 && now % schedule.Every == 0) ||
                   (schedule.Minutes > 0 && sinceSave.Elapsed.TotalMinutes >= schedule.Minutes);
        if (!due) return;
        if (savedAt != now) Save();
        if (schedule.Keep > 0) KeepCopy(now);
    }

    /// <summary>Saves the checkpoint. When that fails (disk full, the folder removed or made read-only), saves the run
    /// to the temporary folder instead and throws a <see cref="UserError"/> that says where and how to continue.</summary>
    public void Save()
    {
        try
        {
            save(Checkpoint);
            sinceSave.Restart();
            savedAt = step();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(Checkpoint + ".tmp");
            int now = step();
            string rescue = Path.Combine(Path.GetTempPath(),
                $"bmojo-rescued-{Environment.ProcessId}-{Path.GetFileNameWithoutExtension(Checkpoint)}.step-{now.ToString("D6", CultureInfo.InvariantCulture)}.safetensors");
            try
            {
                save(rescue);
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                TryDelete(rescue + ".tmp");
                throw new UserError($"cannot save the checkpoint '{Checkpoint}' ({Reason(e, Checkpoint)}) nor a copy at {rescue} ({Reason(again, rescue)}); step {now} is lost");
            }
            throw new UserError($"cannot save the checkpoint '{Checkpoint}' at step {now} ({Reason(e, Checkpoint)}); saved the run to {rescue} instead: " +
                                $"continue with --resume {rescue} --checkpoint {Checkpoint}");
        }
    }

    public void Dispose() => CloseLog();

    private void KeepCopy(int now)
    {
        string copy = StepPath(Checkpoint, now);
        try
        {
            File.Copy(Checkpoint, copy + ".tmp", overwrite: true);
            File.Move(copy + ".tmp", copy, overwrite: true);
            string directory = Path.GetDirectoryName(Path.GetFullPath(Checkpoint))!;
            string prefix = Path.GetFileNameWithoutExtension(Checkpoint) + ".step-", extension = Path.GetExtension(copy);
            var saved = Directory.EnumerateFiles(directory, prefix + "*" + extension)
                .Select(path => (Path: path, Step: int.TryParse(Path.GetFileName(path)[prefix.Length..^extension.Length], NumberStyles.None,
                                                               CultureInfo.InvariantCulture, out int s) ? s : -1))
                .Where(f => f.Step >= 0)
                .OrderByDescending(f => f.Step)
                .ToList();
            foreach ((string old, _) in saved.Skip(schedule.Keep)) File.Delete(old);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(copy + ".tmp");
            warnings.WriteLine($"warning: cannot keep the copy {copy} ({Reason(e)}); the checkpoint {Checkpoint} holds step {now}");
        }
    }

    /// <summary>Opens the log for appending. A fresh run starts it anew; a resumed one keeps the lines up to its step
    /// (steps a killed process logged after its last save are dropped, so the steps keep increasing).</summary>
    private void OpenLog(int startStep)
    {
        try
        {
            var kept = new List<string>();
            if (startStep > 0 && File.Exists(Log))
                foreach (string line in File.ReadLines(Log))
                    if (StepOf(line) is int s && s <= startStep) kept.Add(line);
            log = new StreamWriter(new FileStream(Log, FileMode.Create, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
            foreach (string line in kept) log.WriteLine(line);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warnings.WriteLine($"warning: cannot write the log {Log} ({Reason(e)}); training goes on without it");
            CloseLog();
        }
    }

    private static int? StepOf(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.TryGetProperty("step", out JsonElement s) && s.TryGetInt32(out int value) ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void CloseLog()
    {
        try
        {
            log?.Dispose();
        }
        catch (IOException)
        {
        }
        log = null;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Why <paramref name="path"/> could not be written: a part of its folder that is a file, else <see cref="Reason(Exception)"/>.</summary>
    private static string Reason(Exception e, string path)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "";
        return FileOnPath(directory) is string file ? $"'{file}' is a file, not a folder" : Reason(e);
    }

    /// <summary>An exception's message without the path it repeats (the caller names the path).</summary>
    private static string Reason(Exception e) => e switch
    {
        DirectoryNotFoundException => "its folder does not exist (or was removed)",
        FileNotFoundException => "its folder was removed during the save",
        UnauthorizedAccessException => "permission denied",
        IOException io when io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) => "no space left on the device",
        _ => e.Message,
    };

    private sealed record LogEntry(int Step, double Loss, double Lr, long Tokens, double TokensPerSecond, long WorkingSetBytes, string Time);
}
