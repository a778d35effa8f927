using Bmojo.Cli.Tasks;
using ScottPlot;

namespace Bmojo.Cli.Commands;

/// <summary>The comparison's two plots: accuracy against key-value pairs (a line per architecture and sequence
/// length), and accuracy against the memory each keeps per sequence in floats (the paper's axis; log scale), a point
/// per architecture and setting, a line through each architecture's settings.</summary>
internal static class ComparisonPlot
{
    public const string AccuracyFile = "mqar-accuracy.png";
    public const string MemoryFile = "mqar-accuracy-vs-memory.png";

    public static void Save(string path, IReadOnlyList<ComparisonEntry> comparison, IReadOnlyList<MqarConfig> grid)
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
        plot.Axes.Bottom.Label.Text = "key-value pairs";
        plot.Axes.Left.Label.Text = "accuracy (%)";
        plot.Axes.Title.Label.Text = seqLens.Length == 1 ? $"MQAR, sequence length {seqLens[0]}" : "MQAR";
        plot.Axes.SetLimitsY(0, 105);
        plot.ShowLegend(Alignment.LowerLeft);
        plot.SavePng(path, 1000, 620);
    }

    public static void SaveMemory(string path, IReadOnlyList<ComparisonEntry> comparison)
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
        plot.Axes.Title.Label.Text = "MQAR accuracy vs memory (each point: a setting; attention's memory grows with L)";
        plot.Axes.SetLimitsY(0, 105);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 1000, 620);
    }
}
