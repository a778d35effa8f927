using System.Diagnostics;
using System.Reflection;

namespace Bmojo.Distributed;

/// <summary>One rank process to start: program, arguments, and the variables added to the parent's environment.</summary>
public sealed record RankProcess(int Rank, string FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment);

/// <summary>
/// Starts one process per GPU on this machine, as <c>torchrun --nproc-per-node N</c> does: each gets <c>RANK</c>,
/// <c>WORLD_SIZE</c>, <c>LOCAL_RANK</c> (its GPU, <c>cuda:LOCAL_RANK</c>), the launch's rendezvous file and run id,
/// and NVLink multicast off (<see cref="SafeEnvironment"/>). All ranks share the launcher's console. When one rank
/// fails, the launcher stops the others (they would wait for it in NCCL forever) and returns that rank's code.
/// </summary>
public static class Launcher
{
    /// <summary>The processes of a launch of <paramref name="worldSize"/> ranks of <paramref name="fileName"/>.</summary>
    /// <param name="rendezvousDirectory">A folder of this launch alone (see <see cref="NewRendezvousDirectory"/>).</param>
    public static IReadOnlyList<RankProcess> Plan(int worldSize, string fileName, IReadOnlyList<string> arguments, string rendezvousDirectory, string runId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        string file = Path.Combine(rendezvousDirectory, "nccl-id");
        return Enumerable.Range(0, worldSize).Select(rank =>
        {
            var environment = new Dictionary<string, string?>(new RankEnvironment(rank, worldSize, rank, worldSize, file, runId).Variables!);
            SafeEnvironment.ApplyTo(environment);
            return new RankProcess(rank, fileName, arguments, environment.ToDictionary(kv => kv.Key, kv => kv.Value!));
        }).ToList();
    }

    /// <summary>A fresh folder for one launch's rendezvous, under the system's temporary folder.</summary>
    public static string NewRendezvousDirectory() => Directory.CreateTempSubdirectory("bmojo-rendezvous-").FullName;

    /// <summary>How to start this program again: the apphost itself, or <c>dotnet</c> with the entry assembly when
    /// it runs as <c>dotnet bmojo.dll</c>.</summary>
    public static (string FileName, IReadOnlyList<string> Prefix) Self() =>
        SelfFrom(Environment.ProcessPath ?? throw new DistributedError("launcher: cannot tell which program this process runs"),
                 Assembly.GetEntryAssembly()?.Location);

    internal static (string FileName, IReadOnlyList<string> Prefix) SelfFrom(string processPath, string? entryAssembly)
    {
        string name = Path.GetFileNameWithoutExtension(processPath);
        if (name == "dotnet")
        {
            if (string.IsNullOrEmpty(entryAssembly)) throw new DistributedError("launcher: runs under dotnet but the entry assembly has no path");
            return (processPath, [entryAssembly]);
        }
        return (processPath, []);
    }

    /// <summary><paramref name="arguments"/> without <paramref name="option"/> and its value (<c>--gpus 2</c> or
    /// <c>--gpus=2</c>), for the rank processes, which must not launch again.</summary>
    public static IReadOnlyList<string> Without(IReadOnlyList<string> arguments, string option)
    {
        var kept = new List<string>();
        for (int i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] == option)
            {
                i++;   // and its value
                continue;
            }
            if (arguments[i].StartsWith(option + "=", StringComparison.Ordinal)) continue;
            kept.Add(arguments[i]);
        }
        return kept;
    }

    /// <summary>Starts every rank and waits for them. Returns 0 when all succeed, else the first failing rank's exit
    /// code, after stopping the others.</summary>
    /// <param name="log">Where the launcher says which rank failed.</param>
    /// <remarks>Ctrl-C in a terminal reaches every rank (they share its process group); the training ranks agree to
    /// stop after the same step.</remarks>
    public static int Run(IReadOnlyList<RankProcess> ranks, TextWriter log)
    {
        var processes = new List<(RankProcess Rank, Process Process)>();
        try
        {
            foreach (RankProcess rank in ranks)
            {
                var start = new ProcessStartInfo(rank.FileName) { UseShellExecute = false };
                foreach (string argument in rank.Arguments) start.ArgumentList.Add(argument);
                foreach ((string name, string value) in rank.Environment) start.Environment[name] = value;
                Process process = Process.Start(start) ?? throw new DistributedError($"launcher: could not start rank {rank.Rank} ({rank.FileName})");
                processes.Add((rank, process));
            }
            var pending = processes.ToList();
            while (pending.Count > 0)
            {
                Task[] waits = pending.Select(p => p.Process.WaitForExitAsync(CancellationToken.None)).ToArray();
                int done = Task.WaitAny(waits);
                var (rank, process) = pending[done];
                pending.RemoveAt(done);
                if (process.ExitCode != 0)
                {
                    log.WriteLine($"launcher: rank {rank.Rank} exited with code {process.ExitCode}" +
                                  (pending.Count > 0 ? $"; stopping rank(s) {string.Join(", ", pending.Select(p => p.Rank.Rank))}" : ""));
                    foreach (var (_, other) in pending) Stop(other);
                    return process.ExitCode;
                }
            }
            return 0;
        }
        catch
        {
            foreach (var (_, process) in processes) Stop(process);
            throw;
        }
        finally
        {
            foreach (var (_, process) in processes) process.Dispose();
        }
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // it ended meanwhile
        }
    }
}
