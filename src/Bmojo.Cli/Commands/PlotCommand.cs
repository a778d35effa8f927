using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bmojo.Cli.Lm;
using Bmojo.Cli.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

public sealed class PlotSettings : CommandSettings
{
    [CommandArgument(0, "<DIR>")]
    [Description("Output folders of compare (holding results.json) or of train/eval --task lm (holding training.csv and/or eval.csv).")]
    public string[] Directories { get; init; } = [];

    [CommandOption("--out <DIR>")]
    [Description("With two or more LM folders: also draw them side by side here (lm-validation.png, lm-length.png).")]
    [ShownDefault("none: each folder's own plots only")]
    public string? Out { get; init; }

    [CommandOption("--vocab <V>")]
    [Description("The models' vocabulary, for the MQAR chance line, where results.json does not record it (files of bmojo before 2026-12-03).")]
    [ShownDefault("results.json's")]
    public int? Vocab { get; init; }

    [CommandOption("--budget <TEXT>")]
    [Description("The MQAR budget line under the title, where results.json does not record it.")]
    [ShownDefault("results.json's")]
    public string? Budget { get; init; }

    public override ValidationResult Validate() =>
        Vocab is <= 1 ? ValidationResult.Error($"--vocab must be at least 2 (got {Vocab})") : ValidationResult.Success();
}

/// <summary><c>bmojo plot DIR...</c>: draws the plots of finished runs again from the files they wrote, without
/// training: a comparison's two MQAR plots from its <c>results.json</c>, an LM run's <c>perplexity.png</c> from its
/// <c>training.csv</c> and <c>length-curve.png</c> from its <c>eval.csv</c>, and (<c>--out</c>) several LM runs side by
/// side. For results made where no fonts are installed (the GPU machine's plots have no text), or after a change of
/// the plots' code.</summary>
public sealed class PlotCommand(IAnsiConsole output) : Command<PlotSettings>
{
    public const string ValidationComparisonFile = "lm-validation.png";
    public const string LengthComparisonFile = "lm-length.png";

    public override int Execute(CommandContext context, PlotSettings settings, CancellationToken cancellation)
    {
        var lmRuns = new List<(string Name, string Directory)>();
        foreach (string directory in settings.Directories)
        {
            if (File.Exists(directory)) throw new UserError($"'{directory}' is a file; give the folder a run wrote (compare --out, train --out)");
            if (!System.IO.Directory.Exists(directory)) throw new UserError($"{directory}: no such folder");
            string json = Path.Combine(directory, "results.json");
            if (File.Exists(json)) PlotComparison(directory, json, settings);
            else if (File.Exists(Path.Combine(directory, "training.csv")) || File.Exists(Path.Combine(directory, "eval.csv")))
                lmRuns.Add((PlotLm(directory), directory));
            else
                throw new UserError($"{directory}: nothing to plot (no results.json of compare, no training.csv or eval.csv of train/eval --task lm)");
        }
        if (settings.Out is string outDir)
        {
            if (lmRuns.Count < 2) throw new UserError("--out draws two or more LM runs side by side; give their folders");
            PlotLmComparison(outDir, lmRuns);
        }
        return 0;
    }

    private void PlotComparison(string directory, string json, PlotSettings settings)
    {
        (IReadOnlyList<ComparisonEntry> models, IReadOnlyList<int> recordedVocabs, string? recordedBudget) = Read(json);
        IReadOnlyList<int> vocabs = settings.Vocab is int v ? [v] : recordedVocabs;
        string budget = settings.Budget ?? recordedBudget ?? "";
        IReadOnlyList<MqarConfig> grid = models.SelectMany(m => m.Accuracy.Select(a => a.Config)).Distinct()
            .OrderBy(c => c.SeqLen).ThenBy(c => c.KvPairs).ToList();
        if (grid.Count == 0) throw new UserError($"{json}: no finished runs to plot");
        string plot = Path.Combine(directory, ComparisonPlot.AccuracyFile), memory = Path.Combine(directory, ComparisonPlot.MemoryFile);
        ComparisonPlot.Save(plot, models, grid, vocabs, budget);
        ComparisonPlot.SaveMemory(memory, models, vocabs, budget);
        output.MarkupLine(Markup.Escape($"wrote {plot} and {memory} ({models.Count} models, {grid.Count} settings)"));
    }

    /// <summary>Redraws one LM run's plots; returns the model's name (eval.csv's, else the folder's).</summary>
    private string PlotLm(string directory)
    {
        string name = Path.GetFileName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar));
        string training = Path.Combine(directory, "training.csv"), evaluation = Path.Combine(directory, "eval.csv");
        var written = new List<string>();
        if (File.Exists(evaluation))
        {
            (string model, IReadOnlyList<LengthPerplexity> results) = ReadCsv(evaluation, LmPlots.ReadEvaluation);
            if (model.Length > 0) name = model;
            if (results.FirstOrDefault(r => r.Multiple == 1) is LengthPerplexity trained)
            {
                LmPlots.SaveEvaluation(Path.Combine(directory, "length-curve.png"), name, trained.Length, results);
                written.Add(Path.Combine(directory, "length-curve.png"));
            }
        }
        if (File.Exists(training) && ReadCsv(training, LmPlots.ReadTraining) is { Count: > 0 } points)
        {
            LmPlots.SaveTraining(Path.Combine(directory, "perplexity.png"), name, points);
            written.Add(Path.Combine(directory, "perplexity.png"));
        }
        if (written.Count == 0) throw new UserError($"{directory}: its training.csv and eval.csv have no rows to plot");
        output.MarkupLine(Markup.Escape($"wrote {string.Join(" and ", written)}"));
        return name;
    }

    private void PlotLmComparison(string outDir, IReadOnlyList<(string Name, string Directory)> runs)
    {
        System.IO.Directory.CreateDirectory(outDir);
        var validation = runs.Where(r => File.Exists(Path.Combine(r.Directory, "training.csv")))
            .Select(r => (r.Name, ReadCsv(Path.Combine(r.Directory, "training.csv"), LmPlots.ReadTraining))).Where(r => r.Item2.Count > 0).ToList();
        var written = new List<string>();
        if (validation.Count > 0)
        {
            string path = Path.Combine(outDir, ValidationComparisonFile);
            LmPlots.SaveValidationComparison(path, "validation perplexity during training", validation);
            written.Add(path);
        }
        // The length curves at the longest length every run evaluated, through the full forward.
        var evaluations = runs.Where(r => File.Exists(Path.Combine(r.Directory, "eval.csv")))
            .Select(r => (r.Name, ReadCsv(Path.Combine(r.Directory, "eval.csv"), LmPlots.ReadEvaluation).Results)).ToList();
        int[] common = evaluations.Count == 0 ? [] : evaluations
            .Select(e => e.Results.Where(x => x.Path == "full").Select(x => x.Multiple))
            .Aggregate((a, b) => a.Intersect(b)).ToArray();
        if (common.Length > 0)
        {
            int multiple = common.Max();
            var curves = evaluations.Select(e => (e.Name, e.Results.First(x => x.Path == "full" && x.Multiple == multiple))).ToList();
            int trainLength = curves[0].Item2.Length / multiple;
            string path = Path.Combine(outDir, LengthComparisonFile);
            LmPlots.SaveLengthCurve(path, $"perplexity by position at {multiple}x the training length {trainLength} (full forward)", trainLength, curves);
            written.Add(path);
        }
        if (written.Count == 0) throw new UserError("the LM folders have no training.csv or eval.csv rows in common to draw side by side");
        output.MarkupLine(Markup.Escape($"wrote {string.Join(" and ", written)}"));
    }

    private static T ReadCsv<T>(string csv, Func<string, T> read)
    {
        try
        {
            return read(csv);
        }
        catch (FormatException e)
        {
            throw new UserError($"{csv}: not a file bmojo wrote ({e.Message})");
        }
    }

    /// <summary>The per-model summaries of a results.json that compare wrote, with its vocabularies and budget line
    /// (empty and null in files that predate them); a clear error for anything else.</summary>
    public static (IReadOnlyList<ComparisonEntry> Models, IReadOnlyList<int> Vocabs, string? Budget) Read(string json)
    {
        try
        {
            JsonNode? root = JsonNode.Parse(File.ReadAllText(json));
            List<ComparisonEntry> models = root?["models"]?.Deserialize<List<ComparisonEntry>>(ComparisonReport.Json)
                                           ?? throw new UserError($"{json}: not a comparison's results (no 'models')");
            List<int> vocabs = root["vocabs"]?.Deserialize<List<int>>(ComparisonReport.Json) ?? [];
            return (models, vocabs, root["budget"]?.GetValue<string>());
        }
        catch (JsonException e)
        {
            throw new UserError($"{json}: not a comparison's results ({e.Message})");
        }
    }
}
