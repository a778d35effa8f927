using System.Text.Json;
using System.Text.Json.Serialization;
using Bmojo.Cli.Training;

namespace Bmojo.Cli.Commands;

/// <summary>One architecture's line of a comparison.</summary>
public sealed record ComparisonEntry(
    string Model,
    string Origin,
    long Parameters,
    long MemoryFloatsPerSequence,
    double WallSeconds,
    double TokensPerSecond,
    IReadOnlyList<EvalResult> Accuracy);

/// <summary>What <c>compare</c> writes to results.json.</summary>
public sealed record ComparisonReport(string Task, TrainingOptions Options, int MemorySeqLen, IReadOnlyList<ComparisonEntry> Models)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
