using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;

namespace Bmojo.Cli.Commands;

/// <summary>A model's accuracy at one evaluated setting: over the seeds of its best learning rate (the one with the
/// highest mean, as Zoology reports the best run per cell).</summary>
/// <param name="Config">The setting evaluated.</param>
/// <param name="Accuracy">Mean over the seeds.</param>
/// <param name="Std">Sample standard deviation over the seeds (0 for one seed).</param>
/// <param name="Min">The worst seed.</param>
/// <param name="Max">The best seed.</param>
/// <param name="Seeds">How many seeds finished.</param>
/// <param name="LearningRate">The best learning rate.</param>
/// <param name="Loss">Mean held-out loss at the answers.</param>
/// <param name="MemoryFloatsPerSequence">What the model keeps per sequence at inference at this setting's length.</param>
/// <param name="Better">True when this model is the best here and every seed of it beats every seed of every other model.</param>
public sealed record CellSummary(
    MqarConfig Config,
    double Accuracy,
    double Std,
    double Min,
    double Max,
    int Seeds,
    double LearningRate,
    double Loss,
    long MemoryFloatsPerSequence,
    bool Better);

/// <summary>One architecture's line of a comparison.</summary>
public sealed record ComparisonEntry(
    string Model,
    string Origin,
    long Parameters,
    long MemoryFloatsPerSequence,
    double WallSeconds,
    double TokensPerSecond,
    IReadOnlyList<CellSummary> Accuracy);

/// <summary>What <c>compare</c> writes to results.json: the plan, the summary per model and every run, and what the
/// plots state beside the data (the models' vocabularies, for the chance line, and the budget line), so that
/// <c>bmojo plot</c> draws them again from this file alone.</summary>
public sealed record ComparisonReport(
    string Task,
    TrainingOptions Options,
    JsonObject Plan,
    string Device,
    int MemorySeqLen,
    int RunsFinished,
    int RunsPlanned,
    IReadOnlyList<ComparisonEntry> Models,
    IReadOnlyList<RunRecord> Runs,
    IReadOnlyList<int> Vocabs,
    string Budget)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The per-model summaries of the finished runs, models in the order given.</summary>
    public static IReadOnlyList<ComparisonEntry> Summarize(IReadOnlyList<ModelDefinition> models, IReadOnlyList<RunRecord> runs,
                                                           IReadOnlyList<MqarConfig> grid, int memorySeqLen)
    {
        var cells = new Dictionary<(string Model, MqarConfig Config), (CellSummary Summary, double[] Values)>();
        foreach (ModelDefinition model in models)
            foreach (MqarConfig config in grid)
            {
                var byLr = runs.Where(r => r.Model == model.Name)
                    .SelectMany(r => r.Accuracy.Where(a => a.Config == config).Select(a => (r.LearningRate, a)))
                    .GroupBy(x => x.LearningRate)
                    .Select(g => (Lr: g.Key, Values: g.Select(x => x.a.Accuracy).ToArray(), Loss: g.Average(x => x.a.Loss)))
                    .ToList();
                if (byLr.Count == 0) continue;
                var best = byLr.OrderByDescending(g => g.Values.Average()).ThenBy(g => g.Lr).First();
                double[] v = best.Values;
                double mean = v.Average();
                double std = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
                cells[(model.Name, config)] = (new CellSummary(config, mean, std, v.Min(), v.Max(), v.Length, best.Lr, best.Loss,
                                                               MemoryBudget.Total(model.Settings, config.SeqLen), false), v);
            }
        // "Better": the best mean at a setting, only when its worst seed beats every other model's best seed (two
        // seeds at least on each side); a single seed never separates models.
        foreach (MqarConfig config in grid)
        {
            var here = cells.Where(kv => kv.Key.Config == config).OrderByDescending(kv => kv.Value.Summary.Accuracy).ToList();
            if (here.Count < 2) continue;
            var top = here[0];
            bool separated = here.Skip(1).All(other => top.Value.Summary.Seeds >= 2 && other.Value.Summary.Seeds >= 2 &&
                                                       top.Value.Summary.Min > other.Value.Summary.Max);
            if (separated) cells[top.Key] = (top.Value.Summary with { Better = true }, top.Value.Values);
        }
        return models.Select(model =>
        {
            List<RunRecord> own = runs.Where(r => r.Model == model.Name).ToList();
            double wall = own.Sum(r => r.WallSeconds);
            return new ComparisonEntry(model.Name, model.Origin, model.ParameterCount, MemoryBudget.Total(model.Settings, memorySeqLen), wall,
                                       wall > 0 ? own.Sum(r => r.Tokens) / wall : 0,
                                       grid.Where(c => cells.ContainsKey((model.Name, c))).Select(c => cells[(model.Name, c)].Summary).ToList());
        }).ToList();
    }

    /// <summary>results.csv: one line per finished run and evaluated setting.</summary>
    public static string Csv(IReadOnlyList<ModelDefinition> models, IReadOnlyList<RunRecord> runs)
    {
        var text = new StringBuilder("model,parameters,seq_len,kv_pairs,memory_floats_per_sequence,learning_rate,seed,accuracy,loss," +
                                     "steps,planned_steps,stopped_early,wall_seconds,tokens_per_second,trained_on\n");
        foreach (RunRecord run in runs)
        {
            ModelDefinition? model = models.FirstOrDefault(m => m.Name == run.Model);
            foreach (EvalResult result in run.Accuracy)
                text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"{run.Model},{run.Parameters},{result.Config.SeqLen},{result.Config.KvPairs}," +
                    $"{(model is null ? "" : MemoryBudget.Total(model.Settings, result.Config.SeqLen))},{run.LearningRate:R},{run.Seed}," +
                    $"{result.Accuracy:R},{result.Loss:R},{run.Steps},{run.PlannedSteps},{(run.StoppedEarly ? "true" : "false")}," +
                    $"{run.WallSeconds:F2},{(run.WallSeconds > 0 ? run.Tokens / run.WallSeconds : 0):F0}," +
                    $"{(run.Cell is null ? "grid" : $"L{run.Cell.SeqLen}-kv{run.Cell.KvPairs}")}"));
        }
        return text.ToString();
    }
}
