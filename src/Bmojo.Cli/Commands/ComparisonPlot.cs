using System.Globalization;
using Bmojo.Cli.Tasks;
using ScottPlot;

namespace Bmojo.Cli.Commands;

/// <summary>The comparison's two plots: accuracy against key-value pairs (a line per architecture and sequence
/// length), and accuracy against the memory each keeps per sequence in floats (the paper's axis; log scale), a point
/// per architecture and setting, a line through each architecture's settings. Both: the y-axis fitted to the data
/// (0 at the floor, up to 105% only when some model gets there), a dashed line at chance, the budget in the title.</summary>
internal static class ComparisonPlot
{
    public const string AccuracyFile = "mqar-accuracy.png";
    public const string MemoryFile = "mqar-accuracy-vs-memory.png";

    /// <summary>MQAR's chance accuracy in percent: a guess among the value tokens (the upper half of the vocabulary,
    /// 32 of 64 for the tiny specs: 3.1%).</summary>
    public static double ChancePercent(int vocab) => 100.0 / Math.Max(1, vocab - vocab / 2);

    /// <summary>The top of the accuracy axis (percent): the highest accuracy or chance with a tenth of headroom, up to
    /// a multiple of 5 (at least 5), at most 105 (the fixed axis of a plot where some model is near 100%).</summary>
    public static double TopOfAxis(IEnumerable<double> accuraciesPercent, double chancePercent)
    {
        double highest = accuraciesPercent.Where(double.IsFinite).Append(chancePercent).Max();
        double top = Math.Ceiling(highest * 1.1 / 5) * 5;
        return Math.Clamp(top, 5, 105);
    }

    /// <summary>Title and, on a second line, the budget every model trained with.</summary>
    public static string Title(IReadOnlyList<MqarConfig> grid, string budget)
    {
        int[] seqLens = grid.Select(c => c.SeqLen).Distinct().Order().ToArray();
        string title = seqLens.Length == 1 ? $"MQAR, sequence length {seqLens[0]}" : "MQAR";
        return budget.Length == 0 ? title : $"{title}\n{budget}";
    }

    /// <summary>The budget line: <c>200 steps x batch 16 = 3,200 sequences per model</c>, or on a per-setting grid
    /// <c>64 epochs of 100,000 examples per setting</c>.</summary>
    public static string Budget(Training.TrainingOptions options, bool perSetting, int? epochs)
    {
        if (perSetting)
            return $"{(epochs is int e ? $"{e} epochs of " : "")}{options.TrainExamples.ToString("N0", CultureInfo.InvariantCulture)} examples per setting and model";
        return $"{options.Steps.ToString("N0", CultureInfo.InvariantCulture)} steps x batch {options.Batch} = " +
               $"{((long)options.Steps * options.Batch).ToString("N0", CultureInfo.InvariantCulture)} sequences per model";
    }

    /// <summary>Chance in percent as a label: one decimal (3.1), or two significant digits below 1% (0.024).</summary>
    public static string ChanceText(int vocab)
    {
        double chance = ChancePercent(vocab);
        return chance >= 1 ? chance.ToString("0.#", CultureInfo.InvariantCulture) : chance.ToString("G2", CultureInfo.InvariantCulture);
    }

    private static void Chance(Plot plot, IReadOnlyList<int> vocabs)
    {
        foreach (int vocab in vocabs.Distinct().Order())
        {
            var line = plot.Add.HorizontalLine(ChancePercent(vocab));
            line.LinePattern = LinePattern.Dashed;
            line.LineWidth = 1;
            line.Color = Colors.Gray;
            line.LegendText = $"chance ({ChanceText(vocab)}%: 1 of {vocab - vocab / 2} values{(vocabs.Distinct().Count() > 1 ? $", vocab {vocab}" : "")})";
        }
    }

    public static void Save(string path, IReadOnlyList<ComparisonEntry> comparison, IReadOnlyList<MqarConfig> grid) =>
        Save(path, comparison, grid, [], "");

    public static void Save(string path, IReadOnlyList<ComparisonEntry> comparison, IReadOnlyList<MqarConfig> grid,
                            IReadOnlyList<int> vocabs, string budget)
    {
        var plot = new Plot();
        int[] seqLens = grid.Select(c => c.SeqLen).Distinct().Order().ToArray();
        // A grid with one kv per length (zoology) draws one line per model across the settings.
        bool onePerLength = seqLens.All(l => grid.Count(c => c.SeqLen == l) == 1);
        foreach (ComparisonEntry entry in comparison)
            foreach (int[] lengths in onePerLength ? [seqLens] : seqLens.Select(l => new[] { l }))
            {
                var points = entry.Accuracy.Where(r => lengths.Contains(r.Config.SeqLen)).OrderBy(r => r.Config.KvPairs).ToList();
                if (points.Count == 0) continue;
                var line = plot.Add.Scatter(points.Select(r => Math.Log2(r.Config.KvPairs)).ToArray(), points.Select(r => 100 * r.Accuracy).ToArray());
                line.LegendText = seqLens.Length == 1 || onePerLength ? entry.Model : $"{entry.Model} (L {lengths[0]})";
                line.LineWidth = 2;
                line.MarkerSize = 7;
            }
        int[] kvs = grid.Select(c => c.KvPairs).Distinct().Order().ToArray();
        plot.Axes.Bottom.SetTicks(kvs.Select(k => Math.Log2(k)).ToArray(),
                                  kvs.Select(k => onePerLength ? $"{k} (L {grid.First(c => c.KvPairs == k).SeqLen})" : k.ToString()).ToArray());
        Chance(plot, vocabs);
        plot.Axes.Bottom.Label.Text = "key-value pairs (log2 scale)";
        plot.Axes.Left.Label.Text = "accuracy (%)";
        plot.Axes.Title.Label.Text = Title(grid, budget);
        plot.Axes.SetLimitsY(0, TopOfAxis(comparison.SelectMany(e => e.Accuracy).Select(r => 100 * r.Accuracy),
                                          vocabs.Count == 0 ? 0 : vocabs.Max(ChancePercent)));
        plot.ShowLegend(Edge.Right);
        plot.SavePng(path, 1200, 620);
    }

    public static void SaveMemory(string path, IReadOnlyList<ComparisonEntry> comparison) => SaveMemory(path, comparison, [], "");

    public static void SaveMemory(string path, IReadOnlyList<ComparisonEntry> comparison, IReadOnlyList<int> vocabs, string budget)
    {
        var plot = new Plot();
        foreach (ComparisonEntry entry in comparison)
        {
            var points = entry.Accuracy.OrderBy(r => r.Config.SeqLen).ThenBy(r => r.Config.KvPairs).ToList();
            if (points.Count == 0) continue;
            var line = plot.Add.Scatter(points.Select(r => Math.Log10(r.MemoryFloatsPerSequence)).ToArray(), points.Select(r => 100 * r.Accuracy).ToArray());
            line.LegendText = entry.Model;
            line.LineWidth = 1;
            line.MarkerSize = 8;
        }
        double[] decades = comparison.SelectMany(e => e.Accuracy).Select(r => Math.Floor(Math.Log10(Math.Max(1, r.MemoryFloatsPerSequence))))
            .Concat(comparison.SelectMany(e => e.Accuracy).Select(r => Math.Ceiling(Math.Log10(Math.Max(1, r.MemoryFloatsPerSequence)))))
            .Distinct().Order().ToArray();
        plot.Axes.Bottom.SetTicks(decades, decades.Select(d => $"1e{d:F0}").ToArray());
        plot.Axes.Bottom.Label.Text = "inference memory per sequence (floats, log scale; state + kept keys/values)";
        plot.Axes.Left.Label.Text = "accuracy (%)";
        Chance(plot, vocabs);
        string title = "MQAR accuracy vs memory (each point: a setting; attention's memory grows with L)";
        plot.Axes.Title.Label.Text = budget.Length == 0 ? title : $"{title}\n{budget}";
        plot.Axes.SetLimitsY(0, TopOfAxis(comparison.SelectMany(e => e.Accuracy).Select(r => 100 * r.Accuracy),
                                          vocabs.Count == 0 ? 0 : vocabs.Max(ChancePercent)));
        plot.ShowLegend(Edge.Right);
        plot.SavePng(path, 1200, 620);
    }
}
