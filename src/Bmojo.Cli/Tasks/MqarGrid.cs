namespace Bmojo.Cli.Tasks;

/// <summary>The MQAR settings a run trains and evaluates on.</summary>
public enum MqarGridKind
{
    /// <summary>CPU-sized: L = 64, kv in {4, 8, 16}.</summary>
    Small,

    /// <summary>Zoology's sweep: L in {64, 128, 256, 512}, kv in {4, 8, ..., 128}, every pair with 4·kv &lt;= L.</summary>
    Standard,
}

public static class MqarGrid
{
    public static IReadOnlyList<MqarConfig> Of(MqarGridKind kind) => kind switch
    {
        MqarGridKind.Small => [new(64, 4), new(64, 8), new(64, 16)],
        MqarGridKind.Standard =>
            (from seqLen in new[] { 64, 128, 256, 512 }
             from kv in new[] { 4, 8, 16, 32, 64, 128 }
             where 4 * kv <= seqLen
             select new MqarConfig(seqLen, kv)).ToList(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
