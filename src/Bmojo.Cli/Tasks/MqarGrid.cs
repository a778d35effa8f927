namespace Bmojo.Cli.Tasks;

/// <summary>The MQAR settings a run trains and evaluates on.</summary>
public enum MqarGridKind
{
    /// <summary>CPU-sized: L = 64, kv in {4, 8, 16}.</summary>
    Small,

    /// <summary>Zoology's sweep: L in {64, 128, 256, 512}, kv in {4, 8, ..., 128}, every pair with 4·kv &lt;= L.</summary>
    Standard,

    /// <summary>Zoology's figure 2 (HazyResearch/zoology, <c>iclr24_zoology_figure2</c>): (L, kv) = (64, 4), (128, 8),
    /// (256, 16), (512, 64), (1024, 256), each trained and evaluated on its own (a sweep cell), vocabulary 8,192.</summary>
    Zoology,
}

public static class MqarGrid
{
    /// <summary>True where each setting is a run of its own (Zoology trains one model per (L, kv)); false where one
    /// run trains on all settings, drawing one per step.</summary>
    public static bool PerSetting(MqarGridKind kind) => kind == MqarGridKind.Zoology;

    /// <summary>Zoology's batch size for a sequence length: 512 up to L 128, then 256, 128, 64 (fixed tokens a step).</summary>
    public static int ZoologyBatch(int seqLen) => seqLen switch { <= 128 => 512, <= 256 => 256, <= 512 => 128, _ => 64 };

    /// <summary>"64x4,64x8" as settings, or null when the text is not such a list.</summary>
    public static IReadOnlyList<MqarConfig>? Parse(string text)
    {
        var settings = new List<MqarConfig>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            string[] lk = part.Split('x');
            if (lk.Length != 2 || !int.TryParse(lk[0], out int seqLen) || !int.TryParse(lk[1], out int kv) || seqLen <= 0 || kv <= 0) return null;
            settings.Add(new MqarConfig(seqLen, kv));
        }
        return settings.Count == 0 || settings.Distinct().Count() != settings.Count ? null : settings;
    }

    public static IReadOnlyList<MqarConfig> Of(MqarGridKind kind) => kind switch
    {
        MqarGridKind.Small => [new(64, 4), new(64, 8), new(64, 16)],
        MqarGridKind.Standard =>
            (from seqLen in new[] { 64, 128, 256, 512 }
             from kv in new[] { 4, 8, 16, 32, 64, 128 }
             where 4 * kv <= seqLen
             select new MqarConfig(seqLen, kv)).ToList(),
        MqarGridKind.Zoology => [new(64, 4), new(128, 8), new(256, 16), new(512, 64), new(1024, 256)],
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
