using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;

namespace Bmojo.Cli.Commands;

/// <summary>One training run of a comparison: a model, the setting it trains on (a cell of a per-setting grid, or
/// null: the whole grid), a learning rate and a seed.</summary>
public sealed record SweepRun(ModelDefinition Model, MqarConfig? Cell, TrainingOptions Options, double EarlyStop, int EvalEvery)
{
    public string Key => RunKey(Model.Name, Cell, Options.LearningRate, Options.Seed);

    public static string RunKey(string model, MqarConfig? cell, double lr, long seed) =>
        string.Create(CultureInfo.InvariantCulture, $"{model}|{(cell is null ? "grid" : $"L{cell.SeqLen}-kv{cell.KvPairs}")}|lr{lr:R}|seed{seed}");

    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Model.Name} {(Cell is null ? "" : $"L {Cell.SeqLen} kv {Cell.KvPairs} ")}lr {Options.LearningRate:G3} seed {Options.Seed}");
}

/// <summary>A finished run, as runs.json keeps it.</summary>
public sealed record RunRecord(
    string Key,
    string Model,
    string Origin,
    long Parameters,
    MqarConfig? Cell,
    double LearningRate,
    long Seed,
    int Steps,
    int PlannedSteps,
    bool StoppedEarly,
    double WallSeconds,
    long Tokens,
    IReadOnlyList<EvalResult> Accuracy);

/// <summary>A run stopped by --time-limit or Ctrl-C: its checkpoint (a file in the output folder) and what it had
/// spent so far.</summary>
public sealed record PartialRun(string Key, string Checkpoint, double WallSeconds, long Tokens);

/// <summary>runs.json: what a comparison was asked (its plan, compared on --resume), the finished runs and the
/// stopped one. Written atomically after every run.</summary>
public sealed record SweepState(JsonObject Plan, List<RunRecord> Runs, List<PartialRun> Partial)
{
    public const string FileName = "runs.json";

    public static SweepState? Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<SweepState>(File.ReadAllText(path), ComparisonReport.Json)
                   ?? throw new UserError($"'{path}' is empty");
        }
        catch (JsonException e)
        {
            throw new UserError($"'{path}' is not a comparison's runs.json: {e.Message}");
        }
    }

    public void Write(string directory) =>
        AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, ComparisonReport.Json));
}

/// <summary>The runs a compare command asks for, in the order they run: setting by setting (smallest first), then
/// learning rate, seed and model, so a comparison stopped early has every model at the settings it reached.</summary>
public static class SweepPlanner
{
    public static (IReadOnlyList<SweepRun> Runs, JsonObject Plan) Plan(CompareSettings settings, IReadOnlyList<ModelDefinition> models)
    {
        TrainingOptions defaults = CompareSettings.Defaults(settings);
        MqarGridKind grid = defaults.Grid;
        IReadOnlyList<double> lrs = settings.LearningRates(settings.LearningRate ?? defaults.LearningRate);
        long firstSeed = settings.Seed ?? defaults.Seed;
        IReadOnlyList<long> seeds = Enumerable.Range(0, settings.Seeds).Select(i => firstSeed + i).ToList();
        var runs = new List<SweepRun>();
        var plan = new JsonObject
        {
            ["task"] = settings.Task.ToLowerInvariant(),
            ["grid"] = grid.ToString().ToLowerInvariant(),
            ["learning_rates"] = new JsonArray(lrs.Select(lr => (JsonNode?)JsonValue.Create(lr)).ToArray()),
            ["seeds"] = new JsonArray(seeds.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
            ["dtype"] = (Placement.ParsePrecision(settings.Dtype) ?? Precision.Fp32).ToString().ToLowerInvariant(),
        };
        IReadOnlyList<MqarConfig?> cells = MqarGrid.PerSetting(grid)
            ? (settings.Mqar is string list ? MqarGrid.Parse(list)! : MqarGrid.Of(grid)).Select(c => (MqarConfig?)c).ToList()
            : [null];
        foreach (MqarConfig? cell in cells)
        {
            TrainingOptions cellOptions = CellOptions(settings, defaults, cell, out double earlyStop, out int evalEvery);
            plan[cell is null ? "options" : $"options_L{cell.SeqLen}_kv{cell.KvPairs}"] =
                JsonSerializer.SerializeToNode(cellOptions with { LearningRate = 0, Seed = 0 }, ComparisonReport.Json);
            plan[cell is null ? "early_stop" : $"early_stop_L{cell.SeqLen}"] = earlyStop;
            plan[cell is null ? "eval_every" : $"eval_every_L{cell.SeqLen}"] = evalEvery;
            foreach (double lr in lrs)
                foreach (long seed in seeds)
                    foreach (ModelDefinition model in models)
                        runs.Add(new SweepRun(model, cell, cellOptions with { LearningRate = lr, Seed = seed }, earlyStop, evalEvery));
        }
        if (runs.Select(r => r.Key).Distinct().Count() != runs.Count)
            throw new UserError("compare got the same model twice: " + string.Join(", ", models.GroupBy(m => m.Name).Where(g => g.Count() > 1).Select(g => g.Key)));
        return (runs, plan);
    }

    /// <summary>The options of one cell's runs (learning rate and seed set per run).</summary>
    private static TrainingOptions CellOptions(CompareSettings s, TrainingOptions d, MqarConfig? cell, out double earlyStop, out int evalEvery)
    {
        if (cell is null)
        {
            TrainingOptions options = SettingsRules.Options(s, d);
            earlyStop = s.EarlyStop ?? 0;
            evalEvery = s.EvalEvery ?? 0;
            return options;
        }
        int batch = s.Batch ?? MqarGrid.ZoologyBatch(cell.SeqLen);
        int examples = s.TrainExamples ?? d.TrainExamples;
        if (examples > 0 && examples < batch) throw new UserError($"--train-examples ({examples}) must be at least the batch ({batch} at L {cell.SeqLen})");
        int epochSteps = examples > 0 ? examples / batch : 0;
        int epochs = s.Epochs ?? CompareSettings.ZoologyEpochs;
        int steps = s.Steps ?? (epochSteps > 0 ? checked(epochs * epochSteps) : throw new UserError("--train-examples 0 (a stream) needs --steps on a per-setting grid"));
        var cellOptions = d with
        {
            Steps = steps,
            Batch = batch,
            WarmupSteps = s.Warmup ?? Math.Min(60, steps / 10),
            WeightDecay = s.WeightDecay ?? d.WeightDecay,
            EvalExamples = s.EvalExamples ?? d.EvalExamples,
            TrainExamples = examples,
            Cell = cell,
            RandomNonQueries = SettingsRules.Filler(s) ?? d.RandomNonQueries,
        };
        if (cellOptions.Check() is string problem) throw new UserError(problem);
        earlyStop = s.EarlyStop ?? 0.99;
        evalEvery = s.EvalEvery ?? (epochSteps > 0 ? epochSteps : Math.Max(1, steps / 10));
        return cellOptions;
    }

    /// <summary>The keys whose values differ between two plans, "key: old -> new".</summary>
    public static IReadOnlyList<string> Differences(JsonObject saved, JsonObject now)
    {
        var keys = saved.Select(kv => kv.Key).Union(now.Select(kv => kv.Key)).ToList();
        return keys.Where(k => !JsonNode.DeepEquals(saved[k], now[k]))
            .Select(k => $"{k}: {saved[k]?.ToJsonString() ?? "none"} -> {now[k]?.ToJsonString() ?? "none"}")
            .ToList();
    }
}

/// <summary>Text files written whole or not at all (temporary file, flush, rename).</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
