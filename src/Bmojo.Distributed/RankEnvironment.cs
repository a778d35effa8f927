using System.Globalization;

namespace Bmojo.Distributed;

/// <summary>
/// What a rank process learns from its environment, as torchrun sets it: <c>RANK</c>, <c>WORLD_SIZE</c>,
/// <c>LOCAL_RANK</c> (its GPU), <c>LOCAL_WORLD_SIZE</c>; and the launch's rendezvous, <c>BMOJO_RENDEZVOUS_FILE</c>
/// and <c>BMOJO_RUN_ID</c>.
/// </summary>
public sealed record RankEnvironment(int Rank, int WorldSize, int LocalRank, int LocalWorldSize, string RendezvousFile, string RunId)
{
    public const string RankVariable = "RANK";
    public const string WorldSizeVariable = "WORLD_SIZE";
    public const string LocalRankVariable = "LOCAL_RANK";
    public const string LocalWorldSizeVariable = "LOCAL_WORLD_SIZE";
    public const string RendezvousVariable = "BMOJO_RENDEZVOUS_FILE";
    public const string RunIdVariable = "BMOJO_RUN_ID";
    public const string TimeoutVariable = "BMOJO_RENDEZVOUS_TIMEOUT";

    /// <summary>The variables a rank process gets (besides <see cref="SafeEnvironment.Defaults"/>).</summary>
    public IReadOnlyDictionary<string, string> Variables => new Dictionary<string, string>
    {
        [RankVariable] = Rank.ToString(CultureInfo.InvariantCulture),
        [WorldSizeVariable] = WorldSize.ToString(CultureInfo.InvariantCulture),
        [LocalRankVariable] = LocalRank.ToString(CultureInfo.InvariantCulture),
        [LocalWorldSizeVariable] = LocalWorldSize.ToString(CultureInfo.InvariantCulture),
        [RendezvousVariable] = RendezvousFile,
        [RunIdVariable] = RunId,
    };

    /// <summary>The rendezvous of this rank's launch; the timeout from <c>BMOJO_RENDEZVOUS_TIMEOUT</c> (seconds) if set.</summary>
    public FileRendezvous Rendezvous(Func<string, string?> variable) =>
        new(RendezvousFile, RunId,
            double.TryParse(variable(TimeoutVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0
                ? TimeSpan.FromSeconds(seconds) : FileRendezvous.DefaultTimeout);

    /// <summary>This process's rank, or null when it was not started by a launcher (no <c>BMOJO_RENDEZVOUS_FILE</c>).</summary>
    public static RankEnvironment? Current() => From(Environment.GetEnvironmentVariable);

    /// <summary>The rank that <paramref name="variable"/> describes, or null when it names no rendezvous.</summary>
    /// <exception cref="DistributedError">A variable is missing or out of range.</exception>
    public static RankEnvironment? From(Func<string, string?> variable)
    {
        string? file = variable(RendezvousVariable);
        if (string.IsNullOrEmpty(file)) return null;
        int Read(string name, int min)
        {
            string? text = variable(name);
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min)
                throw new DistributedError($"{RendezvousVariable} is set, so {name} must be an integer >= {min} (got '{text}')");
            return value;
        }
        int world = Read(WorldSizeVariable, 1), rank = Read(RankVariable, 0);
        int localRank = string.IsNullOrEmpty(variable(LocalRankVariable)) ? rank : Read(LocalRankVariable, 0);
        int localWorld = string.IsNullOrEmpty(variable(LocalWorldSizeVariable)) ? world : Read(LocalWorldSizeVariable, 1);
        if (rank >= world) throw new DistributedError($"{RankVariable} {rank} is not below {WorldSizeVariable} {world}");
        if (localRank >= localWorld) throw new DistributedError($"{LocalRankVariable} {localRank} is not below {LocalWorldSizeVariable} {localWorld}");
        return new RankEnvironment(rank, world, localRank, localWorld, file, variable(RunIdVariable) ?? "");
    }
}
