using System.Diagnostics;
using System.Text;

namespace Bmojo.Distributed;

/// <summary>
/// How the ranks of one launch agree on NCCL's unique id: rank 0 writes it to a file (a temporary file, flushed, then
/// renamed over the target, so a reader never sees half of it), the others wait for that file. The file names the
/// run (<see cref="RunId"/>), so a file left by an earlier launch is never taken for this one's.
/// </summary>
/// <param name="Path">The file (the launcher makes a fresh folder for each launch).</param>
/// <param name="RunId">The launch's token, written into the file and checked by the readers.</param>
/// <param name="Timeout">How long a rank waits for rank 0's file.</param>
public sealed record FileRendezvous(string Path, string RunId, TimeSpan Timeout)
{
    private const string Header = "bmojo-rendezvous/1";

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(3);

    /// <summary>Rank 0 (<paramref name="make"/> given): makes the payload and publishes it. Others: wait and read it.</summary>
    public byte[] Exchange(Func<byte[]>? make, int rank)
    {
        if (make is null) return Wait(rank);
        byte[] payload = make();
        Publish(payload);
        return payload;
    }

    /// <summary>The NCCL id, as <see cref="NcclCommunicator.Create"/> asks for it.</summary>
    public NcclUniqueId ExchangeId(Func<NcclUniqueId>? make, int rank) =>
        NcclUniqueId.From(Exchange(make is null ? null : () => make().ToArray(), rank));

    /// <summary>Writes the payload atomically.</summary>
    public void Publish(byte[] payload)
    {
        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        Directory.CreateDirectory(directory);
        string temporary = $"{Path}.{Environment.ProcessId}.tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.ASCII.GetBytes($"{Header} {RunId} {Convert.ToHexString(payload)}\n"));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, Path, overwrite: true);
    }

    /// <summary>Waits for this run's file and returns its payload.</summary>
    /// <exception cref="DistributedError">No file of this run within <see cref="Timeout"/>, or a malformed one.</exception>
    public byte[] Wait(int rank)
    {
        var clock = Stopwatch.StartNew();
        string? stale = null;
        while (true)
        {
            if (File.Exists(Path))
            {
                string text;
                try
                {
                    text = File.ReadAllText(Path, Encoding.ASCII);
                }
                catch (IOException)
                {
                    text = "";   // replaced while we read it: look again
                }
                string[] fields = text.Trim().Split(' ');
                if (fields.Length == 3 && fields[0] == Header)
                {
                    if (fields[1] == RunId)
                    {
                        try
                        {
                            return Convert.FromHexString(fields[2]);
                        }
                        catch (FormatException)
                        {
                            throw new DistributedError($"rank {rank}: the rendezvous file {Path} is corrupt (its payload is not hex)");
                        }
                    }
                    stale = fields[1];
                }
                else if (text.Length > 0)
                {
                    throw new DistributedError($"rank {rank}: {Path} is not a bmojo rendezvous file");
                }
            }
            if (clock.Elapsed > Timeout)
                throw new DistributedError($"rank {rank}: no NCCL id from rank 0 in {Path} after {Timeout.TotalSeconds:0} s" +
                                           (stale is null ? " (did rank 0 start, or fail before it published?)" : $" (the file there is of another run, {stale})"));
            Thread.Sleep(20);
        }
    }
}
